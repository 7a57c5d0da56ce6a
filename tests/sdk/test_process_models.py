"""Every common process model: each process's events arrive exactly once, and exits are bounded.

Real processes against a real sink on 127.0.0.1: multiprocessing with each
start method, ``ProcessPoolExecutor``, and web servers (gunicorn's sync and
uvicorn workers, with and without ``--preload``; ``uvicorn --workers 2``).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from tests.sdk._sink import Sink
from tests.sdk.processes.harness import REPO, assert_exactly_once, drive, probe_env, read_facts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process models")

METHODS = ["fork", "forkserver", "spawn"]
REQUESTS = 40
EXIT_BUDGET = 15.0  # a server asked to stop has exited by then, its telemetry delivered


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", ["pool", "executor", "process"])
def test_multiprocessing_workers_deliver_every_event_once(
    sink: Sink, tmp_path: Path, model: str, method: str
) -> None:
    started = time.monotonic()
    outcome = drive(sink, tmp_path / "home", model, method, timeout=60)
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    assert time.monotonic() - started < 30  # bounded: worker exits wait at most their budget
    work = sorted(n for event, _, n in outcome.tracked if event == "Work" and n is not None)
    assert work == list(range(41 if model != "process" else 5))
    if method != "fork":  # spawned workers import the app, and say so once each
        starts = [p for event, p, _ in outcome.tracked if event == "Started"]
        assert len(starts) == len(set(starts)) > 1
    assert_exactly_once(sink, outcome.tracked)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, n: int, deadline: float) -> int:
    """``GET /work?n=N`` on a new connection (any worker may take it); the worker's pid."""
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", f"/work?n={n}")
            response = connection.getresponse()
            assert response.status == 200
            return int(response.read())
        except ConnectionRefusedError:  # still booting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            connection.close()


# Two workers each; no control socket (gunicorn would make one in the home directory).
GUNICORN = ["-m", "gunicorn", "-w", "2", "--no-control-socket"]
UVICORN_WORKER = ["-k", "uvicorn_worker.UvicornWorker"]
WSGI, ASGI = "tests.sdk.processes.app:wsgi_app", "tests.sdk.processes.app:asgi_app"
SERVERS = {
    "gunicorn-sync": [*GUNICORN, WSGI],
    "gunicorn-sync-preload": [*GUNICORN, "--preload", WSGI],
    "gunicorn-uvicorn": [*GUNICORN, *UVICORN_WORKER, ASGI],
    "gunicorn-uvicorn-preload": [*GUNICORN, *UVICORN_WORKER, "--preload", ASGI],
    "uvicorn-workers": ["-m", "uvicorn", "--workers", "2", "--no-access-log", ASGI],
}


@pytest.mark.parametrize("server", list(SERVERS))
def test_server_workers_deliver_every_event_once_and_stop_in_bounded_time(
    sink: Sink, tmp_path: Path, server: str
) -> None:
    port = _free_port()
    address = ["--bind", f"127.0.0.1:{port}"] if "gunicorn" in server else ["--port", str(port)]
    log = tmp_path / "server.log"  # a file, not a pipe: a full pipe would stall the server
    lines: list[str] = []
    booted = threading.Condition()

    def read_stdout(stream: IO[str]) -> None:
        for line in stream:
            with booted:
                lines.append(line)
                booted.notify_all()

    # Every process that imports the app (both workers, or the master) says so first.
    importers = 1 if "preload" in server else 2
    with (
        log.open("w") as errors,
        subprocess.Popen(
            [sys.executable, *SERVERS[server], *address],
            cwd=REPO,
            env=probe_env(sink, tmp_path / "home"),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        reader = threading.Thread(target=read_stdout, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            with booted:
                assert booted.wait_for(lambda: "".join(lines).count('"Started"') >= importers, 30)
            deadline = time.monotonic() + 30
            served_by = {_get(port, n, deadline) for n in range(REQUESTS)}
            stopping = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=EXIT_BUDGET + 15)
            took = time.monotonic() - stopping
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=10)
    stderr = log.read_text()
    stdout = "".join(lines)
    assert process.returncode == 0, stderr[-3000:]
    assert took < EXIT_BUDGET, stderr[-3000:]
    tracked, _ = read_facts(stdout)
    work = sorted(
        n for event, p, n in tracked if event == "Work" and p in served_by and n is not None
    )
    assert work == list(range(REQUESTS))
    starts = [p for event, p, _ in tracked if event == "Started"]
    # Whoever imported the app said so once: the master under --preload, else each worker.
    if "preload" in server:
        assert starts == [process.pid]
    else:
        assert len(starts) == len(set(starts)) == 2
        assert served_by <= set(starts)
    assert os.getpid() not in starts
    assert_exactly_once(sink, tracked)
