r"""The ``release_health`` view: each version's errors and crashes, and what the latest changed.

Built on :mod:`._health` (rates are events per 100 active installs of that
version per day) and published through the k-anonymity rules of
:mod:`._anonymity`, made precise for problems that belong to a version:

* A version is listed only when at least ``min_installs`` distinct installs ran
  it over the range. The others are **left out** (not merged into ``"other"``:
  a rate of a mix of versions means nothing).
* A version's overall error (crash) rate adds up every problem of its kind. Its
  installs are the *sum* over those problems (an upper bound, as for
  ``"other"``): the rate is published when that sum reaches the threshold, or
  when it is zero, and is ``None`` otherwise.
* A problem (an error code and entity type, a crash signature) is named, with
  its numbers, only where its own distinct installs reach the threshold. Under
  it, it is not named at all.
* In the comparison of the latest version with the previous one (the two
  newest listed versions, see :func:`._health.latest_pair`), a problem is named
  when it reaches the threshold in at least one of the two. A side that
  reported it zero times shows zeros; a side under the threshold shows
  ``None``, and then the status is ``"hidden"`` with no ratio (a status or
  ratio would bound the hidden numbers). So ``"new"`` always means the previous
  version reported it zero times, and ``"gone"`` that the latest did.
* Top crashes over the range: signatures that reach the threshold, the listed
  versions in which they reach it, and their most frequent stack among the
  stacks that reach it themselves (``None`` when none does).

The comparison lists at most :data:`CHANGES` changes of each kind, the most
severe first (new, then worse by ratio, ...; see :func:`._health.compare`), and
says whether it left any out (``more``). The export asks for every change.

Distinct installs are counted only of the values whose count decides what is
published (:mod:`._counting`): a problem with fewer than k events has fewer
than k installs, the lists are walked in the order of their events, and a
version's overall rate is decided from bounds where they suffice. The answer
is the one counting every value would give; in the 10M-event benchmark store
over 90 days it counts 120 of the 1,386 (version, error) values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NamedTuple

from pigeon.collector.stats._counting import Installs
from pigeon.collector.stats._health import (
    WORSE_FACTOR,
    Change,
    compare,
    latest_pair,
    rate,
    versions_newest_first,
)
from pigeon.collector.stats._query import StatsQuery
from pigeon.collector.storage._base import RollupRow, Store, SumRow

__all__ = ["CHANGES", "TOP_CRASHES", "TOP_PER_VERSION", "release_health"]

JSON = dict[str, Any]

TOP_PER_VERSION: Final = 5
"""How many errors and crashes each version lists (the most frequent)."""

TOP_CRASHES: Final = 20
"""How many crash signatures the range's top list carries."""

CHANGES: Final = 20
"""How many changes of each kind the comparison lists by default (the most severe)."""

RATE_DIGITS: Final = 4

_SPARE: Final = 5
"""Candidates counted beyond those a list still needs: most reach k, a few do not.

At least 1: once a list is full, :func:`_first` still counts candidates tied
with its last entry, and a batch of none would never end the walk.
"""


class _Seen(NamedTuple):
    """A problem of one version as the sums give it (its installs are counted on demand)."""

    key: str
    events: int
    rate: float


class _Kind:
    """One kind of problem (errors or crashes): each version's problems and their installs."""

    def __init__(
        self, sums: Iterable[SumRow], install_days: dict[str, int], installs: Installs, k: int
    ) -> None:
        self.k = k
        self.install_days = install_days
        self.problems: dict[str, dict[str, _Seen]] = {}
        for row in sums:  # by events, most first, then value: each version's in that order
            version, _, key = row.value.partition("\t")
            seen = _Seen(key, row.events, rate(row.events, install_days.get(version, 0)))
            self.problems.setdefault(version, {})[key] = seen
        self.installs = installs

    def of(self, version: str) -> dict[str, _Seen]:
        """The problems of ``version`` (key -> problem), most reported first."""
        return self.problems.get(version, {})

    async def count(self, pairs: Iterable[tuple[str, _Seen]]) -> None:
        """Count the installs of those ``(version, problem)`` that may reach k."""
        await self.installs.count(f"{v}\t{p.key}" for v, p in pairs if p.events >= self.k)

    def reach(self, version: str, problem: _Seen) -> int | None:
        """The problem's installs in ``version`` when they reach k (counted), else None."""
        if problem.events < self.k:
            return None  # installs <= events: never counted, never needed
        installs = self.installs[f"{version}\t{problem.key}"]
        return installs if installs >= self.k else None


