"""The ``release_health`` view counts installs only where they decide what it publishes.

The reference below counts every value's distinct installs the slow way (from
the events, through ``dimensions()``) and applies the view's documented rules
to all of them. On random long-tailed traffic, for several thresholds, the
view must give exactly the reference's answer, while reading the installs of
only some of the values.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from pigeon.catalog import PropertyValue
from pigeon.collector.stats import parse_query
from pigeon.collector.stats._health import (
    WORSE_FACTOR,
    Problem,
    VersionHealth,
    build_health,
    compare,
    latest_pair,
    rate,
    versions_newest_first,
)
from pigeon.collector.stats._release_health import TOP_CRASHES, TOP_PER_VERSION, release_health
from pigeon.collector.storage import RollupRow, Store, StoredEvent, open_store
from tests.collector.test_store import naive
from tests.dashboard._data import TODAY, event

JSON = dict[str, Any]
FIRST = TODAY - 29


def traffic(seed: int) -> list[StoredEvent]:
    """Three versions rolling out, long-tailed errors and crashes with a few stacks each."""
    props: dict[str, PropertyValue]
    crash: dict[str, PropertyValue]
    rng = random.Random(seed)
    out: list[StoredEvent] = []
    versions = {"1.0.0": range(0, 40), "1.1.0": range(25, 70), "1.2.0": range(55, 80)}
    for version, installs in versions.items():
        for install in installs:
            for day in rng.sample(range(FIRST, TODAY + 1), rng.randrange(1, 12)):
                out.append(event(f"u{install}", "ServerStarted", day, version=version))
    codes = [f"argilla.api.errors::E{n}" for n in range(45)]
    signatures = [f"{n:016x}" for n in range(1, 26)]
    for _ in range(1400):
        version = rng.choice(list(versions))
        who = f"u{rng.choice(versions[version])}"
        day = rng.randrange(FIRST, TODAY + 1)
        if rng.random() < 0.6:
            code = codes[min(int(rng.expovariate(0.12)), len(codes) - 1)]
            props = {"code": code, "type": rng.choice(["", "Dataset"])}
            out.append(event(who, "ServerErrorFound", day, props, version=version))
        else:
            signature = signatures[min(int(rng.expovariate(0.15)), len(signatures) - 1)]
            frames = ("<other>", f"argilla.api:f{signature[-2:]}:{rng.randrange(3)}")
            crash = {
                "exception": "KeyError",
                "signature": signature,
                "frames": frames,
            }
            out.append(event(who, "CrashReported", day, crash, version=version))
    # A small old version where one install reports all its errors, each often
    # (6, 2, 2, 2 events: 4 installs summed, so the error rate is hidden from k = 5
    # although events reach k), and one crash 6 times.
    for n in range(10):
        out.append(event(f"old{n}", "ServerStarted", FIRST + n, version="0.9.0"))
    for day in range(FIRST, FIRST + 6):
        for code in codes[: 1 if day >= FIRST + 2 else 4]:
            props = {"code": code, "type": ""}
            out.append(event("old0", "ServerErrorFound", day, props, version="0.9.0"))
        crash = {"exception": "KeyError", "signature": signatures[0], "frames": ("<other>",)}
        out.append(event("old0", "CrashReported", day, crash, version="0.9.0"))
    for n in range(1, 5):  # and a second crash, once by each of 4 others: 5 installs summed
        crash = {"exception": "KeyError", "signature": signatures[1], "frames": ("<other>",)}
        out.append(event(f"old{n}", "CrashReported", FIRST + n, crash, version="0.9.0"))
    return out


def reference(events: list[StoredEvent], k: int) -> JSON:
    """The view's rules applied to every value, each counted exactly."""

    def totals(dimension: str) -> list[RollupRow]:
        rows = naive(events, "argilla", dimension, FIRST, TODAY, per_day=False)
        return sorted(rows, key=lambda r: (-r.events, r.value))

    series = naive(events, "argilla", "version", FIRST, TODAY, per_day=True)
    version_totals = totals("version")
    errors = build_health(version_totals, series, totals("error_version"))
    crashes = build_health(version_totals, series, totals("crash_version"))
    names = totals("crash")
    exceptions = {r.value.partition("\t")[0]: r.value.partition("\t")[2] for r in names}

    def error_fields(key: str) -> JSON:
        code, _, kind = key.partition("\t")
        return {"code": code, "type": kind, "label": f"{code} ({kind})" if kind else code}

    def crash_fields(key: str) -> JSON:
        return {"signature": key, "exception": exceptions.get(key, "")}

    def numbers(p: Problem) -> JSON:
        return {"events": p.events, "installs": p.installs, "rate": round(p.rate, 4)}

    def overall(v: VersionHealth) -> tuple[int | None, float | None]:
        events = sum(p.events for p in v.problems.values())
        installs = sum(p.installs for p in v.problems.values())
        if 0 < installs < k:
            return None, None
        return events, round(rate(events, v.install_days), 4)

    def top(v: VersionHealth, fields: Callable[[str], JSON]) -> list[JSON]:
        shown = sorted(
            (p for p in v.problems.values() if p.installs >= k),
            key=lambda p: (-p.events, -p.installs, p.key),
        )
        return [{**fields(p.key), **numbers(p)} for p in shown[:TOP_PER_VERSION]]

    def side(p: Problem | None) -> JSON | None:
        if p is None:
            return {"events": 0, "installs": 0, "rate": 0.0}
        return numbers(p) if p.installs >= k else None

    def changes(
        before: VersionHealth, after: VersionHealth, fields: Callable[[str], JSON]
    ) -> list[JSON]:
        out = []
        for c in compare(before.problems, after.problems):
            if not any(p is not None and p.installs >= k for p in (c.previous, c.latest)):
                continue
            b, a = side(c.previous), side(c.latest)
            hidden = b is None or a is None
            out.append(
                {
                    **fields(c.key),
                    "status": "hidden" if hidden else c.status,
                    "ratio": None if hidden or c.ratio is None else round(c.ratio, 4),
                    "previous": b,
                    "latest": a,
                }
            )
        return out

    listed = versions_newest_first([v for v, h in errors.items() if h.installs >= k])
    pair = latest_pair({v: h.installs for v, h in errors.items()}, k)
    comparison = None
    if pair is not None:
        comparison = {
            "previous": pair[0],
            "latest": pair[1],
            "factor": WORSE_FACTOR,
            "errors": changes(errors[pair[0]], errors[pair[1]], error_fields),
            "crashes": changes(crashes[pair[0]], crashes[pair[1]], crash_fields),
        }
    stacks = totals("crash_frames")
    top_crashes = []
    shown = sorted(
        (r for r in names if r.installs >= k), key=lambda r: (-r.events, -r.installs, r.value)
    )
    for row in shown[:TOP_CRASHES]:
        signature, _, exception = row.value.partition("\t")
        best = next(
            (s for s in stacks if s.value.partition("\t")[0] == signature and s.installs >= k),
            None,
        )
        top_crashes.append(
            {
                "signature": signature,
                "exception": exception,
                "events": row.events,
                "installs": row.installs,
                "versions": [
                    v
                    for v in listed
                    if (p := crashes[v].problems.get(signature)) is not None and p.installs >= k
                ],
                "stack": None
                if best is None
                else [f for f in best.value.partition("\t")[2].split("\n") if f],
            }
        )
    versions = []
    for v in listed:
        error_events, error_rate = overall(errors[v])
        crash_events, crash_rate = overall(crashes[v])
        versions.append(
            {
                "version": v,
                "installs": errors[v].installs,
                "install_days": errors[v].install_days,
                "error_events": error_events,
                "error_rate": error_rate,
                "crash_events": crash_events,
                "crash_rate": crash_rate,
                "top_errors": top(errors[v], error_fields),
                "top_crashes": top(crashes[v], crash_fields),
            }
        )
    return {"versions": versions, "comparison": comparison, "top_crashes": top_crashes}


