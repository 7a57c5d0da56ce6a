"""Alert configs, stores filled with problems, and a real local webhook receiver."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pigeon.catalog import PropertyValue
from pigeon.collector.alerts import AlertsConfig, Rule, Webhook
from pigeon.collector.storage._base import MS_PER_DAY, StoredEvent
from tests.dashboard._data import ENF, TODAY, event

NOW_MS = TODAY * MS_PER_DAY + MS_PER_DAY // 2
"""Noon of the data set's today."""
SIGNATURE = "0123456789abcdef"


def crash(install: str, day: int, version: str = "1.0.0", sig: str = SIGNATURE) -> StoredEvent:
    props: dict[str, PropertyValue] = {"exception": "KeyError", "signature": sig}
    return event(install, "CrashReported", day, props, version=version)


def error(install: str, day: int, code: str = ENF, version: str = "1.0.0") -> StoredEvent:
    return event(install, "ServerErrorFound", day, {"code": code}, version=version)


def config(state: Path, rules: Sequence[Rule], url: str = "http://127.0.0.1:9/") -> AlertsConfig:
    hooks = {"ops": Webhook("ops", url, "json", 2.0)}
    return AlertsConfig(state, 1.0, hooks, tuple(rules))


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread: answers ``answers`` in turn (the last one repeats).

    ``hang`` makes every request wait until the receiver stops (a webhook that never answers).
    """

    def __init__(self, answers: Sequence[tuple[int, dict[str, str]]], *, hang: bool = False):
        self.answers = list(answers)
        self.bodies: list[Any] = []
        self.received = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.received:
                    receiver.bodies.append(body)
                    receiver.received.notify_all()
                if hang:
                    receiver._release.wait()
                    return
                status, headers = receiver._next()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _next(self) -> tuple[int, dict[str, str]]:
        with self.received:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def wait_for(self, count: int, timeout: float) -> list[Any]:
        """The bodies once ``count`` arrived (or whatever arrived by the deadline)."""
        with self.received:
            self.received.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


def rule(name: str, kind: str, what: str, **values: Any) -> Rule:
    """A rule sending to webhook ``ops``."""
    return Rule(name, kind, what, webhooks=("ops",), **values)  # type: ignore[arg-type]


def state_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """Every (key, webhook, status, attempts) of a state file."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        yield from conn.execute(
            "SELECT key, webhook, status, attempts FROM alerts JOIN deliveries ON alert = id"
        ).fetchall()
    finally:
        conn.close()
