"""``pigeon report``: the k-anonymous numbers of a real store, in the terminal.

The store holds the known data set of ``tests/dashboard/_data.py``; the expected
numbers are the ones counted by hand there (k = 3, 2024-06-01..2024-06-30).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path

import pytest

from pigeon.collector.storage import open_store
from tests.cli.conftest import RunCommand
from tests.dashboard._data import ENF, demo_app_events, known_events

RANGE = ("--from", "2024-06-01", "--to", "2024-06-30")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"
    store = open_store(url)

    async def fill() -> None:
        await store.write(known_events() + demo_app_events())
        await store.close()

    asyncio.run(fill())
    return url


def report(run: RunCommand, url: str, *args: str) -> str:
    result = run("report", "--store", url, "--min-installs", "3", *RANGE, *args)
    assert result.status == 0, result.err
    assert result.err == ""
    return result.out


def lines_of(text: str, title: str) -> list[list[str]]:
    """The rows of the table under ``title``, split on runs of two or more spaces."""
    block = text.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0]
    return [[cell for cell in line.strip().split("  ") if cell] for line in block.splitlines()]


def test_text_report(pigeon_cli: RunCommand, store_url: str) -> None:
    out = report(pigeon_cli, store_url, "--app", "argilla")
    assert out.startswith("pigeon report: argilla, 2024-06-01 to 2024-06-30 (30 days, UTC)\n")
    assert 'fewer than 3 installs are merged into "other"' in out
    assert [[c.strip() for c in r] for r in lines_of(out, "Active installs")] == [
        ["last day", "4"],
        ["last 7 days", "7"],
        ["last 30 days", "7"],
        ["in the range", "7"],
        ["events in the range", "28"],
    ]
    per_day = lines_of(out, "Active installs and events per day")
    assert [c.strip() for c in per_day[0]] == ["day", "installs", "events"]
    assert len(per_day) == 31
    assert [c.strip() for c in per_day[-1]] == ["2024-06-30", "4", "8"]
    assert [[c.strip() for c in r] for r in lines_of(out, "Version adoption")] == [
        ["version", "events", "installs"],
        ["1.29.0", "22", "4"],
        ["other", "6", "3"],
    ]
    assert [[c.strip() for c in r] for r in lines_of(out, "Systems")] == [
        ["system", "events", "installs"],
        ["Linux", "24", "5"],
    ]
    assert [[c.strip() for c in r] for r in lines_of(out, "Top errors")] == [
        ["code", "entity type", "events", "installs"],
        [ENF, "Dataset", "4", "3"],
    ]
    assert [[c.strip() for c in r] for r in lines_of(out, "Bulk uploads")] == [
        ["task", "records", "events", "installs"],
        ["TextClassification", "160", "3", "3"],
    ]
    trainer = [[c.strip() for c in r] for r in lines_of(out, "Trainer")]
    assert trainer[1] == ["transformers", "TextClassification", "3", "3"]
    assert "1.28.0" not in out  # two installs: never named
    assert "Darwin" not in out  # one install: never named


def test_all_apps_and_hidden_days(pigeon_main: RunCommand, store_url: str) -> None:
    result = pigeon_main("report", "--store", store_url, *RANGE)  # k = 5
    assert result.status == 0, result.err
    assert result.out.startswith("pigeon report: all apps,")
    per_day = lines_of(result.out, "Active installs and events per day")
    # Today: 4 installs of argilla and 3 of labelbox, 7 in all, shown at k = 5.
    assert [c.strip() for c in per_day[-1]] == ["2024-06-30", "7", "11"]
    # Yesterday argilla had 7 installs: shown; under k = 5 a day would read "<5".
    result = pigeon_main("report", "--store", store_url, *RANGE, "--app", "labelbox")
    per_day = lines_of(result.out, "Active installs and events per day")
    assert [c.strip() for c in per_day[-1]] == ["2024-06-30", "<5", "<5"]


def test_json_is_the_export(pigeon_main: RunCommand, store_url: str) -> None:
    data = json.loads(report(pigeon_main, store_url, "--app", "argilla", "--format", "json"))
    assert data["range"] == {"from": "2024-06-01", "to": "2024-06-30", "days": 30}
    assert data["min_installs"] == 3
    versions = [(r["value"], r["events"], r["installs"]) for r in data["tables"]["versions"]]
    assert versions == [("1.29.0", 22, 4), ("other", 6, 3)]


def test_adoption_section(pigeon_main: RunCommand, store_url: str) -> None:
    out = report(pigeon_main, store_url, "--app", "argilla")
    upgrades = lines_of(out, "Upgrades: days from first sighting to 50% of active installs")
    assert [[c.strip() for c in r] for r in upgrades] == [
        ["version", "first seen", "50% on", "days", "installs"],
        ["1.29.0", "2024-06-20", "2024-06-20", "0", "4"],
    ]
    title = "Install retention by first-seen week (% of the cohort active, week 0 on)"
    cohorts = [[c.strip() for c in r] for r in lines_of(out, title)]
    assert cohorts[0] == ["week of", "installs", "w0", "w1", "w2", "w3", "w4"]
    assert cohorts[4] == ["2024-06-17", "5", "100%", "100%"]
    # At k = 6 that cohort of 5 is hidden whole.
    hidden = pigeon_main(
        "report", "--store", store_url, *RANGE, "--app", "argilla", "--min-installs", "6"
    )
    assert hidden.status == 0, hidden.err
    cohorts = [[c.strip() for c in r] for r in lines_of(hidden.out, title)]
    assert cohorts[4] == ["2024-06-17", "<6", "<6", "<6"]
    data = json.loads(report(pigeon_main, store_url, "--app", "argilla", "--format", "json"))
    assert data["adoption"]["versions"][0]["days_to_half"] == 0
    assert data["adoption"]["cohorts"]["rows"][3]["active"] == [5, 5]


def test_csv_is_the_export(pigeon_main: RunCommand, store_url: str) -> None:
    text = report(pigeon_main, store_url, "--app", "argilla", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    machines = [(r["value"], r["events"], r["installs"]) for r in rows if r["table"] == "machines"]
    assert machines == [("x86_64", "18", "4"), ("other", "10", "3")]


def test_min_installs_from_the_environment(pigeon_main: RunCommand, store_url: str) -> None:
    result = pigeon_main(
        "report", "--store", store_url, *RANGE, "--app", "argilla", env={"PIGEON_MIN_INSTALLS": "1"}
    )
    assert result.status == 0
    assert "1.28.0" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--days", "abc"), "--days: expected a whole number of days, got 'abc'"),
        (("--days", "0"), "--days: must be between 1 and"),
        (("--from", "2024-02-30"), "--from: expected a date as YYYY-MM-DD"),
        (("--days", "7", "--to", "2024-06-01"), "--days: give either days or from/to"),
        (("--min-installs", "0"), "--min-installs: expected a whole number >= 1"),
        (("--app", "nope"), "--app: no data for app 'nope' (apps: argilla, labelbox)"),
        (("--app", "bad app!"), "--app: expected an app name"),
    ],
)
def test_bad_options_fail_in_one_line(
    pigeon_cli: RunCommand, store_url: str, args: tuple[str, ...], message: str
) -> None:
    result = pigeon_cli("report", "--store", store_url, *args)
    assert result.status == 2
    assert result.out == ""
    assert result.err.startswith(f"pigeon report: error: {message}")
    assert result.err.count("\n") == 1


def test_a_missing_store_is_not_created(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "pigeon.db"
    result = pigeon_cli("report", "--store", f"sqlite:///{path}")
    assert result.status == 2
    assert (
        result.err
        == f"pigeon report: error: --store: no store at {path} (start the collector first?)\n"
    )
    assert not path.parent.exists()


def test_a_bad_store_url(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("report", "--store", "mysql://x")
    assert result.status == 2
    assert result.err.startswith("pigeon report: error: --store: unsupported store URL")


def test_the_store_from_the_environment(pigeon_process: RunCommand, store_url: str) -> None:
    result = pigeon_process("report", *RANGE, "--app", "argilla", env={"PIGEON_STORE": store_url})
    assert result.status == 0, result.err
    assert "  Linux  " in result.out  # five installs: named at the default k = 5
    assert "1.29.0" not in result.out  # four installs: merged


def test_without_the_collector_extra(
    pigeon_main: RunCommand, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)
    result = pigeon_main("report", "--store", store_url)
    assert result.status == 2
    assert "pip install 'pigeon-telemetry[collector]'" in result.err


def test_release_health_section(pigeon_main: RunCommand, tmp_path: Path) -> None:
    from tests.dashboard.test_release_health import NEW, RARE, STACK_X, history

    url = f"sqlite:///{tmp_path / 'health.db'}"
    store = open_store(url)

    async def fill() -> None:
        await store.write(history())
        await store.close()

    asyncio.run(fill())
    out = report(pigeon_main, url, "--app", "argilla")
    rows = lines_of(
        out, "Release health (rates: events per 100 active installs of the version per day)"
    )
    assert [[c.strip() for c in r] for r in rows] == [
        ["version", "installs", "error rate", "crash rate"],
        ["1.1.0", "3", "46.67", "33.33"],
        ["1.0.0", "4", "10.00", "7.50"],
    ]
    changes = [[c.strip() for c in r] for r in lines_of(out, "Latest vs previous: 1.1.0 vs 1.0.0")]
    assert changes[0] == ["kind", "problem", "status", "previous rate", "latest rate", "ratio"]
    assert ["crash", f"{NEW} KeyError", "new", "0.00", "26.67", "—"] in changes
    assert [
        "error",
        "argilla.api.errors::ForbiddenOperationError",
        "hidden",
        "<3",
        "20.00",
        "—",
    ] in changes
    crashes = [[c.strip() for c in r] for r in lines_of(out, "Top crashes")]
    assert crashes[1] == [NEW, "KeyError", "4", "3", "1.1.0"]
    assert f"stack of {NEW}:\n" + "\n".join(f"    {f}" for f in STACK_X) in out
    assert RARE not in out
    data = json.loads(report(pigeon_main, url, "--app", "argilla", "--format", "json"))
    assert [v["version"] for v in data["release_health"]["versions"]] == ["1.1.0", "1.0.0"]