class CountingStore:
    """A store that records which values it was asked to count installs of."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.counted: dict[str, set[str]] = {}
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def distinct_installs(
        self, app: str | None, dimension: str, first: int, last: int, values: Collection[str]
    ) -> dict[str, int]:
        self.reads += 1
        seen = self.counted.setdefault(dimension, set())
        assert not seen & set(values), "a value was counted twice"
        seen |= set(values)
        return await self.store.distinct_installs(app, dimension, first, last, values)


class _Sync:
    def __init__(self, runner: asyncio.Runner, store: Store) -> None:
        self.runner, self.store = runner, store

    def view(self, k: int, changes: int | None) -> tuple[JSON, CountingStore]:
        counting = CountingStore(self.store)
        query = parse_query(days="30", app="argilla", today=TODAY)
        body = self.runner.run(release_health(counting, query, k, changes=changes))
        return body, counting


@pytest.fixture(params=["sqlite", "clickhouse"])
def filled(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[_Sync, list[StoredEvent]]]:
    """A store of each kind holding :func:`traffic`."""
    if request.param == "clickhouse":
        url = str(request.getfixturevalue("clickhouse_url"))
    else:
        url = f"sqlite:///{tmp_path / 'h.db'}"
    events = traffic(seed=11)
    with asyncio.Runner() as runner:
        store = open_store(url)
        try:
            runner.run(store.write(events))
            yield _Sync(runner, store), events
        finally:
            runner.run(store.close())


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_the_whole_view_equals_counting_every_value(filled: Any, k: int) -> None:
    sync, events = filled
    want = reference(events, k)
    got, counting = sync.view(k, changes=None)
    assert got["comparison"] is not None
    assert got["comparison"].pop("limit") is None
    assert got["comparison"].pop("more") == {"errors": False, "crashes": False}
    assert got.pop("rate").startswith("events per 100")
    assert got == want
    hidden = [v for v in got["versions"] if v["error_rate"] is None]
    assert [v["version"] for v in hidden] == (["0.9.0"] if 5 <= k <= 10 else [])
    hidden = [v for v in got["versions"] if v["crash_rate"] is None]
    assert [v["version"] for v in hidden] == (["0.9.0"] if 5 < k <= 10 else [])
    if k >= 3:  # the long tail under k is never counted
        every = naive(events, "argilla", "error_version", FIRST, TODAY, per_day=False)
        assert 0 < len(counting.counted["error_version"]) < len(every)


@pytest.mark.parametrize("limit", [0, 1, 4, 20])
def test_a_bounded_comparison_is_the_most_severe_rows_and_says_when_more_exist(
    filled: Any, limit: int
) -> None:
    sync, events = filled
    want = reference(events, 2)
    got, _ = sync.view(2, changes=limit)
    comparison = got["comparison"]
    assert comparison["limit"] == limit
    for kind in ("errors", "crashes"):
        assert comparison[kind] == want["comparison"][kind][:limit], kind
        assert comparison["more"][kind] == (len(want["comparison"][kind]) > limit), kind
    assert got["versions"] == want["versions"]
    assert got["top_crashes"] == want["top_crashes"]


def test_the_default_view_counts_a_fraction_of_the_values_in_few_reads(filled: Any) -> None:
    sync, events = filled
    got, counting = sync.view(3, changes=4)
    every = naive(events, "argilla", "error_version", FIRST, TODAY, per_day=False)
    counted = counting.counted["error_version"]
    assert len(counted) < len(every) / 2, (len(counted), len(every))
    # Each version's walk and the comparison's share the store reads of a round.
    assert counting.reads <= 12, counting.reads
    assert got["comparison"]["more"]["errors"] is True
