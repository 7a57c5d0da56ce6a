"""The rollup deltas of one transaction, aggregated in Python before they touch SQLite.

Per transaction, every ``rollup_daily`` key is upserted once and every
``rollup_installs`` row is inserted once, and install rows the store wrote
recently are not even sent (a bounded :class:`InstallCache`): the rollup cost
stays a small fraction of the raw insert.

Per event, the buckets come from :func:`dimensions`, memoised by the event's
:func:`signature` without the amount's property, which is read per event
(see ``AMOUNTS``). Events
of one day with the same buckets form a group (amounts summed, installs
collected), and only groups are expanded into rollup keys: the per-event
cost is a couple of dictionary look-ups whatever the number of dimensions.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from pigeon.collector.storage._base import MS_PER_DAY, StoredEvent, week_of
from pigeon.collector.storage._dimensions import AMOUNTS, amount_of, dimensions, signature
from pigeon.collector.storage._installs import install_key

__all__ = [
    "BucketMemo",
    "DailyKey",
    "InstallCache",
    "InstallRow",
    "RollupDelta",
    "WeeklyKey",
    "rollup_delta",
]

DailyKey = tuple[str, str, int, str]
"""``(app, dimension, day, value)``."""
WeeklyKey = tuple[str, str, int, str]
"""``(app, dimension, week, value)``."""
InstallRow = tuple[str, str, int, str, int]
"""``(app, dimension, day, value, install)``."""


class InstallCache:
    """A bounded memory of install rows already committed, so they are not re-sent.

    Two generations of hashes: when the young one is full it becomes the old
    one and the previous old one is forgotten, so memory stays bounded and
    recently seen rows stay known. A forgotten row costs one ``INSERT OR
    IGNORE``, never a wrong count. (Rows are known by a 64-bit hash: a
    collision, about one chance in 10^13 per row, would miss one install.)
    """

    def __init__(self, capacity: int = 262_144, max_ordinals: int = 1_000_000) -> None:
        """Remember up to ``capacity`` rows and ``max_ordinals`` install ordinals."""
        self._half = max(1, capacity // 2)
        self._young: set[int] = set()
        self._old: set[int] = set()
        self._max_ordinals = max_ordinals
        self.ordinals: dict[int, int] = {}
        """Install key -> ordinal, as in ``install_ordinals``."""
        self.generation: int | None = None
        """The store generation these memories belong to (see ``_sqlite_shared``)."""
        self.apps: set[str] = set()
        """Apps known to be in the ``apps`` table."""

    def __contains__(self, row_hash: object) -> bool:
        """Whether a row (by its hash) is known to be in the store."""
        return row_hash in self._young or row_hash in self._old

    def __len__(self) -> int:
        """How many row hashes are remembered."""
        return len(self._young) + len(self._old)

    def add_all(self, row_hashes: Iterable[int]) -> None:
        """Remember rows that were just committed."""
        self._young.update(row_hashes)
        if len(self._young) > self._half:
            self._old = self._young
            self._young = set()
        if len(self.ordinals) > self._max_ordinals:
            self.ordinals.clear()  # looked up again when needed

    def clear(self) -> None:
        """Forget everything (after rows were deleted, or a transaction rolled back)."""
        self._young.clear()
        self._old.clear()
        self.ordinals.clear()
        self.generation = None
        self.apps.clear()


class RollupDelta:
    """What one transaction adds to the rollup tables."""

    __slots__ = ("apps", "daily", "install_hashes", "installs", "weekly")

    def __init__(self) -> None:
        """Start empty."""
        self.apps: set[str] = set()
        self.daily: dict[DailyKey, list[int]] = {}
        """``[events, amount]`` per day and value."""
        self.weekly: dict[WeeklyKey, list[int]] = {}
        """The same sums per week and value (``rollup_weekly``)."""
        self.installs: list[InstallRow] = []
        self.install_hashes: list[int] = []


Buckets = tuple[tuple[str, str], ...]
"""The ``(dimension, value)`` pairs one event counts in."""


class _Entry:
    """What the memo knows of one signature: its buckets, and which one sums an amount."""

    __slots__ = ("amount_at", "buckets")

    def __init__(self, buckets: Buckets, amount_at: int | None) -> None:
        self.buckets = buckets
        self.amount_at = amount_at


class BucketMemo:
    """Signature -> buckets, bounded; equal bucket tuples are one shared object.

    Sharing lets :func:`rollup_delta` group events by the identity of their
    buckets (``id()``, no tuple hashing per event). One per writer thread.
    """

    def __init__(self, capacity: int = 32_768, only: frozenset[str] | None = None) -> None:
        """Remember ``capacity`` signatures; with ``only``, count those dimensions alone."""
        self._capacity = capacity
        self._only = only
        self._entries: dict[Hashable, _Entry] = {}
        self._shared: dict[Buckets, Buckets] = {}

    def entry(self, event: StoredEvent) -> _Entry:
        spec = AMOUNTS.get(event.event)
        sig = signature(event, without=spec[1] if spec is not None else None)
        found = self._entries.get(sig)
        if found is None:
            if len(self._entries) >= self._capacity:
                self._entries.clear()
                self._shared.clear()
            found = self._entries[sig] = self._compute(event)
        return found

    def _compute(self, event: StoredEvent) -> _Entry:
        only = self._only
        buckets = tuple(
            (dimension, value)
            for dimension, value, _ in dimensions(event)
            if only is None or dimension in only
        )
        buckets = self._shared.setdefault(buckets, buckets)
        spec = AMOUNTS.get(event.event)
        names = [dimension for dimension, _ in buckets]
        amount_at = names.index(spec[0]) if spec is not None and spec[0] in names else None
        return _Entry(buckets, amount_at)


class _Group:
    """Events of one app and day counting in the same buckets."""

    __slots__ = ("amounts", "buckets", "count", "installs")

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets
        self.count = 0
        self.amounts = [0] * len(buckets)
        self.installs: set[int] = set()


def rollup_delta(
    events: Iterable[StoredEvent], cache: InstallCache, memo: BucketMemo
) -> RollupDelta:
    """Aggregate the rollup changes of newly stored ``events``."""
    # Keyed by the buckets' identity: each group holds its tuple, so no id is
    # reused during this call, even when the memo forgets entries mid-way (two
    # groups with equal buckets then merge below, in `daily`).
    groups: dict[tuple[str, int, int], _Group] = {}
    entry_of = memo.entry
    for event in events:
        entry = entry_of(event)
        buckets = entry.buckets
        key = (event.app, event.timestamp_ms // MS_PER_DAY, id(buckets))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(buckets)
        group.count += 1
        if entry.amount_at is not None:
            group.amounts[entry.amount_at] += amount_of(event)
        group.installs.add(install_key(event.anonymous_id))
    delta = RollupDelta()
    daily, weekly = delta.daily, delta.weekly
    members: dict[DailyKey, set[int]] = {}
    for (app, day, _), group in groups.items():
        delta.apps.add(app)
        week = week_of(day)
        for position, (dimension, value) in enumerate(group.buckets):
            amount = group.amounts[position]
            daily_key = (app, dimension, day, value)
            totals = daily.get(daily_key)
            if totals is None:
                daily[daily_key] = [group.count, amount]
                members[daily_key] = set(group.installs)
            else:
                totals[0] += group.count
                totals[1] += amount
                members[daily_key] |= group.installs
            week_totals = weekly.setdefault((app, dimension, week, value), [0, 0])
            week_totals[0] += group.count
            week_totals[1] += amount
    rows, hashes = delta.installs, delta.install_hashes
    for daily_key, installs in members.items():
        key_hash = hash(daily_key)  # once per key: a row is known by (key hash, install)
        for install in installs:
            row_hash = hash((key_hash, install))
            if row_hash not in cache:
                rows.append((*daily_key, install))
                hashes.append(row_hash)
    return delta
