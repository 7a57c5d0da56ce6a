"""The release-health core: per-version rates, version order, version-to-version changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pigeon.catalog import PropertyValue
from pigeon.collector.stats._health import (
    Problem,
    VersionHealth,
    compare,
    health_by_version,
    latest_pair,
    rate,
    version_key,
    versions_newest_first,
)
from pigeon.collector.storage import open_store
from pigeon.collector.storage._base import StoredEvent
from tests.dashboard._data import ENF, TODAY, event, fill

CRASH = "0123456789abcdef"


def _crash(install: str, day: int, version: str, signature: str = CRASH) -> StoredEvent:
    props: dict[str, PropertyValue] = {"exception": "KeyError", "signature": signature}
    return event(install, "CrashReported", day, props, version=version)


def _history() -> list[StoredEvent]:
    """Version 1.0 on 4 installs for 10 days, 1.1 on 2 installs for the last 5 days.

    1.0: 2 ENF errors and 1 crash; 1.1: 3 ENF errors, 4 crashes of a new signature.
    """
    out = []
    for day in range(TODAY - 9, TODAY + 1):
        out += [event(f"a{n}", "ServerStarted", day, version="1.0.0") for n in range(4)]
    for day in range(TODAY - 4, TODAY + 1):
        out += [event(f"b{n}", "ServerStarted", day, version="1.1.0") for n in range(2)]
    out += [
        event("a0", "ServerErrorFound", TODAY - 3, {"code": ENF}, version="1.0.0"),
        event("a1", "ServerErrorFound", TODAY - 2, {"code": ENF}, version="1.0.0"),
        _crash("a2", TODAY - 1, "1.0.0"),
    ]
    out += [
        event(install, "ServerErrorFound", TODAY, {"code": ENF}, version="1.1.0")
        for install in ("b0", "b0", "b1")
    ]
    out += [_crash(f"b{n % 2}", TODAY, "1.1.0", "fedcba9876543210") for n in range(4)]
    return out


def test_rates_are_events_per_100_active_installs_per_day(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/h.db")
    try:
        fill(store, _history())
        errors = asyncio.run(health_by_version(store, "argilla", "error", TODAY - 29, TODAY))
        crashes = asyncio.run(health_by_version(store, "argilla", "crash", TODAY - 29, TODAY))
    finally:
        asyncio.run(store.close())
    old, new = errors["1.0.0"], errors["1.1.0"]
    # 4 installs x 10 days, 2 installs x 5 days: the errors' own events add no install-days.
    assert (old.installs, old.install_days) == (4, 40)
    assert (new.installs, new.install_days) == (2, 10)
    assert old.problems[f"{ENF}\t"] == Problem(f"{ENF}\t", 2, 2, 5.0)
    assert new.problems[f"{ENF}\t"] == Problem(f"{ENF}\t", 3, 2, 30.0)
    assert crashes["1.0.0"].problems == {CRASH: Problem(CRASH, 1, 1, 2.5)}
    assert crashes["1.1.0"].problems == {
        "fedcba9876543210": Problem("fedcba9876543210", 4, 2, 40.0)
    }


def test_compare_names_new_gone_worse_better_and_unchanged() -> None:
    def health(version: str, **rates: float) -> VersionHealth:
        problems = {k: Problem(k, int(r * 10), 5, r) for k, r in rates.items()}
        return VersionHealth(version, 10, 100, problems)

    before = health("1.0", same=1.0, up=1.0, down=3.0, gone=2.0)
    after = health("1.1", same=1.1, up=3.0, down=1.0, fresh=0.5)
    changes = {c.key: c for c in compare(before.problems, after.problems)}
    assert {k: c.status for k, c in changes.items()} == {
        "same": "unchanged",
        "up": "worse",
        "down": "better",
        "gone": "gone",
        "fresh": "new",
    }
    assert changes["up"].ratio == pytest.approx(3.0)
    assert changes["fresh"].ratio is None
    assert changes["fresh"].previous is None
    assert [c.key for c in compare(before.problems, after.problems)] == [
        "fresh",
        "up",
        "same",
        "down",
        "gone",
    ]


def test_versions_are_ordered_as_people_read_them() -> None:
    versions = ["1.10.0", "unknown", "1.9.0", "1.2.0rc1", "1.2.0", "1.2.0.post1", "v2", "1.2"]
    assert versions_newest_first(versions) == [
        "v2",
        "1.10.0",
        "1.9.0",
        "1.2.0.post1",
        "1.2.0",
        "1.2",
        "1.2.0rc1",
        "unknown",
    ]
    assert version_key("1.2") == version_key("1.2.0")


def test_latest_pair_skips_versions_under_the_threshold_and_unknown() -> None:
    found = latest_pair({"1.0": 9, "1.1": 5, "1.2": 2, "unknown": 50, "0.9": 7}, 5)
    assert found == ("1.0", "1.1")
    assert latest_pair({"1.0": 9, "1.1": 1}, 5) is None


def test_rate_without_activity_is_zero() -> None:
    assert rate(3, 0) == 0.0
    assert rate(1, 200) == 0.5