async def release_health(
    store: Store, query: StatsQuery, min_installs: int, *, changes: int | None = CHANGES
) -> JSON:
    """Per version (newest first) rates and top problems, latest vs previous, top crashes.

    ``changes`` bounds each kind's list in the comparison (``None``: every change).
    """
    app, first, last = query.app, query.range.first, query.range.last
    totals, series, error_sums, crash_sums, name_sums, stack_sums = await asyncio.gather(
        store.totals(app, "version", first, last),
        store.series(app, "version", first, last),
        store.sums(app, "error_version", first, last),
        store.sums(app, "crash_version", first, last),
        store.sums(app, "crash", first, last),
        store.sums(app, "crash_frames", first, last),
    )

    def installs_of(dimension: str) -> Installs:
        return Installs(store, app, dimension, first, last)

    k = min_installs
    exposure = _install_days(series)
    errors = _Kind(error_sums, exposure, installs_of("error_version"), k)
    crashes = _Kind(crash_sums, exposure, installs_of("crash_version"), k)
    exceptions = _exceptions(name_sums)

    def error_fields(key: str) -> JSON:
        code, _, kind = key.partition("\t")
        # The label of the errors view (`_views.label_of`, which imports this module).
        return {"code": code, "type": kind, "label": f"{code} ({kind})" if kind else code}

    def crash_fields(key: str) -> JSON:
        return {"signature": key, "exception": exceptions.get(key, "")}

    version_installs = {row.value: row.installs for row in totals}
    listed = versions_newest_first([v for v, n in version_installs.items() if n >= k])

    async def version_entry(version: str) -> JSON:
        top_errors, top_crashes = await asyncio.gather(
            _top(errors, version, error_fields), _top(crashes, version, crash_fields)
        )
        # After the tops: their counts tighten the bounds of the overall rates.
        (error_events, error_rate), (crash_events, crash_rate) = await asyncio.gather(
            _overall(errors, version), _overall(crashes, version)
        )
        return {
            "version": version,
            "installs": version_installs[version],
            "install_days": exposure.get(version, 0),
            "error_events": error_events,
            "error_rate": error_rate,
            "crash_events": crash_events,
            "crash_rate": crash_rate,
            "top_errors": top_errors,
            "top_crashes": top_crashes,
        }

    async def comparison() -> JSON | None:
        pair = latest_pair(version_installs, k)
        if pair is None:
            return None
        previous, latest = pair
        (error_rows, more_errors), (crash_rows, more_crashes) = await asyncio.gather(
            _changes(errors, (previous, latest), changes, error_fields),
            _changes(crashes, (previous, latest), changes, crash_fields),
        )
        return {
            "previous": previous,
            "latest": latest,
            "factor": WORSE_FACTOR,
            "limit": changes,
            "errors": error_rows,
            "crashes": crash_rows,
            "more": {"errors": more_errors, "crashes": more_crashes},
        }

    versions, compared, top_crashes = await asyncio.gather(
        asyncio.gather(*(version_entry(v) for v in listed)),
        comparison(),
        _top_crashes(
            crashes,
            listed,
            names=name_sums,
            stacks=stack_sums,
            name_installs=installs_of("crash"),
            stack_installs=installs_of("crash_frames"),
        ),
    )
    return {
        "rate": "events per 100 active installs of the version per day",
        "versions": list(versions),
        "comparison": compared,
        "top_crashes": top_crashes,
    }


