"""Scenarios that fork, pool and spawn real processes: ``python -m tests.sdk.processes.drive``.

Each scenario records every tracked event on standard output (see
:mod:`tests.sdk.processes.probe`) and exits 0 when every explicit flush
succeeded. The test then compares what was tracked with what the sink
acknowledged: each event exactly once.

Scenarios (all numbers are bounded; all traffic goes to the sink on 127.0.0.1):

- ``fresh SEED``: a new process tracks 100 events and forks at a random moment
  of its sender's first milliseconds (starting, importing, first request).
- ``life SEED ROUNDS``: one process forks ROUNDS times at random moments while
  its sender sends, retries, backs off and reconnects (the sink's script).
- ``threads SEED FORKS``: a thread forks FORKS times while another tracks.
- ``pool METHOD``, ``executor METHOD``, ``process METHOD``: multiprocessing
  ``Pool``, ``concurrent.futures.ProcessPoolExecutor`` and plain ``Process``
  with the start method METHOD (``fork``, ``forkserver``, ``spawn``).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pigeon
from tests.sdk.processes.probe import make_client, report_flush, track

CHILD_DEADLINE = 30.0  # a child that is not done by then fails the scenario


def fork_child(client: pigeon.Client, numbers: range) -> int:
    """Fork; the child tracks ``numbers``, flushes and leaves; return the child's pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for n in numbers:
                track(client, "Work", n)
            code = 0 if report_flush(client) else 2
        finally:
            os._exit(code)
    return pid


def reap(pid: int) -> bool:
    """Wait (bounded) for a child; True when it exited 0."""
    deadline = time.monotonic() + CHILD_DEADLINE
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return False


def fresh(seed: int) -> bool:
    """Fork at a random moment of a brand-new sender's life."""
    rng = random.Random(seed)
    client = make_client()
    for n in range(100):  # the 100th fills a batch: the thread starts and sends at once
        track(client, "Work", n)
    time.sleep(rng.uniform(0.0, 0.03))  # the fork's moment is what this scenario varies
    child_ok = reap(fork_child(client, range(1000, 1003)))
    return report_flush(client) and child_ok


def life(seed: int, rounds: int) -> bool:
    """Fork repeatedly while the sender sends, retries, backs off and reconnects."""
    rng = random.Random(seed)
    client = make_client()
    ok = True
    for r in range(rounds):
        base = 10_000 * (r + 1)
        for n in range(rng.randint(1, 150)):
            track(client, "Work", base + n)
        time.sleep(rng.uniform(0.0, 0.05))  # the fork's moment is what this scenario varies
        ok = reap(fork_child(client, range(base + 5000, base + 5000 + rng.randint(1, 3)))) and ok
    return report_flush(client, timeout=60.0) and ok


def threads(seed: int, forks: int) -> bool:
    """One thread tracks without pause while another forks."""
    rng = random.Random(seed)
    client = make_client()
    done = threading.Event()

    def tracker() -> None:
        for n in range(20_000):
            if done.is_set():
                return
            track(client, "Work", n)
            if n % 50 == 0:
                time.sleep(0.001)  # let the sender keep up: the queue is bounded

    thread = threading.Thread(target=tracker)
    thread.start()
    ok = True
    for k in range(forks):
        time.sleep(rng.uniform(0.0, 0.02))
        ok = reap(fork_child(client, range(100_000 + 10 * k, 100_000 + 10 * k + 2))) and ok
    done.set()
    thread.join(timeout=CHILD_DEADLINE)
    return report_flush(client, timeout=60.0) and ok and not thread.is_alive()


def pool(method: str) -> bool:
    """``multiprocessing.Pool``: every task's event once, delivered at the workers' exit."""
    from tests.sdk.processes import app

    track(app.client, "Work", 0)
    with multiprocessing.get_context(method).Pool(2) as workers:
        workers.map(app.work, range(1, 41), chunksize=1)
        workers.close()
        workers.join()  # a normal exit: the workers' exit flush runs
    return report_flush(app.client)


def executor(method: str) -> bool:
    """``ProcessPoolExecutor``: every task's event once, delivered at the workers' exit."""
    from tests.sdk.processes import app

    track(app.client, "Work", 0)
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as workers:
        list(workers.map(app.work, range(1, 41)))
    return report_flush(app.client)


def process(method: str) -> bool:
    """Plain ``multiprocessing.Process`` targets."""
    from tests.sdk.processes import app

    track(app.client, "Work", 0)
    context: Any = multiprocessing.get_context(method)  # typeshed: BaseContext has no Process
    children = [context.Process(target=app.work, args=(n,)) for n in range(1, 5)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=CHILD_DEADLINE)
    return report_flush(app.client) and all(c.exitcode == 0 for c in children)


def main(argv: list[str]) -> int:
    scenario, *args = argv
    numbers = [int(a) for a in args if a.isdigit()]
    if scenario == "fresh":
        ok = fresh(*numbers)
    elif scenario == "life":
        ok = life(*numbers)
    elif scenario == "threads":
        ok = threads(*numbers)
    elif scenario in ("pool", "executor", "process"):
        ok = {"pool": pool, "executor": executor, "process": process}[scenario](args[0])
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
