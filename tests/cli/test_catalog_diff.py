"""``pigeon catalog diff``: a table or JSON of the changes, exit 1 for a missing version bump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigeon.catalog import Catalog
from tests.cli.conftest import RunCommand

ARGILLA_TOML = Path(Catalog.load("argilla").source).read_text(encoding="utf-8")


def edited(tmp_path: Path, *replacements: tuple[str, str], version: str = "2") -> str:
    """A copy of the argilla catalog with ``replacements`` applied; its path."""
    text = ARGILLA_TOML.replace('version = "2"', f'version = "{version}"', 1)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / f"argilla-{version}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


WIDER_RECORDS = ("max = 10_000_000", "max = 20_000_000")
NEW_EVENT = (
    "[events.TrainerUsage]\n",
    '[events.Exported]\npurpose = "Exports."\n\n[events.TrainerUsage]\n',
)


def test_identical_catalogs_exit_0(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("catalog", "diff", "argilla", "argilla")
    assert result.status == 0, result.err
    assert result.out.splitlines()[-1] == "no changes"
    assert result.err == ""


def test_a_widening_without_a_bump_exits_1_and_names_it(
    pigeon_cli: RunCommand, tmp_path: Path
) -> None:
    result = pigeon_cli("catalog", "diff", "argilla", edited(tmp_path, WIDER_RECORDS, NEW_EVENT))
    assert result.status == 1
    rows = [line.split() for line in result.out.splitlines()]
    assert [
        "widened",
        "LogRecordsRequested",
        "records",
        "max",
        "10000000",
        "->",
        "20000000",
    ] in rows
    assert ["added", "Exported", "-", "new", "event:", "Exports."] in rows
    assert result.err.count("\n") == 1
    assert result.err.startswith("pigeon catalog diff: error: added or widened without a catalog")
    assert "LogRecordsRequested.records (widened" in result.err
    assert "Exported (added" in result.err
    assert "Traceback" not in result.err


def test_the_same_change_with_a_new_version_exits_0(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    result = pigeon_cli("catalog", "diff", "argilla", edited(tmp_path, WIDER_RECORDS, version="3"))
    assert result.status == 0, result.err
    assert "widened" in result.out
    assert "version bumped" in result.out


def test_narrowing_and_rewording_without_a_bump_exit_0(
    pigeon_cli: RunCommand, tmp_path: Path
) -> None:
    new = edited(
        tmp_path,
        ("max = 10_000_000", "max = 1_000"),
        ('"peft", ', ""),
        ("Which UI languages are worth translating.", "Which languages to translate."),
    )
    result = pigeon_cli("catalog", "diff", "argilla", new)
    assert result.status == 0, result.err
    kinds = [line.split()[0] for line in result.out.splitlines()[3:] if line.strip()][:-1]
    assert kinds == ["purpose", "narrowed", "narrowed"]


def test_json_is_the_documented_schema(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    both_bounds = ("min = 0\nmax = 10_000_000", "min = -1\nmax = 20_000_000")
    new = edited(tmp_path, both_bounds, ('"peft", ', '"jax", '))
    result = pigeon_cli("catalog", "diff", "--format", "json", "argilla", new)
    assert result.status == 1
    doc = json.loads(result.out)
    assert set(doc) == {
        "schema",
        "old",
        "new",
        "version_bumped",
        "needs_version_bump",
        "compatible",
        "changes",
    }
    assert doc["schema"] == 1
    assert doc["old"]["name"] == doc["new"]["name"] == "argilla"
    assert doc["new"]["source"] == new
    assert doc["version_bumped"] is False
    assert doc["compatible"] is False
    assert doc["needs_version_bump"] == ["LogRecordsRequested.records", "TrainerUsage.framework"]
    assert doc["changes"][1] == {
        "kind": "widened",
        "event": "LogRecordsRequested",
        "property": "records",
        "aspect": "max",
        "old": 10_000_000,
        "new": 20_000_000,
        "detail": "max 10000000 -> 20000000",
    }
    values = [c for c in doc["changes"] if c["aspect"] == "values"]
    assert [c["kind"] for c in values] == ["widened", "narrowed"]
    assert "jax" in values[0]["new"]
    assert "peft" in values[0]["old"]


@pytest.mark.parametrize("side", ["old", "new"])
def test_a_missing_file_is_one_line_and_exit_2(
    pigeon_cli: RunCommand, tmp_path: Path, side: str
) -> None:
    missing = str(tmp_path / "missing.toml")
    args = ["argilla", missing] if side == "new" else [missing, "argilla"]
    result = pigeon_cli("catalog", "diff", *args)
    assert result.status == 2
    assert result.out == ""
    assert result.err == f"pigeon catalog diff: error: {missing}: no catalog file at this path\n"


def test_an_invalid_catalog_is_one_line_and_exit_2(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    bad = edited(tmp_path, ('purpose = "Which client hit the error."\n', ""))
    result = pigeon_cli("catalog", "diff", "argilla", bad)
    assert result.status == 2
    assert result.err.count("\n") == 1
    assert "property 'user-agent': purpose is required" in result.err
    assert "Traceback" not in result.err


def test_the_documented_json_example_is_real(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "catalog.md").read_text(encoding="utf-8")
    example = json.loads(
        docs.split("### `--format json`", 1)[1].split("```json\n")[1].split("```")[0]
    )
    result = pigeon_cli(
        "catalog", "diff", "--format", "json", "argilla", edited(tmp_path, WIDER_RECORDS)
    )
    real = json.loads(result.out)
    for doc in (example, real):
        for side in ("old", "new"):
            del doc[side]["source"]  # where the files are differs
    assert real == example
