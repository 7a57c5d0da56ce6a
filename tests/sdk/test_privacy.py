"""Canaries: user data planted everywhere a careless host might put it never reaches a payload.

A random canary string is planted in dataset names (as values and as keys),
record text, metadata, file paths and exception messages, in undeclared
properties, in declared properties of the wrong type, in enum values and in
nested structures. The payloads are then inspected at every exit: the
synchronous capture, the real sender thread through a memory transport, and
the debug printer.
"""

from __future__ import annotations

import getpass
import json
import platform
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pigeon
from pigeon.testing import MemoryTransport, capture_events
from tests.conftest import clean_subprocess_env


@pytest.fixture
def canary() -> str:
    return f"canary-{secrets.token_hex(8)}"


def planted_calls(canary: str, tmp_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every way a host could try to smuggle user data into an event."""
    try:
        raise ValueError(f"dataset {canary} not found in /home/{canary}/data.csv")
    except ValueError as exc:
        error = exc
    path = tmp_path / canary / "records.jsonl"
    records = [{"text": f"my secret text {canary}", "metadata": {"owner": canary}}]
    return [
        # Undeclared properties: names, records, metadata, paths, messages, objects.
        (
            "LogRecordsRequested",
            {
                "task": "Text2Text",
                "records": 3,
                "dataset": canary,
                canary: 1,
                "records_data": records,
                "metadata": {"owner": canary, "tags": [canary]},
                "path": str(path),
                "file": path,
                "message": str(error),
                "error": error,
            },
        ),
        # Declared properties with the wrong type carrying the canary.
        ("LogRecordsRequested", {"task": "Text2Text", "records": canary}),
        ("LogRecordsRequested", {"task": "Text2Text", "records": [canary]}),
        ("UserInfoRequested", {"is_default_user": canary}),
        ("UserInfoRequested", {"user-agent": {"nested": canary}}),
        ("UserInfoRequested", {"user-agent": [canary]}),
        ("ServerErrorFound", {"code": error}),
        # Enum values: refused without a fallback, replaced with one.
        ("LogRecordsRequested", {"task": canary, "records": 1}),
        ("TrainerUsage", {"framework": canary, "task": f"{canary}-task"}),
        ("TrainerUsage", {"framework": f"transformers {canary}"}),
        # Undeclared events named after user data.
        (canary, {"x": 1}),
        (f"Dataset {canary} deleted", {}),
        # A key that is a dataset name on an event without properties.
        ("ServerStarted", {canary: canary, "name": canary}),
    ]


def assert_clean(payload: str, canary: str) -> None:
    assert canary not in payload
    assert canary[len("canary-") :] not in payload


def test_canaries_never_reach_captured_payloads(tmp_path: Path, canary: str) -> None:
    client = pigeon.Client("argilla", "1.0", transport=MemoryTransport(), home=tmp_path / "h")
    with capture_events() as events:
        for event, properties in planted_calls(canary, tmp_path):
            client.track(event, properties)
    client.shutdown()
    # The canary-free parts of the calls do go through: the test sees real payloads.
    assert [m["event"] for m in events] == [
        "LogRecordsRequested",
        "TrainerUsage",
        "TrainerUsage",
        "ServerStarted",
    ]
    assert events[1]["properties"] == {"framework": "other", "task": "other"}
    assert events[3]["properties"] == {}
    assert_clean(json.dumps(events), canary)


def test_canaries_never_reach_the_transport(tmp_path: Path, canary: str) -> None:
    transport = MemoryTransport()
    client = pigeon.Client("argilla", "1.0", transport=transport, home=tmp_path / "h")
    for event, properties in planted_calls(canary, tmp_path):
        client.track(event, properties)
    assert client.flush(timeout=10)
    client.shutdown()
    assert len(transport.messages) == 4
    raw = "".join(m for batch in transport.batches for m in batch)
    assert_clean(raw, canary)


def test_canaries_never_reach_the_debug_output(
    tmp_path: Path, canary: str, capfd: pytest.CaptureFixture[str]
) -> None:
    client = pigeon.Client(
        "argilla", "1.0", environ={"ARGILLA_TELEMETRY_DEBUG": "1"}, home=tmp_path / "h"
    )
    for event, properties in planted_calls(canary, tmp_path):
        client.track(event, properties)
    assert client.flush(timeout=10)
    client.shutdown()
    err = capfd.readouterr().err
    payloads = [line for line in err.splitlines() if line.startswith("{")]
    assert len(payloads) == 4
    assert_clean("\n".join(payloads), canary)


def test_declared_free_strings_are_bounded(tmp_path: Path, canary: str) -> None:
    """A declared string is sent, but never more than its catalog bound."""
    client = pigeon.Client("argilla", "1.0", transport=MemoryTransport(), home=tmp_path)
    with capture_events() as events:
        client.track("UserInfoRequested", {"accept-language": "x" * 64 + canary})
    client.shutdown()
    assert events.properties("UserInfoRequested") == [{"accept-language": "x" * 64}]


def test_payloads_carry_no_host_user_or_path(tmp_path: Path) -> None:
    home = tmp_path / "the-data-dir"
    client = pigeon.Client("argilla", "1.0", transport=MemoryTransport(), home=home)
    with capture_events() as events:
        client.track("ServerStarted")
    client.shutdown()
    text = json.dumps(events)
    assert str(tmp_path) not in text
    assert "the-data-dir" not in text
    assert str(Path.home()) not in text
    for name in identities():
        assert name not in text


def identities() -> Iterator[str]:
    """Host and user names long enough not to appear by coincidence."""
    for name in {socket.gethostname(), platform.node(), getpass.getuser()}:
        if len(name) >= 5:
            yield name


def test_preview_shows_no_host_user_or_home_path(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pigeon", "preview", "--app", "argilla"],
        env=clean_subprocess_env(XDG_DATA_HOME=str(tmp_path / "xdg")),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    json.loads(result.stdout)
    assert str(Path.home()) not in result.stdout
    assert str(tmp_path) not in result.stdout
    for name in identities():
        assert name not in result.stdout
    user = getpass.getuser()
    assert f'"{user}"' not in result.stdout
    assert f"/{user}/" not in result.stdout
