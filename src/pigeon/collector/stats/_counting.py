"""Distinct installs of a dimension's values, counted only when a view needs them.

Distinct counting is the one read whose cost grows with the data (bitmap rows
per value); sums are cheap. A view that publishes a handful of a dimension's
many values reads every value's sums (``Store.sums``), decides from events
which values it may publish (a value with fewer than k events has fewer than k
installs), and counts installs of those only, through :class:`Installs`.

Values asked for by concurrent tasks in the same turn of the event loop are
counted in one store read, so a view can walk each version's list on its own
and still read the store once per round, not once per version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pigeon.collector.storage._base import Store

__all__ = ["Installs"]


class Installs:
    """Distinct installs of one dimension's values over one range, counted on demand.

    Call :meth:`count` with the values a decision needs, then read each with
    ``installs[value]``. A value is read from the store at most once.
    """

    def __init__(
        self, store: Store, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> None:
        self._store = store
        self._where = (app, dimension, first_day, last_day)
        self._known: dict[str, int] = {}
        self._pending: set[str] = set()
        self._round: asyncio.Task[None] | None = None  # the read the pending values join
        self._reading: dict[str, asyncio.Task[None]] = {}  # value -> the read counting it

    async def count(self, values: Iterable[str]) -> None:
        """Make every value of ``values`` known (one store read for all who ask together)."""
        waits: set[asyncio.Task[None]] = set()
        for value in values:
            if value in self._known:
                continue
            if value not in self._reading:
                if self._round is None:
                    self._round = asyncio.ensure_future(self._read())
                self._pending.add(value)
                self._reading[value] = self._round
            waits.add(self._reading[value])
        for wait in waits:
            await wait

    async def _read(self) -> None:
        # One turn of the loop first: the other tasks started together add their values.
        await asyncio.sleep(0)
        values, self._pending, self._round = self._pending, set(), None
        try:
            found = await self._store.distinct_installs(*self._where, values)
        finally:
            for value in values:
                del self._reading[value]
        for value in values:
            self._known[value] = found.get(value, 0)

    def __getitem__(self, value: str) -> int:
        """The installs of a value already counted (KeyError: it never was: a bug)."""
        return self._known[value]

    def get(self, value: str) -> int | None:
        """The installs of a value if counted, else ``None``."""
        return self._known.get(value)

    @property
    def read(self) -> int:
        """How many values were counted (tests check a view counts few)."""
        return len(self._known)
