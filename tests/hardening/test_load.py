"""A bounded load run, and the collector's memory after the warm-up.

Default: 40 seconds with 3 client processes (CI). ``PIGEON_SOAK_SECONDS=300``
makes it a 5-minute soak. After the warm-up (each client's first pass of new
events) the clients resend the same message ids: the store stops growing
(the SQLite page cache with it), so a growing collector would be leaking.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.hardening._load import run_load
from tests.hardening.conftest import Record

SECONDS = float(os.environ.get("PIGEON_SOAK_SECONDS", "40"))
TOLERANCE = 12 * 2**20
"""Steady-phase RSS growth allowed (allocator noise); per event it is a few tens of bytes."""


def test_load_keeps_answering_and_memory_is_flat_after_warmup(
    tmp_path: Path, reliability: Record
) -> None:
    reliability.tried("load", f"{SECONDS:g} s of load from 3 client processes, gzip batches of 50")
    result = run_load(tmp_path, SECONDS)
    growth, samples = result.steady_growth()
    steady_events = result.steady_events()
    rss_mb = [round(r / 2**20) for _, r in result.rss[:: max(1, len(result.rss) // 8)]]
    reliability.figures.update(
        {
            "new_events_per_s": round(result.fresh_events_per_s),
            "events_per_s": round(result.events_per_s),
            "p50_ms": round(result.p50_ms, 1),
            "p99_ms": round(result.p99_ms, 1),
            "error_rate": round(result.error_rate, 5),
            "warmup_s": round(result.warmup_end, 1),
            "rss_mb_over_time": "/".join(map(str, rss_mb)),
            "steady_growth_mb": round(growth / 2**20, 2),
            "steady_events": steady_events,
        }
    )
    reliability.note = (
        "events_per_s counts every acknowledged event; after the warm-up they are resent "
        "message ids (deduplicated), so the store, and SQLite's page cache, stop growing and "
        "any growth is the collector's own. new_events_per_s is the warm-up's rate of new events."
    )
    assert result.requests > 0
    assert result.errors == 0, f"{result.errors} of {result.requests} requests failed"
    assert samples >= 3, "the warm-up took the whole run: no steady phase to measure"
    # A leak of 1 KB per event would be ~100x this tolerance over the steady phase.
    assert growth < TOLERANCE, f"RSS grew {growth / 2**20:.1f} MB over {steady_events} events"


SQLITE_CACHES = (128 + 32) * 2**20
"""What SQLite may legitimately keep: the writer's page cache and a reader's (see the store)."""


def test_new_events_all_along_keep_memory_within_the_caches(
    tmp_path: Path, reliability: Record
) -> None:
    seconds = min(SECONDS, 20.0) if "PIGEON_SOAK_SECONDS" not in os.environ else SECONDS
    reliability.tried("load", f"{seconds:g} s of new events only (the store grows all along)")
    result = run_load(tmp_path, seconds, fresh=True)
    first = result.rss[0][1]
    peak = max(r for _, r in result.rss)
    reliability.figures.update(
        {
            "events_per_s": round(result.events_per_s),
            "p50_ms": round(result.p50_ms, 1),
            "p99_ms": round(result.p99_ms, 1),
            "error_rate": round(result.error_rate, 5),
            "rss_first_mb": round(first / 2**20),
            "rss_peak_mb": round(peak / 2**20),
            "events": result.events,
        }
    )
    reliability.note = (
        "with new events the store grows, and SQLite's page caches (128 + 32 MiB) fill with it: "
        "the bound is the caches plus 32 MiB; a leak of 1 KB per event would pass it within "
        f"{(SQLITE_CACHES + 32 * 2**20) // 1024:,} events"
    )
    assert result.errors == 0, f"{result.errors} of {result.requests} requests failed"
    assert peak - first < SQLITE_CACHES + 32 * 2**20
