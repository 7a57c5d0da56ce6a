"""Alert evaluation cost, as a ratio to the ``errors`` stats view on the same store, in one run.

Reuses the dashboard benchmark's SQLite store of plausible traffic (built once,
cached under ``.benchmarks/dashboard/``), then times, in this process and
alternating so both see the same machine:

- the baseline: the ``errors`` view over the last 30 days (what a dashboard
  load does for errors);
- one alert evaluation of two rules, ``new`` (look-back 30 days) and
  ``rate`` (factor 2, window 14 days) on errors, every app (the state file
  already holds its alerts after the first pass, as in a running collector).

    python benchmarks/bench_alerts.py                  # 1M events
    python benchmarks/bench_alerts.py --size 100000 --runs 50

Goal: an evaluation's p95 at most 3x the errors view's p95 (both read rollups
only, so raw volume barely matters; the loop runs every 300 s by default).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_dashboard import build
from pigeon.collector._metrics import Metrics
from pigeon.collector.alerts import Alerter, AlertsConfig, Rule, Webhook
from pigeon.collector.stats import compute_view, parse_query, today_utc
from pigeon.collector.storage import open_store
from pigeon.collector.storage._base import MS_PER_DAY

CACHE = Path(__file__).resolve().parents[1] / ".benchmarks" / "dashboard"
GOAL = 3.0


def p95(samples: list[float]) -> float:
    """The 95th percentile of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def measure(path: Path, today: int, runs: int) -> tuple[list[float], list[float], int]:
    store = open_store(f"sqlite:///{path}")
    hooks = {"sink": Webhook("sink", "http://127.0.0.1:9/", "json")}
    rules = (
        Rule("new-errors", "new", "error", webhooks=("sink",), days=30),
        Rule("worse-errors", "rate", "error", webhooks=("sink",), days=14, factor=2.0),
    )
    query = parse_query(days="30", today=today)
    with tempfile.TemporaryDirectory() as state:
        alerts = AlertsConfig(Path(state) / "a.db", 300, hooks, rules)
        alerter = Alerter(alerts, store, 5, Metrics())
        now_ms = today * MS_PER_DAY + MS_PER_DAY // 2
        raised = len(await alerter.evaluate(now_ms))  # first pass: records the alerts
        view: list[float] = []
        evaluation: list[float] = []
        try:
            for _ in range(runs):
                started = time.perf_counter()
                await compute_view(store, "errors", query, 5)
                view.append(time.perf_counter() - started)
                started = time.perf_counter()
                await alerter.evaluate(now_ms)
                evaluation.append(time.perf_counter() - started)
        finally:
            await store.close()
    return view, evaluation, raised


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="events in the store")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each")
    args = parser.parse_args()
    today = today_utc()
    path = CACHE / f"store-{args.size}-20000-90.db"  # the dashboard benchmark's name
    meta = build(path, args.size, 20_000, 90, today)
    built_today = int(str(meta.get("today", today)))
    view, evaluation, raised = asyncio.run(measure(path, built_today, args.runs))
    ratio = p95(evaluation) / p95(view)
    print(f"store: {meta['events']:,} events; {raised} alerts raised on the first pass")
    for name, samples in (("errors view", view), ("alert evaluation", evaluation)):
        ms = [s * 1000 for s in samples]
        print(f"{name:>17}: p50 {statistics.median(ms):7.1f} ms  p95 {p95(ms):7.1f} ms")
    verdict = "ok" if ratio <= GOAL else "OVER GOAL"
    print(f"evaluation p95 / errors view p95 = {ratio:.2f} (goal <= {GOAL}): {verdict}")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
