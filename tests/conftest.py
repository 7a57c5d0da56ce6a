"""Test-wide fixtures: every test starts from a clean telemetry environment."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon._settings import CI_MARKERS, DO_NOT_TRACK
from pigeon.testing import MemoryTransport

pytest_plugins = ["tests._clickhouse"]

_TELEMETRY_VAR = re.compile(r".*_(ENABLE_TELEMETRY|TELEMETRY_[A-Z_]+)$")


def telemetry_variables(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """Every variable that could change a client's decision."""
    return [
        name
        for name in environ
        if name in CI_MARKERS or name == DO_NOT_TRACK or _TELEMETRY_VAR.match(name)
    ]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove opt-outs, CI markers and endpoints; point the data dir at a temp dir."""
    for name in telemetry_variables(os.environ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def clean_subprocess_env(**extra: str) -> dict[str, str]:
    """An environment for child processes: no telemetry variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in telemetry_variables(os.environ)}
    env.update(extra)
    return env


@pytest.fixture
def telemetry(tmp_path: Path) -> Iterator[pigeon.Client]:
    """An enabled ``argilla`` client whose batches stay in memory."""
    client = pigeon.Client(
        "argilla", "1.29.0", transport=MemoryTransport(), home=tmp_path / "telemetry-home"
    )
    assert client.enabled
    yield client
    client.shutdown(timeout=1.0)
