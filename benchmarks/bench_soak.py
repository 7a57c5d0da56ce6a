"""Soak the collector: several client processes for minutes, memory sampled all along.

The same run as the hardening suite's load test (``tests/hardening/_load.py``),
longer: it prints events/s, p50/p99 latency, the error rate and the
collector's RSS over time, and the RSS growth after the warm-up (a leak shows
as a steady slope; a healthy collector stays flat once SQLite's cache is warm).

Usage::

    python benchmarks/bench_soak.py [--seconds 300] [--clients 3]

``PIGEON_SOAK_SECONDS=300 pytest tests/hardening/test_load.py`` runs the same
soak as a test and records it in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the test helpers live beside benchmarks/
    sys.path.insert(0, str(ROOT))

from tests.hardening._load import run_load  # noqa: E402

from benchmarks.reliability_report import record  # noqa: E402

TOLERANCE = 12 * 2**20
"""Steady-phase RSS growth allowed (the same as the suite's load test)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--clients", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pigeon-soak-") as workdir:
        result = run_load(Path(workdir), args.seconds, args.clients)
    growth, samples = result.steady_growth()
    print(f"duration:          {result.seconds:.0f} s, {args.clients} client processes")
    print(f"requests:          {result.requests} ({result.errors} errors, "
          f"{result.error_rate:.4%})")  # fmt: skip
    print(f"events/s:          {result.events_per_s:,.0f} (new events in the warm-up: "
          f"{result.fresh_events_per_s:,.0f}/s)")  # fmt: skip
    print(f"latency:           p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
    print(f"warm-up:           {result.warmup_end:.0f} s")
    step = max(1, len(result.rss) // 20)
    series = ", ".join(f"{t:.0f}s:{r / 2**20:.0f}" for t, r in result.rss[::step])
    print(f"RSS (MB) by time:  {series}")
    print(f"steady RSS growth: {growth / 2**20:+.2f} MB over {samples} samples "
          f"({result.steady_events():,} events)")  # fmt: skip
    held = result.errors == 0 and growth < TOLERANCE
    step = max(1, len(result.rss) // 10)
    record(
        "benchmarks/bench_soak.py",
        {
            "area": "load",
            "tried": f"soak: {args.seconds:g} s from {args.clients} client processes "
            "(benchmarks/bench_soak.py)",
            "held": held,
            "failure": "" if held else "errors or memory growth after the warm-up",
            "figures": {
                "events_per_s": round(result.events_per_s),
                "new_events_per_s": round(result.fresh_events_per_s),
                "p50_ms": round(result.p50_ms, 1),
                "p99_ms": round(result.p99_ms, 1),
                "error_rate": round(result.error_rate, 5),
                "rss_mb_over_time": "/".join(str(round(r / 2**20)) for _, r in result.rss[::step]),
                "steady_growth_mb": round(growth / 2**20, 2),
                "steady_events": result.steady_events(),
            },
            "note": "",
        },
    )
    return 0 if held else 1


if __name__ == "__main__":
    raise SystemExit(main())
