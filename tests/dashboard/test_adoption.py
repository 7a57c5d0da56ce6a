"""The ``adoption`` view: upgrade curves, time to 50%, and the cohort table, k-anonymous.

Against real SQLite stores: the known data set of ``_data`` (k = 3), and small
data sets written here whose numbers are counted by hand in each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.collector.stats._adoption import _cohorts
from pigeon.collector.storage import CohortRow, StoredEvent, open_store
from pigeon.collector.storage._base import Store
from tests.dashboard._client import ReadClient
from tests.dashboard._data import AUTH, TODAY, event, fill

T = TODAY  # 2024-06-30, a Sunday: its week runs from 2024-06-24


def get(client: ReadClient, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/stats/adoption", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["view"] == "adoption"
    return body


def by_day(body: dict[str, Any], value: str) -> dict[str, float | None]:
    """A version's shares on the days that are not empty (``None`` cells included)."""
    upgrades = body["upgrades"]
    series = next(s for s in upgrades["series"] if s["value"] == value)
    days = upgrades["days"]
    return {day: share for day, share in zip(days, series["share"], strict=True) if day in SEEN}


SEEN = ("2024-06-10", "2024-06-15", "2024-06-20", "2024-06-25", "2024-06-29", "2024-06-30")


def test_the_known_data(client: ReadClient) -> None:
    body = get(client, app="argilla")
    upgrades = body["upgrades"]
    assert upgrades["lookback_days"] == 365
    assert [s["value"] for s in upgrades["series"]] == ["1.29.0", "other"]
    # T-10: 4 of 7 active installs ran 1.29.0; T-1 the same; T: all 4 that came.
    assert by_day(body, "1.29.0") == {
        "2024-06-10": None,
        "2024-06-15": None,
        "2024-06-20": 0.5714,
        "2024-06-25": None,
        "2024-06-29": 0.5714,
        "2024-06-30": 1.0,
    }
    # 1.28.0 (2 installs) and 1.27.0 (1) are merged; together 3 installs, shown.
    assert by_day(body, "other")["2024-06-20"] == 0.4286
    assert by_day(body, "other")["2024-06-30"] == 0.0
    assert upgrades["versions"] == [
        {
            "value": "1.29.0",
            "label": "1.29.0",
            "installs": 4,
            "first_seen": "2024-06-20",
            "new_in_range": True,
            "half_on": "2024-06-20",
            "days_to_half": 0,
        }
    ]
    cohorts = body["cohorts"]
    weeks = ["2024-05-27", "2024-06-03", "2024-06-10", "2024-06-17", "2024-06-24"]
    assert cohorts["weeks"] == weeks
    # i1 and i2 were first seen on T-40, before the range: in no cohort of it.
    assert cohorts["rows"][3] == {
        "week": "2024-06-17",
        "size": 5,
        "active": [5, 5],
        "percent": [100.0, 100.0],
    }
    assert [row["size"] for row in cohorts["rows"]] == [0, 0, 0, 5, 0]
    # All apps: labelbox's three installs started this week.
    every = get(client)["cohorts"]["rows"]
    assert every[4] == {"week": "2024-06-24", "size": 3, "active": [3], "percent": [100.0]}


@pytest.fixture
def adoption_store(store_url: str) -> Iterator[Store]:
    """Versions released at known days (app argilla) and cohorts of known sizes (labelbox)."""
    store = open_store(store_url)
    events: list[StoredEvent] = []
    u = [f"u{n}" for n in range(1, 7)]

    def started(installs: list[str], day: int, version: str, app: str = "argilla") -> None:
        events.extend(event(i, "ServerStarted", day, app=app, version=version) for i in installs)

    # 1.0.0 on the look-back's very first day (30-day range: T-29 - 365): maybe older.
    started(u[:3], T - 394, "1.0.0")
    started(u[3:], T - 25, "1.0.0")
    started(u, T - 100, "1.9.0")  # out before the range
    started(u[:1], T - 20, "2.0.0")
    started(u[1:], T - 20, "1.9.0")
    started(u[:3], T - 15, "2.0.0")  # half of the 6 active installs: 5 days after release
    started(u[3:], T - 15, "1.9.0")
    started(u[:5], T - 5, "2.0.0")
    started(u[5:], T - 5, "1.9.0")
    c = [f"c{n}" for n in range(1, 9)]
    started(c[:5], T - 20, "1", app="labelbox")  # week of 2024-06-10: five installs
    started(c[:2], T - 13, "1", app="labelbox")  # two of them the next week: hidden at k=3
    started(c[5:7], T - 13, "1", app="labelbox")  # a cohort of two: hidden whole at k=3
    started(c[:4], T - 3, "1", app="labelbox")
    started(c[7:], T - 40, "1", app="labelbox")  # first seen before the range
    started(c[7:], T - 3, "1", app="labelbox")
    fill(store, events)
    yield store
    asyncio.run(store.close())


