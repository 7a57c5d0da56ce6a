"""``pigeon preview``: the exact JSON that would be sent, one message per catalog event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigeon.catalog import Catalog
from tests.cli.conftest import RunCommand

ARGILLA = Catalog.load("argilla")


def test_preview_is_one_valid_batch_with_every_event(
    pigeon_cli: RunCommand, data_home: Path
) -> None:
    result = pigeon_cli("preview", "--app", "argilla", "--app-version", "1.29.0")
    assert result.status == 0, result.err
    batch = json.loads(result.out)
    assert set(batch) == {"batch", "sentAt"}
    messages = batch["batch"]
    assert [m["event"] for m in messages] == list(ARGILLA.events)
    for message in messages:
        assert set(message) == {
            "type",
            "event",
            "properties",
            "anonymousId",
            "messageId",
            "timestamp",
            "context",
        }
        spec = ARGILLA.events[message["event"]]
        assert set(message["properties"]) == set(spec.properties)
        assert ARGILLA.validate(message["event"], message["properties"]).ok
        assert message["anonymousId"] == "00000000-0000-4000-8000-000000000000"
        context = message["context"]
        assert context["app"] == {"name": "argilla", "version": "1.29.0"}
        assert context["catalog"] == {"name": "argilla", "version": "2"}
        assert set(context["runtime"]) == {
            "python_version",
            "system",
            "release",
            "sys_version",
            "machine",
            "platform",
        }
    assert len({m["messageId"] for m in messages}) == len(messages)
    assert not data_home.exists()  # no id file, no directory


def test_preview_uses_the_catalog_examples(pigeon_cli: RunCommand) -> None:
    messages = json.loads(pigeon_cli("preview", "--app", "argilla").out)["batch"]
    by_event = {m["event"]: m["properties"] for m in messages}
    assert by_event["LogRecordsRequested"] == {"task": "TextClassification", "records": 120}
    assert by_event["ServerErrorFound"]["code"] == "argilla.api.errors::EntityNotFoundError"


def test_preview_says_when_telemetry_is_disabled(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("preview", "--app", "argilla", env={"DO_NOT_TRACK": "1"})
    assert result.status == 0
    json.loads(result.out)  # stdout stays pure JSON
    assert "disabled" in result.err
    assert "DO_NOT_TRACK=1" in result.err


def test_preview_enabled_prints_nothing_on_stderr(pigeon_cli: RunCommand) -> None:
    assert pigeon_cli("preview", "--app", "argilla").err == ""


def test_preview_with_a_catalog_path(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(
        '[catalog]\nname = "mini"\nversion = "3"\n'
        '[events.Ping]\npurpose = "Liveness."\n'
        '[events.Ping.properties.n]\ntype = "integer"\nmin = 5\nmax = 9\npurpose = "A count."\n'
    )
    result = pigeon_cli("preview", "--app", "mini", "--catalog", str(path))
    assert result.status == 0, result.err
    [message] = json.loads(result.out)["batch"]
    assert message["properties"] == {"n": 9}
    assert message["context"]["catalog"] == {"name": "mini", "version": "3"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--app", "nosuchapp"], "unknown app 'nosuchapp'"),
        (["--app", "argilla", "--catalog", "missing.toml"], "missing.toml"),
    ],
)
def test_unknown_app_or_catalog(pigeon_cli: RunCommand, args: list[str], needle: str) -> None:
    result = pigeon_cli("preview", *args)
    assert result.status == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert needle in result.err


def test_malformed_catalog_is_one_line(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[catalog]\nname = "b"\nversion = "1"\n[events.E]\n')
    result = pigeon_cli("preview", "--app", "b", "--catalog", str(path))
    assert result.status == 2
    assert result.err.count("\n") == 1
    assert "event 'E': purpose" in result.err
