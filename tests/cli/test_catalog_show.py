"""``pigeon catalog show``: every event and property with its type, bounds and purpose."""

from __future__ import annotations

from pathlib import Path

from pigeon.catalog import Catalog
from tests.cli.conftest import RunCommand

ARGILLA = Catalog.load("argilla")


def test_shows_every_event_property_and_purpose(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("catalog", "show", "argilla")
    assert result.status == 0, result.err
    out = result.out
    assert out.startswith("catalog argilla v2: ")
    for event in ARGILLA.events.values():
        assert f"\n{event.name}\n  purpose: {event.purpose}\n" in out
        for prop in event.properties.values():
            assert f"  - {prop.name}: " in out
            assert f"      purpose: {prop.purpose}\n" in out
    assert "string, at most 256 chars" in out
    assert "integer from 0 to 10,000,000" in out
    assert "unknown -> other" in out
    assert "boolean" in out
    assert "(no properties beyond the context)" in out
    assert "Context sent with every event" in out
    assert "Never sent:" in out


def test_show_by_path(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(
        '[catalog]\nname = "mini"\nversion = "2"\n[events.Ping]\npurpose = "Liveness."\n'
    )
    result = pigeon_cli("catalog", "show", str(path))
    assert result.status == 0
    assert result.out.startswith("catalog mini v2: ")


def test_unknown_catalog_is_one_line_and_exit_2(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("catalog", "show", "nosuch")
    assert result.status == 2
    assert result.out == ""
    assert result.err == (
        "pigeon catalog show: error: unknown catalog 'nosuch' (shipped catalogs: argilla)\n"
    )


def test_malformed_catalog_is_one_line_and_exit_2(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("this is = not = toml")
    result = pigeon_cli("catalog", "show", str(path))
    assert result.status == 2
    assert result.err.count("\n") == 1
    assert "bad.toml: not valid TOML" in result.err
