"""Opt-out is absolute: no thread, no file, no socket, no DNS look-up, and track() does nothing.

Proved twice: in this process by replacing the socket, file and thread
primitives with recorders, and in a child process through audit hooks
(``sys.addaudithook``), which see every socket, open, mkdir and thread start
whichever module asks for it. Each proof has an enabled counterpart, so that
the recorders are known to see what they are meant to see.
"""

from __future__ import annotations

import builtins
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pigeon
from pigeon.testing import MemoryTransport
from tests.conftest import clean_subprocess_env

OPT_OUTS: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"ARGILLA_ENABLE_TELEMETRY": "0"}, {}),
    ({"ARGILLA_ENABLE_TELEMETRY": "off"}, {}),
    ({"ARGILLA_ENABLE_TELEMETRY": "bogus"}, {}),
    ({"DO_NOT_TRACK": "1"}, {}),
    ({"DO_NOT_TRACK": "1", "ARGILLA_ENABLE_TELEMETRY": "1"}, {}),
    ({"CI": "true"}, {}),
    ({"GITHUB_ACTIONS": "true"}, {}),
    ({"ARGILLA_ENABLE_TELEMETRY": "1"}, {"enabled": False}),
    ({"ARGILLA_TELEMETRY_DEBUG": "1", "DO_NOT_TRACK": "1"}, {}),
    ({"ARGILLA_TELEMETRY_MODE": "off"}, {}),
    ({"ARGILLA_TELEMETRY_MODE": "OFF", "ARGILLA_ENABLE_TELEMETRY": "1"}, {}),
    ({"ARGILLA_TELEMETRY_MODE": "bogus"}, {}),
    ({"ARGILLA_TELEMETRY_MODE": "local", "DO_NOT_TRACK": "1"}, {}),
    ({"ARGILLA_TELEMETRY_MODE": "local", "ARGILLA_ENABLE_TELEMETRY": "0"}, {}),
    ({"ARGILLA_TELEMETRY_MODE": "local"}, {"enabled": False}),
]
OPT_OUT_IDS = [",".join([*env, *kwargs]) or "none" for env, kwargs in OPT_OUTS]


class Recorder:
    """Replaces socket, file and thread primitives with versions that record each call.

    Only calls from the test's own thread are recorded: no other thread can
    start while the recorder is in place (``Thread.start`` is recorded too), and
    threads left by earlier tests must not be disturbed. Strict, a recorded call
    also raises (telemetry is disabled: nothing may happen); otherwise, and
    always on other threads, it goes through to the real function.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, strict: bool) -> None:
        self.calls: list[str] = []
        self._strict = strict
        self._owner = threading.get_ident()
        for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname"):
            monkeypatch.setattr(socket, name, self._refuse(f"socket.{name}", getattr(socket, name)))
        monkeypatch.setattr(
            threading.Thread, "start", self._refuse("Thread.start", threading.Thread.start)
        )
        real_open, real_os_open = builtins.open, os.open

        def recording_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self._owner:
                self.calls.append(f"open({file!s}, {mode})")
            return real_open(file, mode, *args, **kwargs)

        def recording_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if threading.get_ident() == self._owner:
                self.calls.append(f"os.open({path!s})")
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", recording_open)
        monkeypatch.setattr(os, "open", recording_os_open)
        for name in ("mkdir", "makedirs"):
            monkeypatch.setattr(os, name, self._refuse(f"os.{name}", getattr(os, name)))

    def _refuse(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self._owner:
                self.calls.append(name)
                if self._strict:
                    raise AssertionError(f"{name} called while telemetry is disabled")
            return real(*args, **kwargs)

        return refuse


@pytest.fixture
def watched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working and data directory; the test checks it stays empty."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("XDG_DATA_HOME", str(workdir / "xdg"))
    monkeypatch.setenv("HOME", str(workdir / "home"))
    yield workdir
    assert list(workdir.iterdir()) == []


def exercise(client: pigeon.Client) -> None:
    """Everything a host does with a client."""
    for _ in range(1000):
        client.track("LogRecordsRequested", {"task": "Text2Text", "records": 1})
    client.track("ServerStarted")
    client.track("NotInCatalog", {"x": object()})
    assert client.flush(timeout=1.0) is True
    client.shutdown(timeout=1.0)
    client.track("ServerStarted")


@pytest.mark.parametrize(("env", "kwargs"), OPT_OUTS, ids=OPT_OUT_IDS)
def test_disabled_client_opens_no_socket_file_or_thread(
    env: dict[str, str], kwargs: dict[str, Any], watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    threads_before = set(threading.enumerate())
    recorder = Recorder(monkeypatch, strict=True)
    client = pigeon.Client(
        "argilla",
        "1.0",
        endpoint="http://127.0.0.1:9",
        write_key="k",
        transport=MemoryTransport(),
        **kwargs,
    )
    assert not client.enabled
    exercise(client)
    monkeypatch.undo()
    assert recorder.calls == []
    assert set(threading.enumerate()) - threads_before == set()  # no new thread
    assert client.anonymous_id is None
    assert client.counters == {}


def test_the_recorder_sees_an_enabled_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counterpart: the same checks fail for an enabled client."""
    recorder = Recorder(monkeypatch, strict=False)
    client = pigeon.Client("argilla", "1.0", transport=MemoryTransport(), home=tmp_path / "h")
    assert client.enabled
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    client.shutdown(timeout=1)
    monkeypatch.undo()
    assert "Thread.start" in recorder.calls
    assert "os.mkdir" in recorder.calls
    assert any(c.startswith("os.open(") and "telemetry_id" in c for c in recorder.calls)


