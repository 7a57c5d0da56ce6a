"""The hardening suite's record: what each test tried, whether it held, what it measured.

Every hardening test takes the ``reliability`` fixture, says what it tries
(``reliability.tried(area, text)``) and adds its figures. Whether it held is
the test's own outcome. At the end of a run the records are merged into
``test-output/reliability.json`` (rows of tests that did not run are kept) and
``docs/reliability.md`` is rendered from it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from benchmarks.reliability_report import OUTPUT, RESULTS, render


@dataclass
class Record:
    """One hardening check as it will appear in ``docs/reliability.md``."""

    area: str = ""
    what: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def tried(self, area: str, what: str) -> None:
        """Name the area (fuzzing, abuse, auth, load, faults, sdk, privacy) and the attempt."""
        self.area = area
        self.what = what


_RECORDS: dict[str, Record] = {}
_OUTCOMES: dict[str, tuple[bool, str]] = {}
_COLLECTED: set[str] = set()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Before -k or -m deselect anything: a test left out of this run still exists.
    _COLLECTED.update(item.nodeid for item in items)


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Record:
    """The record of the running test (its outcome decides whether it held)."""
    record = Record()
    _RECORDS[request.node.nodeid] = record
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if item.nodeid not in _RECORDS:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        failure = ""
        if report.failed:
            failure = str(report.longrepr).strip().splitlines()[-1][:200]
        _OUTCOMES[item.nodeid] = (report.passed, failure)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    done = {k: v for k, v in _RECORDS.items() if k in _OUTCOMES and v.what}
    if not done:
        return
    results: dict[str, Any] = {"checks": {}}
    if RESULTS.exists():
        try:
            results = json.loads(RESULTS.read_text())
        except ValueError:
            results = {"checks": {}}
    collected = _COLLECTED | {item.nodeid for item in session.items}
    files = {nodeid.split("::", 1)[0] for nodeid in collected}
    root = Path(str(session.config.rootpath))
    for nodeid in list(results["checks"]):
        file = nodeid.split("::", 1)[0]
        # A test renamed or removed: its row goes with it.
        if (file in files and nodeid not in collected) or not (root / file).exists():
            del results["checks"][nodeid]
    for nodeid, record in done.items():
        held, failure = _OUTCOMES[nodeid]
        results["checks"][nodeid] = {
            "area": record.area,
            "tried": record.what,
            "held": held,
            "failure": failure,
            "figures": record.figures,
            "note": record.note,
        }
    results["run"] = {
        "finished": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))
    OUTPUT.write_text(render(results), encoding="utf-8")