def _rate(value: float) -> float:
    return round(value, RATE_DIGITS)


def _install_days(series: Iterable[RollupRow]) -> dict[str, int]:
    """Each version's sum over the days of the day's active installs."""
    days: dict[str, int] = {}
    for row in series:
        days[row.value] = days.get(row.value, 0) + row.installs
    return days


def _exceptions(names: Iterable[SumRow]) -> dict[str, str]:
    """Signature -> its exception class (the most reported, should two ever share one)."""
    best: dict[str, tuple[int, str]] = {}
    for row in names:
        signature, _, exception = row.value.partition("\t")
        if row.events > best.get(signature, (-1, ""))[0]:
            best[signature] = (row.events, exception)
    return {signature: exception for signature, (_, exception) in best.items()}


async def _first(
    candidates: Sequence[SumRow], installs: Installs, k: int, n: int
) -> list[tuple[SumRow, int]]:
    """The ``n`` first candidates by (events, installs, value) whose installs reach ``k``.

    ``candidates`` come by events, most first: the walk counts installs a few
    candidates at a time and stops once no uncounted candidate can enter the
    list (fewer events than the ``n``-th found; equal events could tie on installs).
    """
    queue = [row for row in candidates if row.events >= k]
    found: list[tuple[SumRow, int]] = []
    done = 0
    while done < len(queue):
        if len(found) >= n and queue[done].events < found[n - 1][0].events:
            break
        batch = queue[done : done + max(n - len(found), 0) + _SPARE]
        await installs.count(row.value for row in batch)
        found += [(row, installs[row.value]) for row in batch if installs[row.value] >= k]
        found.sort(key=lambda pair: (-pair[0].events, -pair[1], pair[0].value))
        done += len(batch)
    return found[:n]


def _numbers(problem: _Seen, installs: int) -> JSON:
    return {"events": problem.events, "installs": installs, "rate": _rate(problem.rate)}


async def _top(kind: _Kind, version: str, fields: Callable[[str], JSON]) -> list[JSON]:
    problems = kind.of(version)
    rows = [SumRow(f"{version}\t{p.key}", p.events, 0) for p in problems.values()]
    shown = await _first(rows, kind.installs, kind.k, TOP_PER_VERSION)
    out = []
    for row, installs in shown:
        problem = problems[row.value.partition("\t")[2]]
        out.append({**fields(problem.key), **_numbers(problem, installs)})
    return out


async def _overall(kind: _Kind, version: str) -> tuple[int | None, float | None]:
    """All problems of one kind in ``version``: events and rate, ``None`` when hidden.

    Hidden when the sum of its problems' installs is under ``k`` (and not zero).
    Each problem has at least one install and at most its events, so the sum is
    counted only when those bounds leave the answer open.
    """
    problems = kind.of(version)
    events = sum(p.events for p in problems.values())
    if not problems:
        return 0, 0.0

    def bounds() -> tuple[int, int]:
        low = high = 0
        for problem in problems.values():
            value = f"{version}\t{problem.key}"
            counted = kind.installs.get(value)
            low += 1 if counted is None else counted
            high += problem.events if counted is None else counted
        return low, high

    low, high = bounds()
    if low < kind.k <= high:
        await kind.installs.count(f"{version}\t{key}" for key in problems)
        low, high = bounds()
    if low < kind.k:
        return None, None
    return events, _rate(rate(events, kind.install_days.get(version, 0)))


_ZERO: Final[JSON] = {"events": 0, "installs": 0, "rate": 0.0}


def _side(kind: _Kind, version: str, problem: _Seen | None) -> JSON | None:
    """One version's numbers of a problem: zeros when not reported, ``None`` under ``k``."""
    if problem is None:
        return dict(_ZERO)
    installs = kind.reach(version, problem)
    return None if installs is None else _numbers(problem, installs)


