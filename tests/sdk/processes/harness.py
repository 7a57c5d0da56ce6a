"""Run a scenario in fresh processes and compare what was tracked with what arrived."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

from tests.conftest import clean_subprocess_env
from tests.sdk._sink import Sink

REPO = Path(__file__).resolve().parents[3]

Event = tuple[str, int, int | None]
"""``(event, process, n)``: one tracked event, as tracked or as received."""


class Outcome(NamedTuple):
    """What the processes of one run said, and how the run ended."""

    tracked: Counter[Event]
    flushes: list[dict[str, Any]]
    returncode: int
    stderr: str


def probe_env(sink: Sink, home: Path) -> dict[str, str]:
    """The environment of every process of a scenario."""
    return clean_subprocess_env(PYTHONPATH=str(REPO), PROBE_ENDPOINT=sink.url, PROBE_HOME=str(home))


def read_facts(stdout: str) -> tuple[Counter[Event], list[dict[str, Any]]]:
    """The events each process recorded as tracked, and the flush reports."""
    tracked: Counter[Event] = Counter()
    flushes = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        fact = json.loads(line)
        if "event" in fact:
            tracked[(fact["event"], fact["process"], fact["n"])] += 1
        elif "flushed" in fact:
            flushes.append(fact)
    return tracked, flushes


def drive(sink: Sink, home: Path, *args: str, timeout: float = 120.0) -> Outcome:
    """Run ``python -m tests.sdk.processes.drive ARGS`` to its (bounded) end."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.sdk.processes.drive", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=probe_env(sink, home),
        check=False,
    )
    tracked, flushes = read_facts(done.stdout)
    return Outcome(tracked, flushes, done.returncode, done.stderr)


def received(sink: Sink) -> Counter[Event]:
    """Every event the sink acknowledged, counted."""
    return Counter(
        (m["event"], m["properties"]["process"], m["properties"].get("n")) for m in sink.delivered()
    )


def assert_exactly_once(sink: Sink, tracked: Counter[Event]) -> None:
    """Every tracked event was acknowledged exactly once, and nothing else was."""
    assert tracked, "the scenario tracked nothing"
    got = received(sink)
    missing = tracked - got
    extra = got - tracked
    assert not missing, f"{sum(missing.values())} event(s) lost, e.g. {list(missing)[:5]}"
    assert not extra, f"{sum(extra.values())} event(s) duplicated or unknown: {list(extra)[:5]}"
    ids = [m["messageId"] for m in sink.delivered()]
    assert len(ids) == len(set(ids))
