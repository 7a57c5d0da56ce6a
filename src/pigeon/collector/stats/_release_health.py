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
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from pigeon.collector.stats._health import (
    WORSE_FACTOR,
    Change,
    Problem,
    VersionHealth,
    build_health,
    compare,
    latest_pair,
    rate,
    versions_newest_first,
)
from pigeon.collector.stats._query import StatsQuery
from pigeon.collector.storage._base import RollupRow, Store

__all__ = ["TOP_CRASHES", "TOP_PER_VERSION", "build_release_health", "release_health"]

JSON = dict[str, Any]

TOP_PER_VERSION: Final = 5
"""How many errors and crashes each version lists (the most frequent)."""

TOP_CRASHES: Final = 20
"""How many crash signatures the range's top list carries."""

RATE_DIGITS: Final = 4


async def release_health(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    """Per version (newest first) rates and top problems, latest vs previous, top crashes."""
    span = query.range
    totals, series, errors, crashes, names, stacks = await asyncio.gather(
        store.totals(query.app, "version", span.first, span.last),
        store.series(query.app, "version", span.first, span.last),
        store.totals(query.app, "error_version", span.first, span.last),
        store.totals(query.app, "crash_version", span.first, span.last),
        store.totals(query.app, "crash", span.first, span.last),
        store.totals(query.app, "crash_frames", span.first, span.last),
    )
    return build_release_health(
        totals,
        series,
        error_totals=errors,
        crash_totals=crashes,
        crash_names=names,
        crash_stacks=stacks,
        min_installs=min_installs,
    )


def build_release_health(
    version_totals: Sequence[RollupRow],
    version_series: Sequence[RollupRow],
    *,
    error_totals: Iterable[RollupRow],
    crash_totals: Iterable[RollupRow],
    crash_names: Iterable[RollupRow],
    crash_stacks: Iterable[RollupRow],
    min_installs: int,
) -> JSON:
    """:func:`release_health` from rows already read (the six dimensions' rollups)."""
    k = min_installs
    errors = build_health(version_totals, version_series, error_totals)
    crashes = build_health(version_totals, version_series, crash_totals)
    names = list(crash_names)
    exceptions = _exceptions(names)

    def error_fields(key: str) -> JSON:
        code, _, kind = key.partition("\t")
        # The label of the errors view (`_views.label_of`, which imports this module).
        return {"code": code, "type": kind, "label": f"{code} ({kind})" if kind else code}

    def crash_fields(key: str) -> JSON:
        return {"signature": key, "exception": exceptions.get(key, "")}

    listed = versions_newest_first([v.version for v in errors.values() if v.installs >= k])
    versions = []
    for version in listed:
        error_events, error_rate = _overall(errors[version], k)
        crash_events, crash_rate = _overall(crashes[version], k)
        versions.append(
            {
                "version": version,
                "installs": errors[version].installs,
                "install_days": errors[version].install_days,
                "error_events": error_events,
                "error_rate": error_rate,
                "crash_events": crash_events,
                "crash_rate": crash_rate,
                "top_errors": _top(errors[version], k, error_fields),
                "top_crashes": _top(crashes[version], k, crash_fields),
            }
        )
    return {
        "rate": "events per 100 active installs of the version per day",
        "versions": versions,
        "comparison": _comparison(errors, crashes, k, error_fields, crash_fields),
        "top_crashes": _top_crashes(names, crashes, crash_stacks, listed, k),
    }


def _rate(value: float) -> float:
    return round(value, RATE_DIGITS)


def _exceptions(names: Iterable[RollupRow]) -> dict[str, str]:
    """Signature -> its exception class (the most reported, should two ever share one)."""
    best: dict[str, tuple[int, str]] = {}
    for row in names:
        signature, _, exception = row.value.partition("\t")
        if row.events > best.get(signature, (-1, ""))[0]:
            best[signature] = (row.events, exception)
    return {signature: exception for signature, (_, exception) in best.items()}


def _overall(version: VersionHealth, k: int) -> tuple[int | None, float | None]:
    """All problems of one kind in ``version``: events and rate, ``None`` when hidden."""
    events = sum(p.events for p in version.problems.values())
    installs = sum(p.installs for p in version.problems.values())
    if 0 < installs < k:
        return None, None
    return events, _rate(rate(events, version.install_days))


def _numbers(problem: Problem) -> JSON:
    return {"events": problem.events, "installs": problem.installs, "rate": _rate(problem.rate)}


def _top(version: VersionHealth, k: int, fields: Callable[[str], JSON]) -> list[JSON]:
    shown = [p for p in version.problems.values() if p.installs >= k]
    shown.sort(key=lambda p: (-p.events, -p.installs, p.key))
    return [{**fields(p.key), **_numbers(p)} for p in shown[:TOP_PER_VERSION]]


_ZERO: Final[JSON] = {"events": 0, "installs": 0, "rate": 0.0}


def _side(problem: Problem | None, k: int) -> JSON | None:
    """One version's numbers of a problem: zeros when not reported, ``None`` under ``k``."""
    if problem is None:
        return dict(_ZERO)
    return _numbers(problem) if problem.installs >= k else None


def _changes(changes: Iterable[Change], k: int, fields: Callable[[str], JSON]) -> list[JSON]:
    out = []
    for change in changes:
        shown = [p for p in (change.previous, change.latest) if p is not None]
        if not any(p.installs >= k for p in shown):
            continue  # never named: under the threshold wherever it was reported
        before, after = _side(change.previous, k), _side(change.latest, k)
        hidden = before is None or after is None
        ratio = None if hidden or change.ratio is None else _rate(change.ratio)
        out.append(
            {
                **fields(change.key),
                "status": "hidden" if hidden else change.status,
                "ratio": ratio,
                "previous": before,
                "latest": after,
            }
        )
    return out


def _comparison(
    errors: dict[str, VersionHealth],
    crashes: dict[str, VersionHealth],
    k: int,
    error_fields: Callable[[str], JSON],
    crash_fields: Callable[[str], JSON],
) -> JSON | None:
    pair = latest_pair(errors.values(), k)
    if pair is None:
        return None
    previous, latest = pair[0].version, pair[1].version
    return {
        "previous": previous,
        "latest": latest,
        "factor": WORSE_FACTOR,
        "errors": _changes(compare(errors[previous], errors[latest]), k, error_fields),
        "crashes": _changes(compare(crashes[previous], crashes[latest]), k, crash_fields),
    }


def _top_crashes(
    names: Iterable[RollupRow],
    crashes: dict[str, VersionHealth],
    stacks: Iterable[RollupRow],
    listed: Sequence[str],
    k: int,
) -> list[JSON]:
    shown = sorted(
        (row for row in names if row.installs >= k),
        key=lambda row: (-row.events, -row.installs, row.value),
    )[:TOP_CRASHES]
    wanted = {row.value.partition("\t")[0] for row in shown}
    best: dict[str, tuple[int, str]] = {}
    for row in stacks:
        signature, _, stack = row.value.partition("\t")
        publishable = signature in wanted and row.installs >= k
        if publishable and row.events > best.get(signature, (-1, ""))[0]:
            best[signature] = (row.events, stack)
    out = []
    for row in shown:
        signature, _, exception = row.value.partition("\t")
        versions = [
            version
            for version in listed
            if (p := crashes[version].problems.get(signature)) is not None and p.installs >= k
        ]
        found = best.get(signature)
        out.append(
            {
                "signature": signature,
                "exception": exception,
                "events": row.events,
                "installs": row.installs,
                "versions": versions,
                "stack": None if found is None else [f for f in found[1].split("\n") if f],
            }
        )
    return out
