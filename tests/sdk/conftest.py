"""Fixtures for the sender tests: local collectors on 127.0.0.1 and quick clients."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pigeon
from pigeon._backoff import BackoffPolicy
from pigeon._reporting import _warned
from pigeon._sender import Policy, Sender
from tests.conftest import clean_subprocess_env
from tests.sdk._sink import Blackhole, Sink

REPO = Path(__file__).resolve().parents[2]

QUICK = Policy(
    interval=0.05,
    timeout=1.0,
    exit_timeout=1.0,
    backoff=BackoffPolicy(base=0.05, cap=0.2, attempts=50, long=3600.0, long_cap=86400.0),
)
"""Test timing: batches leave within 50 ms, failed attempts retry within 200 ms."""

ClientFactory = Callable[..., pigeon.Client]


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    """Each test sees the once-per-process warnings afresh."""
    saved = set(_warned)
    _warned.clear()
    yield
    _warned.clear()
    _warned.update(saved)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as server:
        yield server


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    with Blackhole() as server:
        yield server


def sender_of(client: pigeon.Client) -> Sender:
    sender = client._sender
    assert sender is not None
    return sender


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """Build enabled clients with quick timing; each is shut down after the test."""
    made: list[pigeon.Client] = []

    def make(
        endpoint: str = "", *, policy: Policy = QUICK, home: Path | None = None, **kwargs: Any
    ) -> pigeon.Client:
        kwargs.setdefault("environ", {})
        client = pigeon.Client(
            "argilla",
            "1.29.0",
            endpoint=endpoint,
            write_key=kwargs.pop("write_key", "test-key"),
            home=home or tmp_path / f"home-{len(made)}",
            **kwargs,
        )
        assert client.enabled, client.disabled_reason
        sender_of(client).policy = policy
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=0.0)


def records(messages: list[dict[str, Any]]) -> list[int]:
    """The ``records`` property of each LogRecordsRequested message, sorted."""
    return sorted(
        m["properties"]["records"] for m in messages if m["event"] == "LogRecordsRequested"
    )


def track_records(client: pigeon.Client, numbers: range | list[int]) -> None:
    for n in numbers:
        client.track("LogRecordsRequested", {"task": "Text2Text", "records": n})


def run_python(code: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with a clean telemetry environment."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=clean_subprocess_env(PYTHONPATH=str(REPO)),
        check=False,
    )
