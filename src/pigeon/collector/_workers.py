"""Several collector processes on one port: ``pigeon serve --workers N``.

One Python process parses, validates and writes on one core (the GIL), so
the parent binds the port and starts N worker processes (``spawn``), each a
whole collector serving the shared socket; the kernel spreads connections
over them. With SQLite they share the store file through its write lock
(see ``storage._sqlite_shared``); with ClickHouse they are simply several
collectors.

The parent only supervises: it reports "listening" once every worker is up,
turns SIGTERM or Ctrl-C into one graceful stop of every worker (each drains
its requests and commits), and replaces a worker that dies on its own.
Workers sit in their own process group, so Ctrl-C in a terminal reaches
them once, through the parent; if the parent is killed, they stop
gracefully by themselves. Only worker 0 runs retention and the alert loop.

Metrics: the parent gives the workers a private directory as
``PROMETHEUS_MULTIPROC_DIR`` (``prometheus_client``'s multi-process mode), so
a scrape of any worker sums every worker's counts, those of replaced workers
included; a dead worker's gauges are dropped (``mark_process_dead``), and the
directory is removed at exit. A ``--metrics-address`` listener is bound by the
parent and served by every worker, like the main one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from pigeon.collector._config import CollectorConfig

__all__ = ["serve_workers"]

logger = logging.getLogger("pigeon.collector")

STOP_SECONDS: Final = 60.0
"""How long a stop waits for workers to drain before killing them."""
RESTARTS_PER_MINUTE: Final = 5
"""More unexpected deaths than this within a minute: the collector stops (a crash loop)."""


def _watch_parent() -> None:
    """Stop this worker gracefully when the supervising process goes away."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="pigeon-parent-watch", daemon=True).start()


def _worker_main(
    config: CollectorConfig,
    listeners: tuple[socket.socket, socket.socket | None],
    index: int,
    report: multiprocessing.connection.Connection,
) -> None:
    """One worker: a whole collector on the inherited socket."""
    from pigeon.collector._server import serve

    os.setpgrp()  # Ctrl-C reaches the parent only, which stops each worker once
    _watch_parent()
    if index != 0:
        # Worker 0 alone evaluates and delivers alerts; every worker serves their history.
        alerts = config.alerts and dataclasses.replace(config.alerts, evaluate=False)
        config = dataclasses.replace(config, retention_days=0, alerts=alerts)
    listener, metrics_listener = listeners
    started = serve(
        config,
        sock=listener,
        metrics_sock=metrics_listener,
        on_started=lambda _url: report.send(("started", index)),
        # Drained and committed. (uvicorn then re-raises the SIGTERM it caught,
        # so the exit code cannot tell a graceful stop from a killed worker.)
        on_stopped=lambda: report.send(("stopped", index)),
    )
    raise SystemExit(0 if started else 1)


