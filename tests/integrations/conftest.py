"""Fixtures for the integration tests: an enabled client that sends nowhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon.testing import MemoryTransport


@pytest.fixture
def telemetry(tmp_path: Path) -> Iterator[pigeon.Client]:
    """An enabled ``argilla`` client whose batches stay in memory."""
    client = pigeon.Client(
        "argilla", "1.29.0", transport=MemoryTransport(), home=tmp_path / "telemetry-home"
    )
    assert client.enabled
    yield client
    client.shutdown(timeout=1.0)
