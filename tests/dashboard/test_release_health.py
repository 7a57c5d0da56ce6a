"""The ``release_health`` view: numbers counted by hand, k-anonymity, both stores.

The data set (app ``argilla``, k = 3, the 30 days up to ``TODAY``):

    1.0.0  a0..a3, 10 days (40 install-days): ENF a0 a1 a2; FORBIDDEN a0 (1 install:
           hidden); crash OLD a0 a1 a2, one stack
    1.1.0  b0..b2, 5 days (15 install-days): ENF b0 b0 b1 b2; FORBIDDEN b0 b1 b2;
           crash NEW b0 b1 b2 (stack X) and b0 again (stack Y, 1 install: hidden);
           crash RARE b0 (1 install: never named)
    0.9.0  c0, one day (1 install: left out)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pigeon.catalog import PropertyValue
from pigeon.collector.stats import compute_view, parse_query
from pigeon.collector.storage import open_store
from pigeon.collector.storage._base import StoredEvent
from tests.dashboard._client import ReadClient
from tests.dashboard._data import AUTH, ENF, FORBIDDEN, TODAY, event

OLD, NEW, RARE = "0000000000000001", "0000000000000002", "00000000000000ff"
STACK_X = ["<other>", "argilla.api:create:10"]
STACK_Y = ["<other>", "argilla.api:create:12"]
STACK_OLD = ["argilla.db:save:7"]


def _crash(install: str, version: str, signature: str, frames: list[str]) -> StoredEvent:
    props: dict[str, PropertyValue] = {
        "exception": "KeyError",
        "signature": signature,
        "frames": tuple(frames),
    }
    return event(install, "CrashReported", TODAY, props, version=version)


def _error(install: str, version: str, code: str) -> StoredEvent:
    return event(install, "ServerErrorFound", TODAY - 1, {"code": code}, version=version)


def history() -> list[StoredEvent]:
    """The data set of the module docstring."""
    out = [
        event(f"a{n}", "ServerStarted", day, version="1.0.0")
        for day in range(TODAY - 9, TODAY + 1)
        for n in range(4)
    ]
    out += [
        event(f"b{n}", "ServerStarted", day, version="1.1.0")
        for day in range(TODAY - 4, TODAY + 1)
        for n in range(3)
    ]
    out.append(event("c0", "ServerStarted", TODAY - 2, version="0.9.0"))
    out += [_error(i, "1.0.0", ENF) for i in ("a0", "a1", "a2")]
    out.append(_error("a0", "1.0.0", FORBIDDEN))
    out += [_crash(i, "1.0.0", OLD, STACK_OLD) for i in ("a0", "a1", "a2")]
    out += [_error(i, "1.1.0", ENF) for i in ("b0", "b0", "b1", "b2")]
    out += [_error(i, "1.1.0", FORBIDDEN) for i in ("b0", "b1", "b2")]
    out += [_crash(i, "1.1.0", NEW, STACK_X) for i in ("b0", "b1", "b2")]
    out.append(_crash("b0", "1.1.0", NEW, STACK_Y))
    out.append(_crash("b0", "1.1.0", RARE, ["argilla.secret:path:1"]))
    return out


@pytest.fixture(params=["sqlite", "clickhouse"])
def health_view(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The view over the data set, computed by each store."""
    if request.param == "clickhouse":
        url = str(request.getfixturevalue("clickhouse_url"))
    else:
        url = f"sqlite:///{tmp_path / 'h.db'}"
    with asyncio.Runner() as runner:
        store = open_store(url)
        try:
            runner.run(store.write(history()))
            query = parse_query(days="30", app="argilla", today=TODAY)
            yield runner.run(compute_view(store, "release_health", query, 3))
        finally:
            runner.run(store.close())


