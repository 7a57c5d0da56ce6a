"""The context: exactly the seed's fields and nothing else, computed once per process."""

from __future__ import annotations

import getpass
import platform
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon._system import build_context, runtime
from pigeon.testing import MemoryTransport, capture_events

CONTEXT_KEYS = {"app", "library", "os", "runtime", "catalog"}
RUNTIME_KEYS = {"python_version", "system", "release", "sys_version", "machine", "platform"}
MESSAGE_KEYS = {"type", "event", "properties", "anonymousId", "messageId", "timestamp", "context"}


def test_context_has_exactly_the_seed_fields() -> None:
    context = build_context("argilla", "1.29.0", "argilla", "1")
    assert set(context) == CONTEXT_KEYS
    assert context["app"] == {"name": "argilla", "version": "1.29.0"}
    assert context["library"] == {"name": "pigeon", "version": pigeon.__version__}
    assert context["os"] == {"name": platform.system(), "version": platform.release()}
    assert context["catalog"] == {"name": "argilla", "version": "1"}
    assert context["runtime"] == {
        "python_version": platform.python_version(),
        "system": platform.system(),
        "release": platform.release(),
        "sys_version": platform.version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }
    assert set(context["runtime"]) == RUNTIME_KEYS


def test_every_value_is_a_string() -> None:
    context = build_context("argilla", "1.29.0", "argilla", "1")
    for section in context.values():
        assert isinstance(section, dict)
        assert all(isinstance(v, str) for v in section.values())


def test_context_copies_are_independent() -> None:
    first = build_context("a", "1", "c", "1")
    first["runtime"]["system"] = "tampered"  # type: ignore[index]
    assert build_context("a", "1", "c", "1")["runtime"]["system"] == platform.system()  # type: ignore[index]


def test_wire_message_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    with capture_events() as events:
        client = pigeon.Client("argilla", "2.0", transport=MemoryTransport(), home=tmp_path)
        client.track("ServerStarted")
    client.shutdown()
    [message] = events
    assert set(message) == MESSAGE_KEYS
    context = message["context"]
    assert set(context) == CONTEXT_KEYS
    assert set(context["app"]) == {"name", "version"}
    assert set(context["library"]) == {"name", "version"}
    assert set(context["os"]) == {"name", "version"}
    assert set(context["runtime"]) == RUNTIME_KEYS
    assert set(context["catalog"]) == {"name", "version"}
    assert context["app"] == {"name": "argilla", "version": "2.0"}
    assert context["catalog"] == {"name": "argilla", "version": "2"}


@pytest.fixture
def counted_platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count calls to the platform functions the context reads (fresh cache, restored after)."""
    calls: Counter[str] = Counter()
    names = ("python_version", "system", "release", "version", "machine", "platform")

    def counting(name: str, real: Callable[[], str]) -> Callable[[], str]:
        def wrapper() -> str:
            calls[name] += 1
            return real()

        return wrapper

    for name in names:
        monkeypatch.setattr(platform, name, counting(name, getattr(platform, name)))
    runtime.cache_clear()
    yield calls
    runtime.cache_clear()


def test_runtime_is_computed_once_per_process(
    counted_platform: Counter[str], tmp_path: Path
) -> None:
    for _ in range(5):
        runtime()
        build_context("a", "1", "c", "1")
    with capture_events() as events:
        for home in ("one", "two"):
            client = pigeon.Client(
                "argilla", "1", transport=MemoryTransport(), home=tmp_path / home
            )
            client.track("ServerStarted")
            client.track("ServerStarted")
            client.shutdown()
    assert len(events) == 4
    assert counted_platform == Counter(
        python_version=1, system=1, release=1, version=1, machine=1, platform=1
    )
    first = dict(counted_platform)
    runtime()
    build_context("b", "2", "c", "1")
    assert dict(counted_platform) == first


def test_context_carries_no_host_or_user_identity() -> None:
    text = repr(build_context("argilla", "1", "argilla", "1"))
    for secret in (socket.gethostname(), platform.node(), str(Path.home())):
        if len(secret) >= 4:  # a very short name could appear by coincidence
            assert secret not in text
    user = getpass.getuser()
    if len(user) >= 4:
        assert f"'{user}'" not in text
        assert f"/{user}" not in text
