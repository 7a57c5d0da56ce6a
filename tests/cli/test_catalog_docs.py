"""``pigeon catalog docs``: the policy page on stdout or in a file, clean failures."""

from __future__ import annotations

from pathlib import Path

from pigeon._policy_page import policy_page
from pigeon.catalog import Catalog
from tests.cli.conftest import RunCommand


def test_prints_the_page(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("catalog", "docs", "argilla")
    assert result.status == 0, result.err
    assert result.out == policy_page(Catalog.load("argilla"))
    assert result.err == ""


def test_writes_the_page_to_a_file(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    target = tmp_path / "telemetry.md"
    result = pigeon_cli("catalog", "docs", "argilla", "--output", str(target))
    assert result.status == 0, result.err
    assert result.out == ""
    assert target.read_bytes() == policy_page(Catalog.load("argilla")).encode()


def test_an_unwritable_output_is_one_line_and_exit_1(
    pigeon_cli: RunCommand, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-dir" / "telemetry.md"
    result = pigeon_cli("catalog", "docs", "argilla", "--output", str(target))
    assert result.status == 1
    assert result.err.startswith(f"pigeon catalog docs: error: {target}: cannot write:")
    assert result.err.count("\n") == 1


def test_an_unknown_catalog_is_one_line_and_exit_2(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("catalog", "docs", "nosuch")
    assert result.status == 2
    assert result.out == ""
    assert result.err.startswith("pigeon catalog docs: error: unknown catalog 'nosuch'")
