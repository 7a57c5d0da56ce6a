"""Fork safety with real processes: a child never re-sends its parent's events."""

from __future__ import annotations

import multiprocessing
import os
import sys

import pytest

import pigeon
from tests.sdk._sink import Reply, Sink
from tests.sdk.conftest import QUICK, ClientFactory, records, sender_of, track_records

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns when forking a process that runs threads (ours does, by design).
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

HOUR = QUICK._replace(interval=3600.0)  # queued events stay queued until a flush


def run_in_child(body: object) -> int:
    """Fork; run ``body()`` in the child (truthy: exit 0); return the child's exit code."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = 0 if body() else 3  # type: ignore[operator]
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_sends_its_own_events_once_and_never_its_parents(
    sink: Sink, make_client: ClientFactory
) -> None:
    client = make_client(sink.url, policy=HOUR)
    track_records(client, [1])
    assert client.flush(timeout=10)
    track_records(client, [2, 3])  # queued in the parent when it forks
    parent_thread = sender_of(client)._thread

    def child() -> bool:
        sender = sender_of(client)
        fresh = sender._thread is None and not sender.queue
        track_records(client, [100, 101])
        delivered = client.flush(timeout=10)
        own_thread = sender._thread is not None and sender._thread is not parent_thread
        return fresh and delivered and own_thread and client.counters == {"sent": 2}

    assert run_in_child(child) == 0
    assert client.flush(timeout=10)
    events = sink.events()
    assert records(events) == [1, 2, 3, 100, 101]
    assert len({m["messageId"] for m in events}) == 5
    assert client.counters == {"sent": 3}


def test_a_child_forked_during_a_request_opens_its_own_connection(
    sink: Sink, make_client: ClientFactory
) -> None:
    sink.script(Reply(delay=1.0))  # the parent's first batch waits a second for its answer
    client = make_client(sink.url, policy=QUICK._replace(timeout=10.0))
    track_records(client, [1])
    assert sink.answering.wait(10)  # the parent's request is in flight on its connection

    def child() -> bool:
        track_records(client, [100])
        return client.flush(timeout=10)

    assert run_in_child(child) == 0
    assert client.flush(timeout=10)
    assert records(sink.events()) == [1, 100]
    assert len({r.client_port for r in sink.requests}) == 2


_pool_client: pigeon.Client | None = None


def _pool_task(n: int) -> int:
    assert _pool_client is not None
    track_records(_pool_client, [n])
    return os.getpid()


@pytest.mark.skipif(sys.platform == "win32", reason="the fork start method is POSIX-only")
def test_multiprocessing_pool_workers_deliver_their_events_once(
    sink: Sink, make_client: ClientFactory
) -> None:
    global _pool_client  # noqa: PLW0603  # the fork start method shares module globals
    _pool_client = client = make_client(sink.url, policy=HOUR)
    track_records(client, range(5))  # queued in the parent when the pool forks
    try:
        pool = multiprocessing.get_context("fork").Pool(2)
        pids = set(pool.map(_pool_task, range(10, 30), chunksize=1))
        pool.close()
        pool.join()  # workers exit normally: their exit flush delivers
    finally:
        _pool_client = None
    assert os.getpid() not in pids
    assert client.flush(timeout=10)
    assert records(sink.events()) == [*range(5), *range(10, 30)]
