"""A real collector process (``python -m pigeon serve``) for the tests, and a tiny HTTP client."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pigeon._wire import uuid7
from tests.conftest import clean_subprocess_env

WRITE_KEY = "test-key"
ADMIN_TOKEN = "test-admin-token"


def segment_batch(install: str, size: int) -> tuple[list[str], bytes]:
    """A Segment batch body of ``size`` fresh bulk-upload events, and their message ids."""
    ids = [uuid7() for _ in range(size)]
    messages = [
        {"type": "track", "event": "LogRecordsRequested", "anonymousId": install, "messageId": mid,
         "properties": {"task": "Text2Text", "records": 1}}
        for mid in ids
    ]  # fmt: skip
    return ids, json.dumps({"batch": messages}).encode()


def stored_message_ids(db: Path) -> list[str]:
    """Every message id in a SQLite store's raw events (read-only, duplicates kept)."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT message_id FROM events")]
    finally:
        conn.close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (a collector's worker processes), from /proc."""
    tree, index = [pid], 0
    while index < len(tree):
        current = tree[index]
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        tree += [int(child) for child in children]
        index += 1
    return tree


def worker_pids(collector: RunningCollector) -> list[int]:
    """The collector's worker processes (not its multiprocessing helper)."""
    pids = []
    for pid in process_tree(collector.process.pid)[1:]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            pids.append(pid)
    return pids


def basic(key: str) -> dict[str, str]:
    """The Authorization header carrying a write key as Basic user name."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    source: str | None = None,
) -> Reply:
    """One request on a fresh connection (from ``source`` address when given)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(
        host, int(port), timeout=30, source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


class RunningCollector:
    """``python -m pigeon serve --port 0`` in a temp directory; stopped by the test."""

    def __init__(
        self, workdir: Path, args: Sequence[str], env: Mapping[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = workdir / "stdout.txt"
        self.stderr_path = workdir / "stderr.txt"
        command = [sys.executable, "-m", "pigeon", "serve", "--port", "0", *args]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                command,
                cwd=workdir,
                stdout=out,
                stderr=err,
                env=clean_subprocess_env(**(env or {})),
            )
        self.url = self._wait_for_url()

    @classmethod
    def with_store(
        cls, workdir: Path, store_url: str, *extra: str, env: Mapping[str, str] | None = None
    ) -> RunningCollector:
        """A collector on ``store_url`` with the test write key and admin token."""
        args = [
            "--store",
            store_url,
            "--write-key",
            WRITE_KEY,
            "--admin-token",
            ADMIN_TOKEN,
            *extra,
        ]
        return cls(workdir, args, env)

    def _wait_for_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout.splitlines():
                if "listening on http://" in line:
                    return line.split("listening on ", 1)[1].split()[0]
            if self.process.poll() is not None:
                raise RuntimeError(f"collector exited: {self.stdout}\n{self.stderr}")
            time.sleep(0.02)
        self.process.kill()
        raise RuntimeError(f"collector did not start: {self.stdout}\n{self.stderr}")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> Reply:
        return request(self.url, method, path, body, headers=headers, source=source)

    def post(self, path: str, payload: object, headers: Mapping[str, str] | None = None) -> Reply:
        return self.request(
            "POST",
            path,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig`` and wait for the process to end; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)
