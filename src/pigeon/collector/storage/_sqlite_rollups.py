"""The rollup deltas of one transaction, aggregated in Python before they touch SQLite.

Per transaction, every ``rollup_daily`` key is upserted once and every
``rollup_installs`` row is inserted once, and install rows the store wrote
recently are not even sent (a bounded :class:`InstallCache`): the rollup cost
stays a small fraction of the raw insert.

Per event, the buckets come from :func:`dimensions`, memoised by the event's
*signature* (every field it may read: all but the ids and the times). Events
of one day with the same buckets form a group (amounts summed, installs
collected), and only groups are expanded into rollup keys: the per-event
cost is a couple of dictionary look-ups whatever the number of dimensions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable

from pigeon.collector.storage._base import MS_PER_DAY, StoredEvent
from pigeon.collector.storage._dimensions import dimensions

__all__ = [
    "BucketMemo",
    "DailyKey",
    "InstallCache",
    "InstallRow",
    "RollupDelta",
    "install_key",
    "rollup_delta",
]

DailyKey = tuple[str, str, int, str]
"""``(app, dimension, day, value)``."""
InstallRow = tuple[str, str, int, str, int]
"""``(app, dimension, day, value, install)``."""

_install_keys: dict[str, int] = {}
_INSTALL_KEYS_MAX = 100_000


def install_key(anonymous_id: str) -> int:
    """The 64-bit signed hash of an install id kept in ``rollup_installs``."""
    key = _install_keys.get(anonymous_id)
    if key is None:
        digest = hashlib.blake2b(anonymous_id.encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        if len(_install_keys) >= _INSTALL_KEYS_MAX:
            _install_keys.clear()
        _install_keys[anonymous_id] = key
    return key


class InstallCache:
    """A bounded memory of install rows already committed, so they are not re-sent.

    Two generations of hashes: when the young one is full it becomes the old
    one and the previous old one is forgotten, so memory stays bounded and
    recently seen rows stay known. A forgotten row costs one ``INSERT OR
    IGNORE``, never a wrong count. (Rows are known by a 64-bit hash: a
    collision, about one chance in 10^13 per row, would miss one install.)
    """

    def __init__(self, capacity: int = 262_144) -> None:
        """Remember up to ``capacity`` rows."""
        self._half = max(1, capacity // 2)
        self._young: set[int] = set()
        self._old: set[int] = set()

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

    def clear(self) -> None:
        """Forget everything (after rows were deleted from the store)."""
        self._young.clear()
        self._old.clear()


class RollupDelta:
    """What one transaction adds to the rollup tables."""

    __slots__ = ("daily", "install_hashes", "installs")

    def __init__(self) -> None:
        """Start empty."""
        self.daily: dict[DailyKey, list[int]] = {}
        self.installs: list[InstallRow] = []
        self.install_hashes: list[int] = []


def _signature(event: StoredEvent) -> Hashable:
    # Everything `dimensions()` may look at: if a dimension ever reads another
    # field, it must be added here (a test compares against a direct count).
    props = event.properties
    return (
        event.app,
        event.event,
        event.app_version,
        event.python_version,
        event.system,
        event.release,
        event.machine,
        event.platform,
        event.library,
        event.catalog_version,
        tuple(props.items()) if props else (),
    )


Buckets = tuple[tuple[str, str], ...]
"""The ``(dimension, value)`` pairs one event counts in."""


class _Entry:
    """What the memo knows of one signature: its buckets (by id) and non-zero amounts."""

    __slots__ = ("amounts", "bucket_id")

    def __init__(self, bucket_id: int, amounts: tuple[tuple[int, int], ...]) -> None:
        self.bucket_id = bucket_id
        self.amounts = amounts


class BucketMemo:
    """Signature -> buckets, bounded; equal bucket tuples share one small integer id.

    One per writer thread (not thread-safe: ids index into ``buckets``).
    """

    def __init__(self, capacity: int = 32_768) -> None:
        self._capacity = capacity
        self._entries: dict[Hashable, _Entry] = {}
        self._ids: dict[Buckets, int] = {}
        self.buckets: list[Buckets] = []

    def entry(self, event: StoredEvent) -> _Entry:
        sig = _signature(event)
        found = self._entries.get(sig)
        if found is None:
            if len(self._entries) >= self._capacity:  # entries refer to ids: forget both
                self._entries.clear()
                self._ids.clear()
                self.buckets.clear()
            found = self._entries[sig] = self._compute(event)
        return found

    def _compute(self, event: StoredEvent) -> _Entry:
        triples = list(dimensions(event))
        buckets = tuple((dimension, value) for dimension, value, _ in triples)
        bucket_id = self._ids.get(buckets)
        if bucket_id is None:
            bucket_id = self._ids[buckets] = len(self.buckets)
            self.buckets.append(buckets)
        amounts = tuple((i, amount) for i, (_, _, amount) in enumerate(triples) if amount)
        return _Entry(bucket_id, amounts)


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
    groups: dict[tuple[str, int, int], _Group] = {}
    entry_of = memo.entry
    known = memo.buckets
    for event in events:
        entry = entry_of(event)
        key = (event.app, event.timestamp_ms // MS_PER_DAY, entry.bucket_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(known[entry.bucket_id])
        group.count += 1
        for position, amount in entry.amounts:
            group.amounts[position] += amount
        group.installs.add(install_key(event.anonymous_id))
    delta = RollupDelta()
    daily = delta.daily
    members: dict[DailyKey, set[int]] = {}
    for (app, day, _), group in groups.items():
        for position, (dimension, value) in enumerate(group.buckets):
            daily_key = (app, dimension, day, value)
            totals = daily.get(daily_key)
            if totals is None:
                daily[daily_key] = [group.count, group.amounts[position]]
                members[daily_key] = set(group.installs)
            else:
                totals[0] += group.count
                totals[1] += group.amounts[position]
                members[daily_key] |= group.installs
    for daily_key, installs in members.items():
        for install in installs:
            row = (*daily_key, install)
            row_hash = hash(row)
            if row_hash not in cache:
                delta.installs.append(row)
                delta.install_hashes.append(row_hash)
    return delta