def test_versions_newest_first_with_rates_counted_by_hand(health_view: dict[str, Any]) -> None:
    versions = health_view["versions"]
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]  # 0.9.0: one install
    new, old = versions
    assert (new["installs"], new["install_days"]) == (3, 15)
    assert (old["installs"], old["install_days"]) == (4, 40)
    # All errors: 1.1.0 has 4 ENF + 3 FORBIDDEN over 15 install-days; 1.0.0 has 3 + 1 over 40.
    assert (new["error_events"], new["error_rate"]) == (7, pytest.approx(46.6667))
    assert (old["error_events"], old["error_rate"]) == (4, 10.0)
    assert (new["crash_events"], new["crash_rate"]) == (5, pytest.approx(33.3333))
    assert (old["crash_events"], old["crash_rate"]) == (3, 7.5)
    assert [(e["code"], e["events"], e["installs"], e["rate"]) for e in new["top_errors"]] == [
        (ENF, 4, 3, pytest.approx(26.6667)),
        (FORBIDDEN, 3, 3, 20.0),
    ]
    # FORBIDDEN in 1.0.0 was one install's: not named there.
    assert [(e["code"], e["events"], e["rate"]) for e in old["top_errors"]] == [(ENF, 3, 7.5)]
    assert [(c["signature"], c["exception"], c["events"]) for c in new["top_crashes"]] == [
        (NEW, "KeyError", 4)
    ]


def test_latest_against_previous(health_view: dict[str, Any]) -> None:
    comparison = health_view["comparison"]
    assert (comparison["previous"], comparison["latest"]) == ("1.0.0", "1.1.0")
    errors = {e["code"]: e for e in comparison["errors"]}
    assert list(errors) == [FORBIDDEN, ENF]
    assert errors[ENF]["status"] == "worse"
    assert errors[ENF]["ratio"] == pytest.approx(26.6667 / 7.5, rel=1e-3)
    assert errors[ENF]["previous"] == {"events": 3, "installs": 3, "rate": 7.5}
    # Reported by one install of 1.0.0: neither "new" nor a ratio that bounds it.
    assert errors[FORBIDDEN]["status"] == "hidden"
    assert errors[FORBIDDEN]["previous"] is None
    assert errors[FORBIDDEN]["ratio"] is None
    assert errors[FORBIDDEN]["latest"] == {"events": 3, "installs": 3, "rate": 20.0}
    crashes = [
        (c["signature"], c["status"], c["previous"], c["latest"]) for c in comparison["crashes"]
    ]
    assert crashes == [
        (
            NEW,
            "new",
            {"events": 0, "installs": 0, "rate": 0.0},
            {"events": 4, "installs": 3, "rate": pytest.approx(26.6667)},
        ),
        (
            OLD,
            "gone",
            {"events": 3, "installs": 3, "rate": 7.5},
            {"events": 0, "installs": 0, "rate": 0.0},
        ),
    ]


def test_top_crashes_carry_versions_and_the_most_frequent_public_stack(
    health_view: dict[str, Any],
) -> None:
    assert health_view["top_crashes"] == [
        {
            "signature": NEW,
            "exception": "KeyError",
            "events": 4,
            "installs": 3,
            "versions": ["1.1.0"],
            "stack": STACK_X,
        },
        {
            "signature": OLD,
            "exception": "KeyError",
            "events": 3,
            "installs": 3,
            "versions": ["1.0.0"],
            "stack": STACK_OLD,
        },
    ]


def test_below_threshold_problems_and_versions_are_never_named(
    health_view: dict[str, Any],
) -> None:
    text = json.dumps(health_view)
    assert RARE not in text
    assert "argilla.secret" not in text
    assert STACK_Y[1] not in text  # one install's stack
    assert "0.9.0" not in text


def test_min_installs_one_names_everything(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
        try:
            runner.run(store.write(history()))
            query = parse_query(days="30", app="argilla", today=TODAY)
            body = runner.run(compute_view(store, "release_health", query, 1))
        finally:
            runner.run(store.close())
    assert [v["version"] for v in body["versions"]] == ["1.1.0", "1.0.0", "0.9.0"]
    assert RARE in json.dumps(body)
    forbidden = next(e for e in body["comparison"]["errors"] if e["code"] == FORBIDDEN)
    assert forbidden["status"] == "worse"


def test_served_by_the_api(tmp_path: Path, make_client: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        asyncio.run(store.write(history()))
        client: ReadClient = make_client(store)
        response = client.get(
            "/api/v1/stats/release_health", params={"app": "argilla"}, headers=AUTH
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["view"] == "release_health"
        assert body["min_installs"] == 3
        assert [v["version"] for v in body["versions"]] == ["1.1.0", "1.0.0"]
    finally:
        asyncio.run(store.close())
