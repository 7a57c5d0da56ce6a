"""Child processes of the demo (collector, reference servers): start, wait ready, stop.

Each child runs in its own session, so that Ctrl-C in the terminal reaches
only ``pigeon demo``, which then stops the children in order: servers first
(they flush their telemetry to the collector), the collector last. Output goes
to a log file per child, never to a pipe nobody reads.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from pigeon.demo._http import request

__all__ = ["ChildProcess", "DemoError", "free_port", "port_is_free", "python_env"]

_POLL_SECONDS = 0.05


class DemoError(Exception):
    """A demo step failed; the message says which, and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """Whether ``port`` can be bound on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class ChildProcess:
    """One child process whose output goes to a log file."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path
    ) -> None:
        """Describe the child; :meth:`start` runs it."""
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stopping = threading.Lock()

    def start(self) -> None:
        """Start the child (in its own session on POSIX)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=sys.platform != "win32",
        )

    @property
    def returncode(self) -> int | None:
        """The exit status, or ``None`` while it runs (or before it started)."""
        return None if self._process is None else self._process.poll()

    def wait_ready(self, base_url: str, path: str, timeout: float) -> None:
        """Poll ``GET path`` until it answers 200.

        Raises:
            DemoError: the child exited, or did not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.returncode is not None:
                raise DemoError(
                    f"{self.name} exited with status {self.returncode} before it was ready "
                    f"(log: {self.log_path}):\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                if request(base_url, "GET", path, timeout=2.0).status == 200:
                    return
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{self.name} did not answer {base_url}{path} within {timeout:.0f} s "
                    f"(log: {self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(_POLL_SECONDS)

    def stop(self, timeout: float = 15.0) -> int | None:
        """Ask the child to stop (SIGTERM), wait up to ``timeout`` s, then kill it.

        Safe to call from several threads and more than once. A Ctrl-C while
        waiting kills the child at once (the interrupt is consumed: stopping
        goes on with the next child).
        """
        process = self._process
        if process is None:
            return None
        with self._stopping:
            try:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                process.kill()
                process.wait(5.0)
            finally:
                if self._log is not None:
                    self._log.close()
                    self._log = None
        return process.returncode

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the child's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def python_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """An environment for a Python child: ``base`` (default ``os.environ``) plus ``extra``."""
    env = dict(os.environ if base is None else base)
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
