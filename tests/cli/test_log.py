"""``pigeon log``: the local ledger as a table, as JSON and summarised; it creates nothing."""

from __future__ import annotations

import json
from pathlib import Path

from pigeon._ledger import LEDGER_DIRNAME, Ledger
from tests.cli.conftest import RunCommand


def body(*events: str) -> bytes:
    batch = [{"type": "track", "event": e, "properties": {}} for e in events]
    return json.dumps({"batch": batch, "sentAt": "2026-12-02T00:00:00.000Z"}).encode()


def write_ledger(data_home: Path) -> Ledger:
    ledger = Ledger(str(data_home / "argilla" / LEDGER_DIRNAME))
    assert ledger.append(
        body("ServerStarted", "UserInfoRequested", "UserInfoRequested"),
        events=3,
        mode="on",
        endpoint="http://127.0.0.1:8642",
    )
    assert ledger.append(body("ServerStarted"), events=1, mode="local", endpoint="")
    return ledger


def test_the_table_lists_every_batch(pigeon_cli: RunCommand, data_home: Path) -> None:
    write_ledger(data_home)
    result = pigeon_cli("log", "--app", "argilla")
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["time", "(UTC)", "mode", "events", "names", "endpoint"]
    assert "UserInfoRequested x2, ServerStarted" in lines[1]
    assert lines[1].rstrip().endswith("http://127.0.0.1:8642")
    assert " local " in lines[2]
    assert len(lines) == 3


def test_json_gives_each_body_exactly(pigeon_cli: RunCommand, data_home: Path) -> None:
    write_ledger(data_home)
    result = pigeon_cli("log", "--app", "argilla", "--json", "--last", "1")
    assert result.status == 0, result.err
    (line,) = result.out.splitlines()
    entry = json.loads(line)
    assert entry["mode"] == "local"
    assert entry["body"].encode() == body("ServerStarted")


def test_stats_summarise(pigeon_cli: RunCommand, data_home: Path) -> None:
    write_ledger(data_home)
    result = pigeon_cli("log", "--app", "argilla", "--stats", "--json")
    assert result.status == 0, result.err
    stats = json.loads(result.out)
    assert stats["batches"] == 2
    assert stats["events"] == 4
    assert stats["by_event"] == {"ServerStarted": 2, "UserInfoRequested": 2}
    assert stats["by_mode"] == {"on": 1, "local": 1}
    text = pigeon_cli("log", "--app", "argilla", "--stats")
    assert "batches:  2 (4 events" in text.out


def test_an_empty_ledger_is_said_and_nothing_is_created(
    pigeon_cli: RunCommand, data_home: Path
) -> None:
    result = pigeon_cli("log", "--app", "argilla")
    assert result.status == 0, result.err
    assert result.out.startswith("no batch recorded in ")
    assert not data_home.exists()


def test_a_bad_count_is_refused_with_a_message(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("log", "--app", "argilla", "--last", "0")
    assert result.status == 2
    assert "expected at least 1, got 0" in result.err