class _Supervisor:
    def __init__(
        self,
        config: CollectorConfig,
        workers: int,
        listeners: tuple[socket.socket, socket.socket | None],
        metrics_dir: str,
    ) -> None:
        self._config = config
        self._listeners = listeners
        self._metrics_dir = metrics_dir
        self._ctx = multiprocessing.get_context("spawn")
        self._reports, self._report_end = self._ctx.Pipe(duplex=False)
        self._procs: dict[int, Any] = {}
        self._ready = False  # every worker reported serving once: the collector is up
        self._serving: set[int] = set()  # workers whose current process reported serving
        self._stopped: set[int] = set()  # ... and reported a graceful stop
        self._count = workers
        self._deaths: list[float] = []
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()

    def _start(self, index: int) -> None:
        proc = self._ctx.Process(
            target=_worker_main,
            args=(self._config, self._listeners, index, self._report_end),
            name=f"pigeon-worker-{index}",
        )
        proc.start()
        self._procs[index] = proc

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def run(self, on_started: Callable[[], None]) -> bool:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for index in range(self._count):
                self._start(index)
            return self._supervise(on_started)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for end in (self._reports, self._report_end, self._wake_r, self._wake_w):
                end.close()

    def _read_reports(self) -> None:
        while self._reports.poll():
            kind, index = self._reports.recv()
            if kind == "stopped":
                self._stopped.add(index)
            elif index not in self._serving:
                self._serving.add(index)
                if self._ready:
                    logger.info("worker %d is serving again", index)

    def _supervise(self, on_started: Callable[[], None]) -> bool:
        while not self._stopping:
            sentinels = {proc.sentinel: index for index, proc in self._procs.items()}
            ready = multiprocessing.connection.wait([*sentinels, self._reports, self._wake_r])
            self._read_reports()
            if not self._ready and len(self._serving) == self._count:
                self._ready = True
                on_started()
            for item in ready:
                index = sentinels.get(item)
                if index is None or self._stopping:
                    continue
                self._procs[index].join(5)  # its sentinel fired: reap it for the exit code
                code = self._procs[index].exitcode
                self._forget_gauges(self._procs[index].pid)
                if not self._ready:
                    logger.error("worker %d exited with %s while starting", index, code)
                    return False
                if not self._may_restart():
                    logger.error("workers keep dying (last: %d, exit %s): stopping", index, code)
                    return False
                logger.warning("worker %d exited with %s: starting a new one", index, code)
                self._serving.discard(index)
                self._stopped.discard(index)
                self._start(index)
        return self._ready

    def _forget_gauges(self, pid: int) -> None:
        # Its counters stay in the sums; its gauges (events waiting) died with it.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, self._metrics_dir)  # type: ignore[no-untyped-call]

    def _may_restart(self) -> bool:
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < 60] + [now]
        return len(self._deaths) <= RESTARTS_PER_MINUTE

    def _stop_all(self) -> None:
        procs = [p for p in self._procs.values() if p.exitcode is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                logger.error("worker %s did not stop in time: killed", proc.name)
                proc.kill()
                proc.join()
            self._forget_gauges(proc.pid)
        self._read_reports()

    @property
    def clean(self) -> bool:
        """Whether every worker that served stopped gracefully (one still starting had nothing)."""
        return self._serving <= self._stopped


@contextlib.contextmanager
def _workers_metrics() -> Iterator[str]:
    """A private ``PROMETHEUS_MULTIPROC_DIR`` for the workers started meanwhile."""
    # Imports prometheus_client before the variable is set: this process keeps its mode.
    from pigeon.collector._metrics import MULTIPROC_VARIABLE

    previous = os.environ.get(MULTIPROC_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="pigeon-metrics-") as directory:
        # Spawned workers inherit the environment: they pick it up at their start.
        os.environ[MULTIPROC_VARIABLE] = directory
        try:
            yield directory
        finally:
            if previous is None:
                os.environ.pop(MULTIPROC_VARIABLE, None)
            else:
                os.environ[MULTIPROC_VARIABLE] = previous


def serve_workers(
    config: CollectorConfig,
    workers: int,
    listener: socket.socket,
    *,
    metrics_listener: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
    on_stopped: Callable[[], None] | None = None,
) -> bool:
    """Serve ``listener`` with ``workers`` collector processes until SIGTERM or SIGINT.

    ``metrics_listener``, when given, is served by every worker too, for
    ``GET /metrics`` only (see ``CollectorApp``).

    Returns True when every worker started and, at the end, stopped cleanly
    (its requests answered and its events committed).
    """
    with (
        tempfile.TemporaryDirectory(prefix="pigeon-sessions-") as shared,
        _workers_metrics() as metrics_dir,
    ):
        if config.revocations_dir is None:  # a logout in one worker holds in all
            config = dataclasses.replace(config, revocations_dir=Path(shared))
        supervisor = _Supervisor(config, workers, (listener, metrics_listener), metrics_dir)
        started = supervisor.run(on_started or (lambda: None))
    if started and supervisor.clean and on_stopped is not None:
        on_stopped()
    return started and supervisor.clean
