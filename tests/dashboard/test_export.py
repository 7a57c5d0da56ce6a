"""``GET /api/v1/export``: the publishable, k-anonymous aggregates as JSON and CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from pigeon.collector.storage import open_store
from tests.dashboard._client import ReadClient
from tests.dashboard._data import AUTH, ENF, TODAY, event, fill


def export(client: ReadClient, **params: str) -> Any:
    response = client.get("/api/v1/export", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response


def test_json_export_carries_every_table(client: ReadClient) -> None:
    data = export(client, app="argilla").json()
    assert data["app"] == "argilla"
    assert data["range"] == {"from": "2024-06-01", "to": "2024-06-30", "days": 30}
    assert data["min_installs"] == 3
    assert "merged into 'other'" in data["note"]
    assert data["actives"] == {"last_day": 4, "last_7_days": 7, "last_30_days": 7, "range": 7}
    assert len(data["daily"]["days"]) == 30
    assert sum(v or 0 for v in data["daily"]["events"]) == 28
    tables = data["tables"]
    assert list(tables) == [
        "events",
        "versions",
        "python",
        "systems",
        "machines",
        "errors",
        "bulk",
        "trainer",
        "clients",
        "languages",
        "libraries",
    ]

    def summary(name: str) -> list[tuple[str, int, int]]:
        return [(r["value"], r["events"], r["installs"]) for r in tables[name]]

    assert summary("versions") == [("1.29.0", 22, 4), ("other", 6, 3)]
    assert summary("systems") == [("Linux", 24, 5)]
    assert summary("machines") == [("x86_64", 18, 4), ("other", 10, 3)]
    assert summary("errors") == [(f"{ENF}\tDataset", 4, 3)]
    assert tables["bulk"][0]["records"] == 160
    assert summary("trainer") == [("transformers\tTextClassification", 3, 3)]
    assert summary("languages") == [("de", 3, 3)]
    adoption = data["adoption"]
    assert [(v["value"], v["days_to_half"]) for v in adoption["versions"]] == [("1.29.0", 0)]
    assert [r["size"] for r in adoption["cohorts"]["rows"]] == [0, 0, 0, 5, 0]


def test_json_export_respects_the_range(client: ReadClient) -> None:
    data = export(client, app="argilla", days="7").json()
    assert data["range"]["days"] == 7
    assert [(r["value"], r["events"]) for r in data["tables"]["versions"]] == [
        ("1.29.0", 14),
        ("other", 3),
    ]


def test_csv_export(client: ReadClient) -> None:
    response = export(client, app="argilla", format="csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="pigeon-argilla-2024-06-01-2024-06-30.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    release = ["version", "rate", "status", "ratio"]
    assert list(rows[0]) == [
        "table",
        "day",
        "value",
        "label",
        "events",
        "installs",
        "records",
        *release,
    ]
    daily = [r for r in rows if r["table"] == "daily"]
    assert len(daily) == 30
    assert daily[-1] == {
        "table": "daily",
        "day": "2024-06-30",
        "value": "",
        "label": "",
        "events": "8",
        "installs": "4",
        "records": "",
        **dict.fromkeys(release, ""),
    }
    versions = [(r["value"], r["events"], r["installs"]) for r in rows if r["table"] == "versions"]
    assert versions == [("1.29.0", "22", "4"), ("other", "6", "3")]
    bulk = [r for r in rows if r["table"] == "bulk"]
    assert [(r["value"], r["records"]) for r in bulk] == [("TextClassification", "160")]


def test_csv_hides_small_days_as_empty_cells(known_store: Any, make_client: Any) -> None:
    client = make_client(known_store, min_installs=5)
    rows = list(csv.DictReader(io.StringIO(export(client, app="argilla", format="csv").text)))
    today = next(r for r in rows if r["table"] == "daily" and r["day"] == "2024-06-30")
    assert (today["events"], today["installs"]) == ("", "")


def test_csv_never_starts_a_cell_with_a_formula(store_url: str, make_client: Any) -> None:
    # Clients choose their app version string: a spreadsheet must not run it.
    store = open_store(store_url)
    try:
        evil = "=HYPERLINK(1)"
        fill(store, [event(f"i{n}", "ServerStarted", TODAY, version=evil) for n in range(1, 4)])
        client = make_client(store)
        text = export(client, format="csv").text
        rows = list(csv.DictReader(io.StringIO(text)))
        versions = [r for r in rows if r["table"] == "versions"]
        assert [r["value"] for r in versions] == ["'" + evil]
        assert all(not cell.startswith("=") for r in rows for cell in r.values())
    finally:
        asyncio.run(store.close())


def test_bad_format_is_named(client: ReadClient) -> None:
    response = client.get("/api/v1/export", params={"format": "xml"}, headers=AUTH)
    assert response.status_code == 400
    body = response.json()
    assert body["details"] == [{"path": "format", "reason": "expected json or csv, got 'xml'"}]


def test_export_needs_the_token(client: ReadClient) -> None:
    assert client.get("/api/v1/export", params={"format": "csv"}).status_code == 401


def test_json_export_carries_release_health(client: ReadClient) -> None:
    health = export(client, app="argilla").json()["release_health"]
    # 1.29.0 alone has 3 installs or more; it ran 4 + 4 + 4 install-days (T, T-1, T-10).
    assert [(v["version"], v["installs"], v["install_days"]) for v in health["versions"]] == [
        ("1.29.0", 4, 12)
    ]
    version = health["versions"][0]
    assert (version["error_events"], version["error_rate"]) == (5, 41.6667)
    # The Forbidden error is one install's: counted in the rate, never named.
    assert [(e["code"], e["type"], e["events"]) for e in version["top_errors"]] == [
        (ENF, "Dataset", 4)
    ]
    assert health["comparison"] is None  # one version to compare
    assert health["top_crashes"] == []


def test_csv_carries_release_health(client: ReadClient) -> None:
    rows = list(csv.DictReader(io.StringIO(export(client, app="argilla", format="csv").text)))
    health = [r for r in rows if r["table"].startswith("release_")]
    assert [
        (r["table"], r["version"], r["value"], r["events"], r["installs"], r["rate"])
        for r in health
    ] == [
        ("release_versions", "1.29.0", "1.29.0", "", "4", ""),
        ("release_errors", "1.29.0", "", "5", "", "41.6667"),
        ("release_errors", "1.29.0", f"{ENF}\tDataset", "4", "3", "33.3333"),
        ("release_crashes", "1.29.0", "", "0", "", "0.0"),
    ]
