"""Consent versions: a catalog that adds events or fields is announced again, exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pigeon
from pigeon import _consent as consent
from pigeon.catalog import Catalog
from pigeon.cli import main
from pigeon.testing import MemoryTransport

V1 = """
[catalog]
name = "shop"
version = "1"
description = "Test shop."

[events.Opened]
purpose = "Counts app starts."

[events.Paid]
purpose = "Counts payments."

[events.Paid.properties.method]
type = "enum"
values = ["card", "cash"]
purpose = "Which payment methods are used."
"""

V2 = (
    V1.replace('version = "1"', 'version = "2"')
    + """
[events.Paid.properties.items]
type = "integer"
min = 0
max = 1000
purpose = "How many items one payment covers."

[events.Refunded]
purpose = "Counts refunds."
"""
)


def write_catalog(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"shop-{len(list(tmp_path.glob('shop-*.toml')))}.toml"
    path.write_text(text)
    return path


def make(home: Path, catalog: Path, env: dict[str, str] | None = None) -> pigeon.Client:
    return pigeon.Client(
        "shop",
        "1.0",
        catalog=str(catalog),
        transport=MemoryTransport(),
        home=home,
        environ=env or {},
    )


def sent(client: pigeon.Client) -> list[dict[str, object]]:
    client.track("Opened")
    client.track("Paid", {"method": "card", "items": 3})
    client.track("Refunded")
    assert client.flush(timeout=10)
    transport = client._sender.transport if client._sender else None
    assert isinstance(transport, MemoryTransport)
    client.shutdown(timeout=1)
    return [{"event": m["event"], **m["properties"]} for m in transport.messages]  # type: ignore[dict-item]


def test_the_first_run_records_the_catalog_and_says_so_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = write_catalog(tmp_path, V1)
    make(tmp_path / "home", v1).shutdown(timeout=1)
    assert "collects anonymous usage statistics" in capsys.readouterr().err
    recorded = consent.read(tmp_path / "home")
    assert recorded == consent.Consent("shop", "1", frozenset({"Opened", "Paid", "Paid.method"}))
    make(tmp_path / "home", v1).shutdown(timeout=1)
    assert capsys.readouterr().err == ""


def test_a_catalog_that_adds_is_announced_naming_exactly_what_was_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    make(home, write_catalog(tmp_path, V1)).shutdown(timeout=1)
    capsys.readouterr()
    v2 = write_catalog(tmp_path, V2)
    client = make(home, v2)
    notice = capsys.readouterr().err
    assert "catalog shop v1 -> v2" in notice
    added = [line.strip() for line in notice.splitlines() if line.startswith("  - ")]
    assert added == [
        "- Paid.items: How many items one payment covers.",
        "- Refunded: Counts refunds.",
    ]
    assert sent(client) == [
        {"event": "Opened"},
        {"event": "Paid", "method": "card", "items": 3},
        {"event": "Refunded"},
    ]
    assert consent.read(home) == consent.Consent(
        "shop", "2", consent.catalog_items(Catalog.load(str(v2)))
    )
    make(home, v2).shutdown(timeout=1)
    assert capsys.readouterr().err == ""  # told once


def test_what_was_added_is_withheld_until_the_notice_has_been_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    make(home, write_catalog(tmp_path, V1)).shutdown(timeout=1)
    v2 = write_catalog(tmp_path, V2)
    capsys.readouterr()
    # In CI no notice is printed: telemetry runs only because it was enabled explicitly.
    quiet = make(home, v2, {"CI": "true", "SHOP_ENABLE_TELEMETRY": "1"})
    assert capsys.readouterr().err == ""
    assert sent(quiet) == [{"event": "Opened"}, {"event": "Paid", "method": "card"}]
    recorded = consent.read(home)
    assert recorded is not None
    assert recorded.version == "1"  # not updated: nobody was told
    told = make(home, v2)
    assert "Refunded" in capsys.readouterr().err
    assert sent(told)[1:] == [
        {"event": "Paid", "method": "card", "items": 3},
        {"event": "Refunded"},
    ]


def test_an_install_older_than_consent_records_is_told_everything_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "telemetry_id").write_text("0b0a3cf8-3d3f-4a8e-9a59-0b8a1a2b3c4d\n")
    v1 = write_catalog(tmp_path, V1)
    make(home, v1).shutdown(timeout=1)
    added = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  - ")]
    assert [a.split(":")[0].strip("- ") for a in added] == ["Opened", "Paid", "Paid.method"]
    assert consent.read(home) is not None


def test_a_version_that_only_removes_or_narrows_is_recorded_without_a_notice() -> None:
    v2 = Catalog.from_toml(V2)
    smaller = Catalog.from_toml(V1.replace('version = "1"', 'version = "3"'))
    previous = consent.Consent("shop", "2", consent.catalog_items(v2))
    decision = consent.decide(previous, smaller, first_run=False, can_notify=True)
    assert decision == consent.Decision((), frozenset(), record=True)
    same = consent.decide(previous, v2, first_run=False, can_notify=True)
    assert same == consent.Decision((), frozenset(), record=False)


def test_status_names_the_accepted_and_the_current_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    make(home, write_catalog(tmp_path, V1)).shutdown(timeout=1)
    v2 = write_catalog(tmp_path, V2)
    capsys.readouterr()
    assert main(["status", "--app", "shop", "--catalog", str(v2), "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "catalog:      shop v2" in out
    assert "accepted:     v1" in out
    assert "not yet told: Paid.items, Refunded" in out
    assert (
        main(["status", "--app", "shop", "--catalog", str(v2), "--home", str(home), "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["catalog"]["accepted_version"] == "1"
    assert report["catalog"]["not_yet_notified"] == ["Paid.items", "Refunded"]
