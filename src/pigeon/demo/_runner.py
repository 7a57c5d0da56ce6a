"""``pigeon demo``: a collector, simulated installs feeding it, and the dashboard's address.

Order of things: start the collector (``python -m pigeon serve``) on SQLite and
wait for ``/healthz``; play a round of traffic (see :mod:`pigeon.demo.traffic`);
print the dashboard URL and admin token; replay a round every ``interval``
seconds until Ctrl-C, SIGTERM, ``duration`` or ``once``; then stop the servers
(they flush their telemetry) and the collector last.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final, TextIO

from pigeon.collector._token import new_token
from pigeon.demo._processes import ChildProcess, DemoError, free_port, port_is_free, python_env
from pigeon.demo._scenario import RoundReport
from pigeon.demo._settings import TELEMETRY_WRITE_KEY
from pigeon.demo.traffic import Traffic

__all__ = ["DemoOptions", "run_demo"]

DEFAULT_PORT: Final = 8642
_COLLECTOR_READY_TIMEOUT: Final = 60.0
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::", "::1", ""})  # noqa: S104


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``pigeon demo`` was asked to do (see the command's help)."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int | None = None
    installs: int = 8
    parallel: int = 2
    seed: int = 0
    once: bool = False
    duration: float | None = None
    interval: float = 30.0
    admin_token: str | None = None
    min_installs: int = 2
    real_runtime: bool = False


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo until it is stopped; returns the exit status.

    Raises:
        DemoError: the collector or every install failed to start.
    """
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _choose_port(options)
    token = options.admin_token or new_token(18)
    collector_url = f"http://{_client_host(options.host)}:{port}"
    dashboard_url = (
        f"http://{options.host if options.host not in _LOCAL_HOSTS else '127.0.0.1'}:{port}/"
    )
    _warn_about_opt_outs(out)

    stop = threading.Event()
    collector = _collector(options, data_dir, port, token)
    traffic = Traffic(
        collector_url,
        data_dir,
        installs=options.installs,
        seed=options.seed,
        parallel=options.parallel,
        real_runtime=options.real_runtime,
    )
    with _stop_on_signals(stop):
        try:
            _say(
                out, f"Starting the collector on {collector_url} (store: {data_dir / 'pigeon.db'})"
            )
            collector.start()
            collector.wait_ready(collector_url, "/healthz", _COLLECTOR_READY_TIMEOUT)
            _play(traffic, stop, out, verbose=True)
            _say(out, _where_to_look(dashboard_url, token, data_dir, options))
            _keep_playing(traffic, stop, options, out)
        except KeyboardInterrupt:
            stop.set()
        finally:
            stop.set()
            traffic.stop_all()
            collector.stop()
    _say(out, "Demo stopped: every server and the collector have exited.")
    return 0


def _choose_port(options: DemoOptions) -> int:
    if options.port is not None:
        if not port_is_free(_bind_host(options.host), options.port):
            raise DemoError(f"port {options.port} is in use; choose another with --port")
        return options.port
    if port_is_free(_bind_host(options.host), DEFAULT_PORT):
        return DEFAULT_PORT
    return free_port(_bind_host(options.host))


def _bind_host(host: str) -> str:
    return "127.0.0.1" if host in ("localhost", "") else host


def _client_host(host: str) -> str:
    """Where the demo's servers reach the collector."""
    return "127.0.0.1" if host in _LOCAL_HOSTS else host


def _collector(options: DemoOptions, data_dir: Path, port: int, token: str) -> ChildProcess:
    store = f"sqlite:///{data_dir / 'pigeon.db'}"
    argv = [
        sys.executable,
        "-m",
        "pigeon",
        "serve",
        "--host",
        options.host,
        "--port",
        str(port),
        "--store",
        store,
        "--write-key",
        TELEMETRY_WRITE_KEY,
        f"--admin-token={token}",  # one argument, whatever the token starts with
        "--min-installs",
        str(options.min_installs),
    ]
    return ChildProcess("collector", argv, python_env(), data_dir / "logs" / "collector.log")


def _play(traffic: Traffic, stop: threading.Event, out: TextIO, *, verbose: bool) -> None:
    """One round: every install in detail the first time, one summary line afterwards."""
    started = time.monotonic()
    if verbose:
        _say(out, f"Playing {len(traffic.profiles)} simulated installs (one server process each):")
    results = traffic.run_round(stop)
    if results and all(r.report is None for r in results) and not stop.is_set():
        raise DemoError(f"no install could run; see the logs in {traffic.data_dir / 'logs'}")
    elapsed = time.monotonic() - started
    if verbose:
        for result in results:
            _say(out, result.line())
        _say(out, f"Round done in {elapsed:.1f} s.")
        return
    reports = [r.report for r in results if r.report is not None]
    failed = len(results) - len(reports)
    total = RoundReport(
        calls=sum(r.calls for r in reports),
        errors=sum(r.errors for r in reports),
        bulk_uploads=sum(r.bulk_uploads for r in reports),
        records=sum(r.records for r in reports),
        trainings=sum(r.trainings for r in reports),
    )
    versions = ", ".join(sorted({p.version for p in traffic.profiles}))
    _say(
        out,
        f"{time.strftime('%H:%M:%S')} round of {len(reports)} installs (versions {versions}): "
        f"{total.summary()}"
        + (f"; {failed} failed (see {traffic.data_dir / 'logs'})" if failed else "")
        + f" in {elapsed:.1f} s.",
    )


def _keep_playing(
    traffic: Traffic, stop: threading.Event, options: DemoOptions, out: TextIO
) -> None:
    if options.once:
        return
    deadline = None if options.duration is None else time.monotonic() + options.duration
    while not stop.is_set():
        wait = options.interval
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                return
        if stop.wait(wait):
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        _play(traffic, stop, out, verbose=False)


def _where_to_look(url: str, token: str, data_dir: Path, options: DemoOptions) -> str:
    lines = [
        "",
        f"Dashboard:    {url}",
        f"Admin token:  {token}",
        f"Data:         {data_dir} (SQLite store pigeon.db, logs/, one folder per install)",
    ]
    if options.once:
        lines.append(
            f"Look again later: pigeon serve --store sqlite:///{data_dir / 'pigeon.db'} "
            f"--admin-token {token}"
        )
    elif options.duration is not None:
        lines.append(
            f"Replaying traffic every {options.interval:.0f} s for {options.duration:.0f} s."
        )
    else:
        lines.append(f"Replaying traffic every {options.interval:.0f} s. Press Ctrl-C to stop.")
    return "\n".join(lines) + "\n"


def _warn_about_opt_outs(out: TextIO) -> None:
    """The demo honours opt-outs too: say so when one would silence it."""
    dnt = os.environ.get("DO_NOT_TRACK", "").strip().lower()
    if dnt not in ("", "0", "false"):
        _say(
            out,
            "Note: DO_NOT_TRACK is set in this environment. The demo's servers honour it and "
            "send nothing, so the dashboard will stay empty. Unset it to see the demo's data.",
        )


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop`` (workers notice it) and interrupt the main thread.

    A second signal interrupts again: a child being waited for is then killed at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()
