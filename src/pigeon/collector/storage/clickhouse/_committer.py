"""Group commit on a worker thread: many concurrent requests, one large statement.

Requests hand their items to :meth:`GroupCommitter.submit` and await the result.
The worker takes every request waiting, up to ``max_items`` items, runs one
``flush`` for all of them, and only then completes their futures: a caller's
await returns after the statement that holds its items succeeded.

A flush starts when ``min_items`` items wait, or when ``interval`` seconds passed
since the previous flush started, whichever comes first (a write arriving after
a quiet period goes out at once). For ClickHouse that means few large inserts,
each a new part on disk: about one per second and collector under light load,
inserts of thousands of rows back to back under heavy load; the latency cost is
at most ``interval``. Requests waiting for a flush hold no thread, only a future.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pigeon.collector.storage._errors import StoreClosedError, StoreError
from pigeon.collector.storage.clickhouse._connection import error_reason

__all__ = ["GroupCommitter"]

logger = logging.getLogger("pigeon.collector")

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[list[Sequence[T]]], list[R]]
"""Handles a group: one item sequence per request in, one result per request out."""


class _Request(Generic[T, R]):
    __slots__ = ("future", "items", "loop")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[R], items: Sequence[T]
    ) -> None:
        self.loop = loop
        self.future = future
        self.items = items


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():  # the caller was cancelled; the flush happened anyway
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class GroupCommitter(Generic[T, R]):
    """Runs ``flush`` on a worker thread for groups of concurrent requests."""

    def __init__(
        self,
        name: str,
        flush: Flush[T, R],
        *,
        interval: float,
        min_items: int,
        max_items: int,
        what: str,
    ) -> None:
        """Start the worker thread.

        Args:
            name: the thread's name.
            flush: handles one group (runs on the worker thread).
            interval: seconds between the starts of two flushes, unless ``min_items``
                wait sooner.
            min_items: this many waiting items start a flush at once.
            max_items: most items in one flush (a larger request goes alone).
            what: what a flush does, for error messages ("store the events").
        """
        self._flush = flush
        self._interval = interval
        self._min_items = min(min_items, max_items)
        self._max_items = max_items
        self._what = what
        self._pending: collections.deque[_Request[T, R]] = collections.deque()
        self._pending_items = 0
        self._cond = threading.Condition()
        self._closing = False
        self.flushes = 0
        """How many flushes ran (so tests can see requests were grouped)."""
        self.observer: Callable[[int, float], None] | None = None
        """Told ``(items, seconds)`` after each successful flush, before its requests' answers."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, items: Sequence[T]) -> R:
        """Queue ``items``; return this request's result once its group was flushed.

        Raises:
            StoreClosedError: the committer was closed.
            StoreError: the flush failed (nothing of it may be assumed stored).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._cond:
            if self._closing:
                raise StoreClosedError("the store is closed")
            self._pending.append(_Request(loop, future, items))
            self._pending_items += len(items)
            self._cond.notify()
        return await future

    def close(self) -> None:
        """Flush everything queued, then stop the thread (blocks until done)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _take(self, next_at: float) -> list[_Request[T, R]]:
        """Wait for work and the flush time; take one group (empty: stop)."""
        with self._cond:
            while not self._pending and not self._closing:
                self._cond.wait()
            while not self._closing and self._pending_items < self._min_items:
                remaining = next_at - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            group: list[_Request[T, R]] = []
            size = 0
            while self._pending and (
                not group or size + len(self._pending[0].items) <= self._max_items
            ):
                request = self._pending.popleft()
                group.append(request)
                size += len(request.items)
            self._pending_items -= size
            return group

    def _tell(self, items: int, started: float) -> None:
        observer = self.observer
        if observer is None:
            return
        try:  # a failing observer (metrics) must not fail a flush that succeeded
            observer(items, time.perf_counter() - started)
        except Exception:
            logger.exception("the flush observer failed")

    def _run(self) -> None:
        next_at = 0.0
        while True:
            group = self._take(next_at)
            if not group:
                return
            next_at = time.monotonic() + self._interval
            started = time.perf_counter()
            try:
                outcomes: list[R | BaseException] = list(
                    self._flush([request.items for request in group])
                )
            except Exception as exc:  # every waiting request must get an answer
                error = StoreError(f"could not {self._what}: {error_reason(exc)}")
                outcomes = [error] * len(group)
            else:
                self._tell(sum(len(request.items) for request in group), started)
            self.flushes += 1
            for request, outcome in zip(group, outcomes, strict=True):
                # RuntimeError: that event loop is closed, so nobody waits any more.
                with contextlib.suppress(RuntimeError):
                    request.loop.call_soon_threadsafe(_settle, request.future, outcome)
