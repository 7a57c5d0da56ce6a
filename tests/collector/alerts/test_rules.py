"""Rules on a real SQLite store, and once-only alerts across evaluations, restarts, processes."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pigeon.collector._metrics import Metrics
from pigeon.collector.alerts import Alerter, AlertState, evaluate_rule
from pigeon.collector.storage import open_store
from pigeon.collector.storage._base import Store, StoredEvent
from tests.collector.alerts._helpers import (
    NOW_MS,
    SIGNATURE,
    config,
    crash,
    error,
    rule,
    state_rows,
)
from tests.collector.conftest import SyncStore
from tests.dashboard._data import ENF, FORBIDDEN, TODAY, event, fill

K = 3  # the collector's min_installs in these tests
OTHER = "argilla.api.errors::OtherError"


def problems() -> list[StoredEvent]:
    """ENF: 3 installs today, new. FORBIDDEN: 3 installs today, but once 10 days ago.

    OTHER: 2 installs today (under K). A crash: 3 installs yesterday, new.
    """
    out = [error(f"n{i}", TODAY) for i in range(K)]
    out += [error(f"n{i}", TODAY, FORBIDDEN) for i in range(K)] + [
        error("n9", TODAY - 10, FORBIDDEN)
    ]
    out += [error(f"n{i}", TODAY, OTHER) for i in range(K - 1)]
    out += [crash(f"n{i}", TODAY - 1) for i in range(K)]
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/store/p.db")
    yield opened
    asyncio.run(opened.close())


def run(store: Store, what: str, kind: str = "new", **values: object) -> list[object]:
    found = asyncio.run(
        evaluate_rule(store, rule("r", kind, what, **values), ["argilla"], K, TODAY)
    )
    return list(found)


def test_new_error_code_and_crash_signature_reaching_k_installs(store: Store) -> None:
    fill(store, problems())
    errors = run(store, "error")
    assert [(a.problem, a.numbers["installs"]) for a in errors] == [  # type: ignore[attr-defined]
        ({"code": ENF, "type": ""}, K)
    ]
    assert errors[0].key == f"r|argilla|{ENF}\t"  # type: ignore[attr-defined]
    crashes = run(store, "crash")
    assert [a.problem for a in crashes] == [  # type: ignore[attr-defined]
        {"signature": SIGNATURE, "exception": "KeyError"}
    ]
    assert crashes[0].numbers == {"events": 3, "installs": 3, "days": 2, "look_back_days": 30}  # type: ignore[attr-defined]


def test_a_problem_seen_before_the_look_back_is_new_again(store: Store) -> None:
    fill(store, problems())
    found = run(store, "error", days=5)  # FORBIDDEN's old report is 10 days back
    assert sorted(a.problem["code"] for a in found) == sorted([ENF, FORBIDDEN])  # type: ignore[attr-defined]


def test_an_app_rule_sees_its_app_only(store: Store) -> None:
    fill(store, problems())
    assert run(store, "error", app="labelbox") == []


def _releases(worse_events: int) -> list[StoredEvent]:
    """1.0 on 10 installs for 10 days, 1.1 on 5 for 5 days; ENF reported by 3 of each."""
    out = []
    for day in range(TODAY - 9, TODAY + 1):
        out += [event(f"a{n}", "ServerStarted", day, version="1.0.0") for n in range(10)]
    for day in range(TODAY - 4, TODAY + 1):
        out += [event(f"b{n}", "ServerStarted", day, version="1.1.0") for n in range(5)]
    out += [error(f"a{n}", TODAY - 5, version="1.0.0") for n in range(3)]  # rate 3/100*100 = 3
    out += [error(f"b{n % 3}", TODAY, version="1.1.0") for n in range(worse_events)]
    out += [error(f"b{n}", TODAY, FORBIDDEN, "1.1.0") for n in range(K)]  # new in 1.1
    out += [error("b0", TODAY, OTHER, "1.1.0")]  # new in 1.1, but one install
    return out


def test_rate_increase_alerts_the_latest_version(store: Store) -> None:
    # 1.0: 3 events / 100 install-days = 3.0; 1.1: 6 / 25 = 24.0, 8x; FORBIDDEN: new.
    fill(store, _releases(6))
    found = {a.problem["code"]: a for a in run(store, "error", "rate", factor=2.0, min_installs=5)}  # type: ignore[attr-defined]
    assert set(found) == {ENF, FORBIDDEN}
    worse = found[ENF]
    assert (worse.version, worse.key) == ("1.1.0", f"r|argilla|{ENF}\t|1.1.0")  # type: ignore[attr-defined]
    assert worse.numbers["rate"] == 24.0  # type: ignore[attr-defined]
    assert worse.numbers["previous_rate"] == 3.0  # type: ignore[attr-defined]
    assert worse.numbers["ratio"] == 8.0  # type: ignore[attr-defined]
    assert found[FORBIDDEN].numbers["previous_rate"] is None  # type: ignore[attr-defined]


def test_rate_under_the_factor_or_without_enough_installs_does_not_alert(store: Store) -> None:
    fill(store, _releases(6))
    found = run(store, "error", "rate", factor=10.0, min_installs=5)
    assert [a.problem["code"] for a in found] == [FORBIDDEN]  # type: ignore[attr-defined]
    # 1.1 has 5 installs: with 6 required there is no pair of versions to compare.
    assert run(store, "error", "rate", factor=2.0, min_installs=6) == []


def test_below_k_never_alerts(store: Store) -> None:
    fill(store, [error(f"n{i}", TODAY) for i in range(K - 1)] + [crash("n1", TODAY)] * 5)
    assert run(store, "error") == []
    assert run(store, "crash") == []


def _alerter(store: Store, state: Path) -> Alerter:
    rules = [rule("new-errors", "new", "error"), rule("new-crashes", "new", "crash")]
    return Alerter(config(state, rules), store, K, Metrics(), clock=lambda: NOW_MS / 1000)


def test_each_alert_is_raised_once_across_evaluations_and_restarts(
    store: Store, tmp_path: Path
) -> None:
    fill(store, problems())
    path = tmp_path / "alerts.db"
    first = _alerter(store, path)
    assert len(asyncio.run(first.evaluate())) == 2
    assert asyncio.run(first.evaluate()) == []
    restarted = _alerter(store, path)  # a new process on the same state file
    assert asyncio.run(restarted.evaluate()) == []
    assert sorted(row[2] for row in state_rows(path)) == ["pending", "pending"]
    history = AlertState(path).history()
    assert [a["rule"] for a in history] == ["new-crashes", "new-errors"]  # newest first
    assert history[0]["deliveries"][0]["status"] == "pending"


def _evaluate_in_a_process(store_url: str, state: str, barrier: Any, out: Any) -> None:
    store = open_store(store_url)
    alerter = _alerter(store, Path(state))
    barrier.wait()  # both evaluate at the same time
    try:
        out.put(len(asyncio.run(alerter.evaluate())))
    finally:
        asyncio.run(store.close())


def test_two_processes_on_one_state_file_raise_each_alert_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store/p.db"
    store = open_store(url)
    fill(store, problems())
    asyncio.run(store.close())
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    state = str(tmp_path / "alerts.db")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_evaluate_in_a_process, args=(url, state, barrier, out))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    raised = [out.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert sum(raised) == 2  # two alerts, each raised by one of the processes
    assert len(list(state_rows(Path(state)))) == 2


def test_crash_rate_names_the_exception_and_clickhouse_agrees(clickhouse_url: str) -> None:
    # The same rules on a real ClickHouse store: both stores count the same rollups.
    crashes = [crash(f"a{n}", TODAY - 5, "1.0.0") for n in range(3)]
    crashes += [crash(f"b{n % 3}", TODAY, "1.1.0") for n in range(6)]
    events = _releases(6) + crashes  # crashes on days both versions were active anyway
    store = SyncStore(clickhouse_url)
    try:
        store.write(events)
        rate_rule = rule("r", "rate", "crash", factor=2.0, min_installs=5)
        found = store._runner.run(evaluate_rule(store.store, rate_rule, ["argilla"], K, TODAY))
        new = store._runner.run(
            evaluate_rule(store.store, rule("n", "new", "error"), ["argilla"], K, TODAY)
        )
    finally:
        store.close()
    assert [(a.problem, a.version, a.numbers["ratio"]) for a in found] == [
        ({"signature": SIGNATURE, "exception": "KeyError"}, "1.1.0", 8.0)
    ]
    assert [a.problem["code"] for a in new] == [FORBIDDEN]  # ENF was reported 5 days ago