async def _changes(
    kind: _Kind, pair: tuple[str, str], limit: int | None, fields: Callable[[str], JSON]
) -> tuple[list[JSON], bool]:
    """The comparison's rows of one kind, most severe first, and whether any were left out."""
    previous, latest = pair
    k = kind.k
    candidates = [
        change
        for change in compare(kind.of(previous), kind.of(latest))
        if any(p is not None and p.events >= k for p in (change.previous, change.latest))
    ]
    wanted = len(candidates) if limit is None else limit + 1  # one more: were any left out?
    out: list[JSON] = []
    done = 0
    while done < len(candidates) and len(out) < wanted:
        batch = candidates[done : done + wanted - len(out) + _SPARE]
        await kind.count(_sides(batch, pair))
        out += [row for change in batch if (row := _change_row(kind, change, pair, fields))]
        done += len(batch)
    if limit is None or len(out) <= limit:
        return out, False
    return out[:limit], True


def _sides(changes: Iterable[Change[_Seen]], pair: tuple[str, str]) -> Iterable[tuple[str, _Seen]]:
    previous, latest = pair
    for change in changes:
        if change.previous is not None:
            yield previous, change.previous
        if change.latest is not None:
            yield latest, change.latest


def _change_row(
    kind: _Kind, change: Change[_Seen], pair: tuple[str, str], fields: Callable[[str], JSON]
) -> JSON | None:
    before = _side(kind, pair[0], change.previous)
    after = _side(kind, pair[1], change.latest)
    reached = [
        side is not None and problem is not None
        for side, problem in ((before, change.previous), (after, change.latest))
    ]
    if not any(reached):
        return None  # never named: under the threshold wherever it was reported
    hidden = before is None or after is None
    ratio = None if hidden or change.ratio is None else _rate(change.ratio)
    return {
        **fields(change.key),
        "status": "hidden" if hidden else change.status,
        "ratio": ratio,
        "previous": before,
        "latest": after,
    }


async def _top_crashes(
    crashes: _Kind,
    listed: Sequence[str],
    *,
    names: Sequence[SumRow],
    stacks: Sequence[SumRow],
    name_installs: Installs,
    stack_installs: Installs,
) -> list[JSON]:
    """The most reported signatures, the versions where each reaches k, its best stack."""
    k = crashes.k
    shown = await _first(names, name_installs, k, TOP_CRASHES)
    wanted = list(dict.fromkeys(row.value.partition("\t")[0] for row, _ in shown))
    chosen = set(wanted)
    candidates: dict[str, list[SumRow]] = {}
    for row in stacks:  # by events, most first, then value: the first to reach k is the best
        signature = row.value.partition("\t")[0]
        if signature in chosen and row.events >= k:
            candidates.setdefault(signature, []).append(row)
    in_versions = [
        (version, problem)
        for version in listed
        for signature in wanted
        if (problem := crashes.of(version).get(signature)) is not None
    ]

    async def best_stack(signature: str) -> SumRow | None:
        # Most often the most frequent stack reaches k: count the next only when not.
        for row in candidates.get(signature, []):
            await stack_installs.count([row.value])
            if stack_installs[row.value] >= k:
                return row
        return None

    _, stacks_found = await asyncio.gather(
        crashes.count(in_versions), asyncio.gather(*(best_stack(s) for s in wanted))
    )
    best_of = dict(zip(wanted, stacks_found, strict=True))
    out = []
    for row, installs in shown:
        signature, _, exception = row.value.partition("\t")
        versions = [
            version
            for version in listed
            if (p := crashes.of(version).get(signature)) is not None
            and crashes.reach(version, p) is not None
        ]
        best = best_of[signature]
        out.append(
            {
                "signature": signature,
                "exception": exception,
                "events": row.events,
                "installs": installs,
                "versions": versions,
                "stack": None
                if best is None
                else [f for f in best.value.partition("\t")[2].split("\n") if f],
            }
        )
    return out