def test_time_to_half_counts_from_the_first_sighting(
    adoption_store: Store, make_client: Any
) -> None:
    body = get(make_client(adoption_store), app="argilla")
    versions = {v["value"]: v for v in body["upgrades"]["versions"]}
    # By installs in the range (5, 5, 3), then events (9, 9), then name.
    assert list(versions) == ["1.9.0", "2.0.0", "1.0.0"]
    assert versions["2.0.0"] | {"label": ""} == {
        "value": "2.0.0",
        "label": "",
        "installs": 5,
        "first_seen": "2024-06-10",
        "new_in_range": True,
        "half_on": "2024-06-15",
        "days_to_half": 5,
    }
    # Released before the range, found by the look-back: not new.
    assert versions["1.9.0"]["first_seen"] == "2024-03-22"
    assert versions["1.9.0"]["new_in_range"] is False
    assert versions["1.9.0"]["days_to_half"] == 0
    # Already there on the look-back's first day: its first sighting is unknown.
    assert versions["1.0.0"]["first_seen"] is None
    assert versions["1.0.0"]["days_to_half"] is None
    # One install of six on release day: hidden (and merged), not 0.1667.
    assert by_day(body, "2.0.0") == {
        "2024-06-10": None,
        "2024-06-15": 0.5,
        "2024-06-20": None,
        "2024-06-25": 0.8333,
        "2024-06-29": None,
        "2024-06-30": None,
    }
    assert by_day(body, "1.9.0")["2024-06-10"] == 0.8333
    assert by_day(body, "1.9.0")["2024-06-25"] is None  # one install
    # With k = 1 the release-day share shows, and 50% is reached the same day.
    open_body = get(make_client(adoption_store, min_installs=1), app="argilla")
    assert by_day(open_body, "2.0.0")["2024-06-10"] == 0.1667
    assert {v["value"]: v["days_to_half"] for v in open_body["upgrades"]["versions"]} == {
        "1.9.0": 0,
        "2.0.0": 5,
        "1.0.0": None,
    }


def test_a_version_under_the_threshold_is_hidden_until_it_reaches_it(
    adoption_store: Store, make_client: Any
) -> None:
    client = make_client(adoption_store, min_installs=4)
    body = get(client, app="argilla")
    # 1.0.0 ran on 3 installs in the range: under k = 4, it is named nowhere.
    assert [v["value"] for v in body["upgrades"]["versions"]] == ["1.9.0", "2.0.0"]
    assert [s["value"] for s in body["upgrades"]["series"]] == ["1.9.0", "2.0.0", "other"]
    # Its 3 installs on T-25 are the day's "other", itself under k: hidden.
    other = next(s for s in body["upgrades"]["series"] if s["value"] == "other")
    assert other["share"][body["upgrades"]["days"].index("2024-06-05")] is None


def test_cohort_cells_under_the_threshold_are_hidden(
    adoption_store: Store, make_client: Any
) -> None:
    rows = get(make_client(adoption_store), app="labelbox")["cohorts"]["rows"]
    assert rows == [
        {"week": "2024-05-27", "size": 0, "active": [0] * 5, "percent": [None] * 5},
        {"week": "2024-06-03", "size": 0, "active": [0] * 4, "percent": [None] * 4},
        {"week": "2024-06-10", "size": 5, "active": [5, None, 4], "percent": [100.0, None, 80.0]},
        {"week": "2024-06-17", "size": None, "active": [None, None], "percent": [None, None]},
        {"week": "2024-06-24", "size": 0, "active": [0], "percent": [None]},
    ]
    open_rows = get(make_client(adoption_store, min_installs=1), app="labelbox")["cohorts"]["rows"]
    assert open_rows[2]["active"] == [5, 2, 4]
    assert open_rows[3] == {
        "week": "2024-06-17",
        "size": 2,
        "active": [2, 0],
        "percent": [100.0, 0.0],
    }


cohort_strategy = st.lists(
    st.tuples(st.integers(0, 20), st.lists(st.integers(0, 20), min_size=3, max_size=3)),
    max_size=6,
)


@given(cohort_strategy, st.integers(1, 8))
def test_no_cohort_number_stands_for_fewer_than_k(raw: list[tuple[int, list[int]]], k: int) -> None:
    rows = [
        CohortRow(week, size, (size, *(min(n, size) for n in later)))
        for week, (size, later) in enumerate(raw)
    ]
    for row in _cohorts(rows, k)["rows"]:
        for count in [row["size"], *row["active"]]:
            assert count is None or count == 0 or count >= k
        for count, percent in zip(row["active"], row["percent"], strict=True):
            assert (percent is None) == (count is None or row["size"] in (0, None))