def test_disabled_track_is_a_shared_no_op() -> None:
    first = pigeon.Client("argilla", "1.0", enabled=False)
    second = pigeon.Client("other", "2.0", environ={"DO_NOT_TRACK": "1"})

    def empty(event: str, properties: object = None) -> None:
        """Only a docstring, like the no-op."""

    assert first.track is second.track  # one module-level function, no per-client state
    assert first.track.__code__.co_code == empty.__code__.co_code
    first.track("ServerStarted")
    first.track(None, "not a mapping")  # type: ignore[arg-type]


def test_disabled_client_with_unwritable_home_never_touches_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    client = pigeon.Client("argilla", "1.0", enabled=False, home=blocker / "app")
    exercise(client)
    assert blocker.read_text() == "x"


# -- in a child process, through audit hooks ----------------------------------------------

_AUDITED = textwrap.dedent(
    """
    import json, os, sys, threading

    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    seen = []

    def hook(event, args):
        if event.startswith("socket.") or event in ("os.mkdir", "_thread.start_new_thread"):
            seen.append(event)
        elif event == "open":
            path, mode, flags = args
            writes = any(c in (mode or "") for c in "wax+") or (
                mode is None and isinstance(flags, int) and flags & WRITE
            )
            if writes:
                seen.append(f"open-for-write {path}")

    sys.addaudithook(hook)
    # Python 3.11 has no audit event for new threads: watch the primitive threading uses.
    real_start = threading._start_new_thread

    def start_new_thread(*args):
        seen.append("_thread.start_new_thread")
        return real_start(*args)

    threading._start_new_thread = start_new_thread

    import pigeon

    client = pigeon.Client("argilla", "1.0", endpoint=sys.argv[1], write_key="k")
    for i in range(200):
        client.track("LogRecordsRequested", {"task": "Text2Text", "records": i})
    client.flush(timeout=2)
    client.shutdown(timeout=1)
    sys.stdout.write(json.dumps({"enabled": client.enabled, "seen": seen}))
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: it is not part of the client's behaviour
    """
)


def run_audited(tmp_path: Path, **env: str) -> dict[str, Any]:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: an enabled client is refused at once
    child_env = clean_subprocess_env(XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path), **env)
    result = subprocess.run(
        [sys.executable, "-c", _AUDITED, f"http://127.0.0.1:{port}"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize(
    "env",
    [
        {"ARGILLA_ENABLE_TELEMETRY": "0"},
        {"DO_NOT_TRACK": "1"},
        {"CI": "1"},
        {"TRAVIS": "true"},
        {"ARGILLA_TELEMETRY_MODE": "off"},
        {"ARGILLA_TELEMETRY_MODE": "local", "DO_NOT_TRACK": "1"},
    ],
    ids=",".join,
)
def test_audit_hooks_see_nothing_when_disabled(tmp_path: Path, env: dict[str, str]) -> None:
    report = run_audited(tmp_path, **env)
    assert report == {"enabled": False, "seen": []}
    assert not (tmp_path / "xdg").exists()


def test_audit_hooks_see_an_enabled_client(tmp_path: Path) -> None:
    report = run_audited(tmp_path)
    assert report["enabled"] is True
    seen = report["seen"]
    assert "_thread.start_new_thread" in seen
    assert "os.mkdir" in seen
    assert any(s.startswith("open-for-write") and "telemetry_id" in s for s in seen)
    assert "socket.connect" in seen


def test_audit_hooks_see_no_socket_in_local_mode(tmp_path: Path) -> None:
    report = run_audited(tmp_path, ARGILLA_TELEMETRY_MODE="local")
    assert report["enabled"] is True
    seen = report["seen"]
    assert not [s for s in seen if s.startswith("socket.")]  # not one, not even a look-up
    assert "_thread.start_new_thread" in seen  # the sender ran...
    assert any(s.startswith("open-for-write") and "telemetry_ledger" in s for s in seen)
    ledger = list((tmp_path / "xdg" / "argilla" / "telemetry_ledger").glob("*.jsonl"))
    assert len(ledger) == 1  # ...and recorded every batch it would have sent
    events = sum(json.loads(line)["events"] for line in ledger[0].read_text().splitlines())
    assert events == 200
