"""Every stats view against a real SQLite store of known events (see conftest's table).

Expected numbers are counted by hand from the data set, with k = 3 unless a test
says otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pigeon.collector.stats import VIEWS
from pigeon.collector.storage._base import Store
from tests.dashboard._client import ReadClient
from tests.dashboard._data import AUTH, ENF

D30 = 29  # index of TODAY in a 30-day series; T-1 is 28, T-10 is 19


def get(client: ReadClient, view: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/stats/{view}", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["view"] == view
    return body


def nonzero(data: list[int | None]) -> dict[int, int | None]:
    """The days (by index) of a series that are not plain zero: values and hidden cells."""
    return {i: v for i, v in enumerate(data) if v != 0}


def test_view_list_names_every_view(client: ReadClient) -> None:
    response = client.get("/api/v1/stats", headers=AUTH)
    assert response.json() == {"views": list(VIEWS), "min_installs": 3}
    assert list(VIEWS) == [
        "overview",
        "installs",
        "events",
        "versions",
        "adoption",
        "python",
        "systems",
        "errors",
        "release_health",
        "bulk",
        "trainer",
        "clients",
        "languages",
    ]


def test_overview(client: ReadClient) -> None:
    body = get(client, "overview", app="argilla")
    assert body["range"] == {"from": "2024-06-01", "to": "2024-06-30", "days": 30}
    assert body["min_installs"] == 3
    assert body["installs"] == {"last_day": 4, "last_7_days": 7, "last_30_days": 7, "range": 7}
    assert body["events"] == 28
    assert [(r["value"], r["events"], r["installs"]) for r in body["by_event"]] == [
        ("ServerStarted", 12, 7),
        ("ServerErrorFound", 5, 4),
        ("LogRecordsRequested", 4, 3),
        ("TrainerUsage", 4, 4),
        ("UserInfoRequested", 3, 3),
    ]
    assert body["apps"] == ["argilla", "labelbox"]


def test_overview_of_all_apps_adds_the_second_app(client: ReadClient) -> None:
    body = get(client, "overview")
    assert body["app"] is None
    assert body["installs"] == {"last_day": 7, "last_7_days": 10, "last_30_days": 10, "range": 10}
    assert body["events"] == 31


def test_installs_per_day(client: ReadClient) -> None:
    body = get(client, "installs", app="argilla")
    assert body["actives"] == {"last_day": 4, "last_7_days": 7, "last_30_days": 7, "range": 7}
    assert len(body["days"]) == 30
    assert body["days"][0] == "2024-06-01"
    assert body["days"][D30] == "2024-06-30"
    assert nonzero(body["installs"]) == {19: 7, 28: 7, 29: 4}
    assert nonzero(body["events"]) == {19: 11, 28: 9, 29: 8}


def test_days_below_the_threshold_are_hidden(known_store: Store, make_client: Any) -> None:
    client = make_client(known_store, min_installs=5)
    body = get(client, "installs", app="argilla")
    # Today only 4 installs were active: under k = 5, the day is hidden, not zero.
    assert nonzero(body["installs"]) == {19: 7, 28: 7, 29: None}
    assert nonzero(body["events"]) == {19: 11, 28: 9, 29: None}
    assert body["actives"]["last_day"] is None
    assert body["actives"]["last_7_days"] == 7


def test_events_by_name_per_day(client: ReadClient) -> None:
    body = get(client, "events", app="argilla")
    assert [(r["value"], r["events"], r["installs"]) for r in body["rows"]] == [
        ("ServerStarted", 12, 7),
        ("ServerErrorFound", 5, 4),
        ("LogRecordsRequested", 4, 3),
        ("TrainerUsage", 4, 4),
        ("UserInfoRequested", 3, 3),
    ]
    trend = body["trend"]
    assert trend["metric"] == "events"
    series = {s["value"]: nonzero(s["data"]) for s in trend["series"]}
    assert series == {
        # Yesterday only i7 started: one install, hidden, and moved to "other"...
        "ServerStarted": {19: 7, 28: None, 29: 4},
        "ServerErrorFound": {28: 5},
        "LogRecordsRequested": {29: 4},
        "TrainerUsage": {19: 4},
        "UserInfoRequested": {28: 3},
        # ...where it stays hidden: "other" has one install that day.
        "other": {28: None},
    }


def test_versions_merge_rare_versions_into_other(client: ReadClient) -> None:
    body = get(client, "versions", app="argilla")
    assert body["rows"] == [
        {"value": "1.29.0", "label": "1.29.0", "events": 22, "installs": 4},
        # 1.28.0 (2 installs) and 1.27.0 (1 install): merged, 3 installs together.
        {"value": "other", "label": "other", "events": 6, "installs": 3, "merged": True},
    ]
    trend = body["trend"]
    assert trend["metric"] == "installs"
    assert {s["value"]: nonzero(s["data"]) for s in trend["series"]} == {
        "1.29.0": {19: 4, 28: 4, 29: 4},
        "other": {19: 3, 28: 3},
    }


def test_other_is_hidden_when_it_stays_under_the_threshold(
    known_store: Store, make_client: Any
) -> None:
    client = make_client(known_store, min_installs=4)
    body = get(client, "versions", app="argilla")
    assert [r["value"] for r in body["rows"]] == ["1.29.0"]
    client = make_client(known_store, min_installs=5)
    body = get(client, "versions", app="argilla")
    # Nothing reaches 5 installs alone; all together they are 7.
    assert body["rows"] == [
        {"value": "other", "label": "other", "events": 28, "installs": 7, "merged": True}
    ]


def test_k_of_one_shows_every_value(known_store: Store, make_client: Any) -> None:
    client = make_client(known_store, min_installs=1)
    body = get(client, "versions", app="argilla")
    assert [(r["value"], r["events"], r["installs"]) for r in body["rows"]] == [
        ("1.29.0", 22, 4),
        ("1.28.0", 4, 2),
        ("1.27.0", 2, 1),
    ]


def test_python(client: ReadClient) -> None:
    body = get(client, "python", app="argilla")
    assert [(r["value"], r["events"], r["installs"]) for r in body["rows"]] == [
        ("3.11.9", 14, 3),
        ("other", 14, 4),
    ]


def test_systems_and_machines(client: ReadClient) -> None:
    body = get(client, "systems", app="argilla")
    # Darwin and Windows: one install each, "other" with 2 installs stays hidden.
    assert [(r["value"], r["events"], r["installs"]) for r in body["systems"]["rows"]] == [
        ("Linux", 24, 5)
    ]
    assert [(r["value"], r["events"], r["installs"]) for r in body["machines"]["rows"]] == [
        ("x86_64", 18, 4),
        ("other", 10, 3),
    ]


def test_errors_by_code_and_type(client: ReadClient) -> None:
    body = get(client, "errors", app="argilla")
    assert body["rows"] == [
        {
            "value": f"{ENF}\tDataset",
            "label": f"{ENF} (Dataset)",
            "code": ENF,
            "type": "Dataset",
            "events": 4,
            "installs": 3,
        }
    ]
    trend = {s["value"]: nonzero(s["data"]) for s in body["trend"]["series"]}
    assert trend == {f"{ENF}\tDataset": {28: 4}, "other": {28: None}}


def test_bulk_records_per_task(client: ReadClient) -> None:
    body = get(client, "bulk", app="argilla")
    assert body["rows"] == [
        {
            "value": "TextClassification",
            "label": "TextClassification",
            "events": 3,
            "installs": 3,
            "records": 160,
        }
    ]
    assert body["trend"]["metric"] == "records"
    trend = {s["value"]: nonzero(s["data"]) for s in body["trend"]["series"]}
    assert trend == {"TextClassification": {29: 160}, "other": {29: None}}


def test_trainer_frameworks_and_tasks(client: ReadClient) -> None:
    body = get(client, "trainer", app="argilla")
    assert body["trainer"]["rows"] == [
        {
            "value": "transformers\tTextClassification",
            "label": "transformers · TextClassification",
            "framework": "transformers",
            "task": "TextClassification",
            "events": 3,
            "installs": 3,
        }
    ]


def test_clients_and_libraries(client: ReadClient) -> None:
    body = get(client, "clients", app="argilla")
    assert [(r["value"], r["events"], r["installs"]) for r in body["clients"]["rows"]] == [
        ("Firefox", 3, 3)
    ]
    assert [(r["value"], r["events"], r["installs"]) for r in body["libraries"]["rows"]] == [
        ("pigeon/0.1.0", 26, 6)
    ]


def test_languages(client: ReadClient) -> None:
    body = get(client, "languages", app="argilla")
    assert [(r["value"], r["events"], r["installs"]) for r in body["languages"]["rows"]] == [
        ("de", 3, 3)
    ]


def test_last_seven_days(client: ReadClient) -> None:
    body = get(client, "versions", app="argilla", days="7")
    assert body["range"] == {"from": "2024-06-24", "to": "2024-06-30", "days": 7}
    assert [(r["value"], r["events"], r["installs"]) for r in body["rows"]] == [
        ("1.29.0", 14, 4),
        ("other", 3, 3),
    ]
    assert get(client, "overview", app="argilla", days="7")["events"] == 17


def test_sixty_days_reach_the_older_version(client: ReadClient) -> None:
    body = get(client, "versions", app="argilla", days="60")
    assert [(r["value"], r["events"], r["installs"]) for r in body["rows"]] == [
        ("1.29.0", 22, 4),
        ("other", 8, 5),
    ]
    assert get(client, "overview", app="argilla", days="60")["events"] == 30


def test_from_to_picks_one_day(client: ReadClient) -> None:
    day = "2024-06-20"  # T-10
    body = get(client, "versions", app="argilla", **{"from": day, "to": day})
    assert body["range"] == {"from": day, "to": day, "days": 1}
    assert [(r["value"], r["events"], r["installs"]) for r in body["rows"]] == [
        ("1.29.0", 8, 4),
        ("other", 3, 3),
    ]
    assert get(client, "installs", app="argilla", **{"from": day, "to": day})["installs"] == [7]


def test_to_alone_ends_a_thirty_day_range(client: ReadClient) -> None:
    body = get(client, "overview", app="argilla", to="2024-06-29")
    assert body["range"] == {"from": "2024-05-31", "to": "2024-06-29", "days": 30}
    assert body["events"] == 20  # everything but today's 8


def test_a_range_without_data_is_zero(client: ReadClient) -> None:
    body = get(client, "installs", app="argilla", **{"from": "2023-01-01", "to": "2023-01-03"})
    assert body["installs"] == [0, 0, 0]
    assert body["actives"] == {"last_day": 0, "last_7_days": 0, "last_30_days": 0, "range": 0}
    assert get(client, "versions", app="argilla", to="2023-01-03")["rows"] == []


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"days": "0"}, "days"),
        ({"days": "-3"}, "days"),
        ({"days": "abc"}, "days"),
        ({"days": "99999"}, "days"),
        ({"days": "7", "from": "2024-06-01"}, "days"),
        ({"from": "2024-13-01"}, "from"),
        ({"to": "30/06/2024"}, "to"),
        ({"from": "2024-06-30", "to": "2024-06-01"}, "from"),
        ({"from": "1990-01-01", "to": "2024-06-01"}, "from"),
        ({"app": "no such app!"}, "app"),
        ({"app": "unknownapp"}, "app"),
    ],
)
def test_bad_parameters_are_named(
    client: ReadClient, params: dict[str, str], parameter: str
) -> None:
    response = client.get("/api/v1/stats/overview", params=params, headers=AUTH)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_query"
    assert body["message"].startswith(f"{parameter}: ")
    assert body["details"][0]["path"] == parameter


def test_unknown_view_is_404_json(client: ReadClient) -> None:
    response = client.get("/api/v1/stats/nonsense", headers=AUTH)
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "unknown_view"
    assert "overview" in body["message"]
    assert body["details"][0]["path"] == "view"


def test_today_is_the_default_end(client: ReadClient) -> None:
    body = get(client, "installs", app="argilla", days="1")
    assert body["range"]["days"] == 1
    assert body["days"] == ["2024-06-30"]
    assert body["installs"] == [4]


def test_openapi_describes_the_read_endpoints(client: ReadClient) -> None:
    spec = client.get("/openapi.json").json()
    stats = spec["paths"]["/api/v1/stats/{view}"]["get"]
    assert {p["name"] for p in stats["parameters"]} == {"view", "days", "app", "from", "to"}
    assert {"200", "400", "401", "404"} <= set(stats["responses"])
    assert "overview" in stats["parameters"][0]["description"]
    export = spec["paths"]["/api/v1/export"]["get"]
    assert "format" in {p["name"] for p in export["parameters"]}
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyCookie"}
    assert "/" not in spec["paths"]  # the dashboard pages are not API


def test_a_store_that_cannot_be_read_is_503(known_store: Store, make_client: Any) -> None:
    client = make_client(known_store)
    asyncio.run(known_store.close())
    for path in ("/api/v1/stats/overview", "/api/v1/stats/versions?app=argilla", "/api/v1/export"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["code"] == "store_unavailable"
