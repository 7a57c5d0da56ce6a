"""The reference server in-process: its API, and exactly which event each call produces."""

from __future__ import annotations

import io
import json
import secrets
from typing import Any, NamedTuple

import pytest
from fastapi import FastAPI

import pigeon
from pigeon.demo._app import create_app
from pigeon.demo._settings import DemoSettings
from pigeon.testing import MemoryTransport, capture_events
from tests.integrations.asgi_client import AppClient

OWNER = {
    "X-Argilla-Api-Key": "argilla.apikey",
    "User-Agent": "argilla/1.29.0 python/3.11.7",
    "Accept-Language": "es-ES,es;q=0.9",
}
CLIENT_HEADERS = {"user-agent": OWNER["User-Agent"], "accept-language": OWNER["Accept-Language"]}
ERRORS = "argilla.api.errors::"


def make_app(telemetry: pigeon.Client, **settings: Any) -> FastAPI:
    return create_app(telemetry, settings=DemoSettings(**settings), banner=io.StringIO())


def annotator_key(http: AppClient) -> str:
    created = http.post("/api/users", json={"username": "ann"}, headers=OWNER)
    assert created.status_code == 200
    key: str = created.json()["api_key"]
    return key


# -- /api/me ------------------------------------------------------------------------


def test_me_records_user_info_and_whether_the_user_is_the_default(
    telemetry: pigeon.Client,
) -> None:
    with AppClient(make_app(telemetry)) as http:
        key = annotator_key(http)
        with capture_events() as events:
            owner = http.get("/api/me", headers=OWNER)
            annotator = http.get("/api/me", headers={**OWNER, "X-Argilla-Api-Key": key})
    assert owner.json() == {
        "username": "argilla",
        "role": "owner",
        "workspaces": ["argilla"],
        "api_key": None,
    }
    assert annotator.json()["role"] == "annotator"
    assert [e["event"] for e in events] == ["UserInfoRequested", "UserInfoRequested"]
    assert events.properties("UserInfoRequested") == [
        {**CLIENT_HEADERS, "is_default_user": True},
        {**CLIENT_HEADERS, "is_default_user": False},
    ]


# -- bulk uploads -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "record"),
    [
        ("TextClassification", {"text": "great support", "annotation": "positive"}),
        ("TokenClassification", {"tokens": ["great", "support"], "annotation": []}),
        ("Text2Text", {"text": "translate me", "annotation": "tradúceme"}),
    ],
)
def test_bulk_upload_records_task_and_count(
    telemetry: pigeon.Client, task: str, record: dict[str, Any]
) -> None:
    body = {"records": [record] * 12, "tags": {"a": "b"}, "metadata": {"k": 1}}
    with AppClient(make_app(telemetry)) as http, capture_events() as events:
        response = http.post(f"/api/datasets/reviews/{task}:bulk", json=body, headers=OWNER)
        dataset = http.get("/api/datasets/reviews", headers=OWNER)
    assert response.status_code == 200
    assert response.json() == {"dataset": "reviews", "processed": 12, "failed": 0}
    assert dataset.json()["records"] == 12
    assert dataset.json()["task"] == task
    assert [e["event"] for e in events] == ["LogRecordsRequested"]
    assert events.properties("LogRecordsRequested") == [{"task": task, "records": 12}]


def test_records_beyond_a_datasets_capacity_count_as_failed(telemetry: pigeon.Client) -> None:
    body = {"records": [{"text": "x"}] * 5}
    with AppClient(make_app(telemetry, max_records_per_dataset=3)) as http:
        response = http.post("/api/datasets/small/Text2Text:bulk", json=body, headers=OWNER)
    assert response.json() == {"dataset": "small", "processed": 3, "failed": 2}


# -- errors: one ServerErrorFound each, with code and entity type -------------------


def _setup(http: AppClient) -> dict[str, str]:
    """A dataset and an annotator, for the cases that need them."""
    created = http.post(
        "/api/datasets", json={"name": "reviews", "task": "TextClassification"}, headers=OWNER
    )
    assert created.status_code == 200
    return {**OWNER, "X-Argilla-Api-Key": annotator_key(http)}


class ErrorCase(NamedTuple):
    name: str
    method: str
    path: str
    body: Any
    who: str  # owner, annotator, nobody (no key), stranger (unknown key)
    status: int
    error: str
    entity: str | None


_CASES: list[tuple[Any, ...]] = [
    # (name, method, path, json body, who, status, error, entity type)
    ("no key", "GET", "/api/me", None, "nobody", 401, "UnauthorizedError", None),
    ("bad key", "GET", "/api/workspaces", None, "stranger", 401, "UnauthorizedError", None),
    ("missing dataset", "GET", "/api/datasets/nope", None, "owner", 404,
     "EntityNotFoundError", "Dataset"),
    ("missing workspace", "GET", "/api/datasets?workspace=nowhere", None, "owner", 404,
     "EntityNotFoundError", "Workspace"),
    ("delete missing", "DELETE", "/api/datasets/nope", None, "owner", 404,
     "EntityNotFoundError", "Dataset"),
    ("workspace exists", "POST", "/api/workspaces", {"name": "argilla"}, "owner", 409,
     "EntityAlreadyExistsError", "Workspace"),
    ("dataset exists", "POST", "/api/datasets", {"name": "reviews", "task": "Text2Text"},
     "owner", 409, "EntityAlreadyExistsError", "Dataset"),
    ("user exists", "POST", "/api/users", {"username": "argilla"}, "owner", 409,
     "EntityAlreadyExistsError", "User"),
    ("unknown task", "POST", "/api/datasets/reviews/Summarization:bulk", {"records": []},
     "owner", 422, "ValidationError", None),
    ("record without text", "POST", "/api/datasets/reviews/TextClassification:bulk",
     {"records": [{"text": "ok"}, {"tokens": ["no", "text"]}]}, "owner", 422,
     "ValidationError", None),
    ("record without tokens", "POST", "/api/datasets/tokens/TokenClassification:bulk",
     {"records": [{"text": "no tokens"}]}, "owner", 422, "ValidationError", None),
    ("body not a bulk", "POST", "/api/datasets/reviews/TextClassification:bulk",
     {"rows": []}, "owner", 422, "ValidationError", None),
    ("bad dataset name", "POST", "/api/datasets", {"name": "Has Spaces", "task": "Text2Text"},
     "owner", 422, "ValidationError", None),
    ("bad limit", "GET", "/api/datasets/reviews/records?limit=0", None, "owner", 422,
     "ValidationError", None),
    ("wrong task", "POST", "/api/datasets/reviews/Text2Text:bulk",
     {"records": [{"text": "x"}]}, "owner", 400, "WrongTaskError", None),
    ("not an owner", "POST", "/api/workspaces", {"name": "team"}, "annotator", 403,
     "ForbiddenOperationError", None),
]  # fmt: skip
ERROR_CASES = [ErrorCase(*case) for case in _CASES]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.name for case in ERROR_CASES])
def test_each_error_is_one_server_error_found(telemetry: pigeon.Client, case: ErrorCase) -> None:
    with AppClient(make_app(telemetry)) as http:
        annotator = _setup(http)
        headers = {
            "owner": OWNER,
            "annotator": annotator,
            "nobody": {k: v for k, v in OWNER.items() if k != "X-Argilla-Api-Key"},
            "stranger": {**OWNER, "X-Argilla-Api-Key": "stolen.apikey"},
        }[case.who]
        with capture_events() as events:
            response = http.request(case.method, case.path, json=case.body, headers=headers)
    assert response.status_code == case.status
    detail = response.json()["detail"]
    assert detail["code"] == ERRORS + case.error
    assert isinstance(detail["params"], dict)
    expected = {"code": ERRORS + case.error, **CLIENT_HEADERS}
    if case.entity is not None:
        expected["type"] = case.entity
        assert detail["params"]["type"] == case.entity
    assert [e["event"] for e in events] == ["ServerErrorFound"]
    assert events.properties("ServerErrorFound") == [expected]


def test_unauthorized_answers_never_echo_the_key(telemetry: pigeon.Client) -> None:
    with AppClient(make_app(telemetry)) as http:
        response = http.get("/api/me", headers={"X-Argilla-Api-Key": "secret-guess"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "X-Argilla-Api-Key"
    assert "secret-guess" not in response.text


def test_too_many_records_is_a_validation_error(telemetry: pigeon.Client) -> None:
    body = {"records": [{"text": "x"}] * 4}
    with (
        AppClient(make_app(telemetry, max_records_per_request=3)) as http,
        capture_events() as events,
    ):
        response = http.post("/api/datasets/big/Text2Text:bulk", json=body, headers=OWNER)
    assert response.status_code == 422
    assert response.json()["detail"]["params"]["errors"] == [
        {"loc": ["body", "records"], "msg": "at most 3 records per request"}
    ]
    assert [p["code"] for p in events.properties("ServerErrorFound")] == [
        ERRORS + "ValidationError"
    ]
    assert events.named("LogRecordsRequested") == []


def test_unexpected_exception_is_a_generic_error_reported_once(telemetry: pigeon.Client) -> None:
    canary = f"canary{secrets.token_hex(6)}"
    app = make_app(telemetry)

    async def boom() -> None:
        raise RuntimeError(f"database at /srv/{canary} is gone")

    app.add_api_route("/api/boom", boom)
    with AppClient(app) as http, capture_events() as events:
        response = http.get("/api/boom", headers=OWNER)
    assert response.status_code == 500
    assert response.json() == {"detail": {"code": ERRORS + "GenericServerError", "params": {}}}
    assert events.properties("ServerErrorFound") == [
        {"code": ERRORS + "GenericServerError", **CLIENT_HEADERS}
    ]
    assert canary not in json.dumps(events)


def test_sorting_records_by_annotation_is_the_demos_deliberate_crash(tmp_path: Any) -> None:
    telemetry = pigeon.Client(
        "argilla", "1.29.0", transport=MemoryTransport(), home=tmp_path / "home",
        app_package="pigeon.demo",
    )  # fmt: skip
    canary = f"canary{secrets.token_hex(6)}"
    records = [
        {"id": 1, "text": "a", "annotation": "positive"},
        {"id": 2, "text": "b", "annotation": None},
    ]
    with AppClient(make_app(telemetry)) as http, capture_events() as events:
        bulk = http.post(
            f"/api/datasets/{canary}/TextClassification:bulk",
            headers=OWNER,
            json={"records": records},
        )
        assert bulk.status_code == 200
        assert http.get(f"/api/datasets/{canary}/records?sort=id", headers=OWNER).status_code == 200
        crashed = http.get(f"/api/datasets/{canary}/records?sort=annotation", headers=OWNER)
    assert crashed.status_code == 500
    (crash,) = events.properties("CrashReported")
    assert crash["exception"] == "TypeError"
    places = [frame.rsplit(":", 1)[0] for frame in crash["frames"]]
    # sorted() compares in C: the innermost Python frame is the one calling it.
    assert places[-2:] == ["pigeon.demo._routes:list_records", "pigeon.demo._store:sort_records"]
    assert places[0] == "<other>"
    assert canary not in json.dumps(events)
    telemetry.shutdown()


# -- the rest of the API ------------------------------------------------------------


def test_workspaces_datasets_and_records_round_trip(telemetry: pigeon.Client) -> None:
    with AppClient(make_app(telemetry)) as http:
        assert http.post("/api/workspaces", json={"name": "team"}, headers=OWNER).json() == {
            "name": "team"
        }
        assert [w["name"] for w in http.get("/api/workspaces", headers=OWNER).json()] == [
            "argilla",
            "team",
        ]
        created = http.post(
            "/api/datasets",
            json={"name": "ner", "task": "TokenClassification", "workspace": "team"},
            headers=OWNER,
        )
        assert created.json()["workspace"] == "team"
        records = {"records": [{"tokens": ["a", "b"], "id": 1}, {"tokens": ["c"], "id": 2}]}
        http.post("/api/datasets/ner/TokenClassification:bulk?workspace=team", json=records,
                  headers=OWNER)  # fmt: skip
        listed = http.get("/api/datasets/ner/records?workspace=team&limit=1", headers=OWNER)
        assert listed.json()["total"] == 2
        assert [r["tokens"] for r in listed.json()["records"]] == [["a", "b"]]
        assert [d["name"] for d in http.get("/api/datasets?workspace=team", headers=OWNER).json()]
        deleted = http.request("DELETE", "/api/datasets/ner?workspace=team", headers=OWNER)
        assert deleted.json() == {"name": "ner", "deleted": True}
        assert http.get("/api/datasets?workspace=team", headers=OWNER).json() == []
        assert http.get("/api/_info").json() == {"version": "1.29.0"}


def test_default_api_key_comes_from_the_settings(telemetry: pigeon.Client) -> None:
    with AppClient(make_app(telemetry, api_key="team.secret")) as http:
        assert http.get("/api/me", headers={"X-Argilla-Api-Key": "team.secret"}).status_code == 200
        assert http.get("/api/me", headers={"X-Argilla-Api-Key": "argilla.apikey"}).status_code == (
            401
        )


# -- lifespan -----------------------------------------------------------------------


def test_each_start_sends_one_server_started_and_prints_the_banner(
    telemetry: pigeon.Client,
) -> None:
    banner = io.StringIO()
    app = create_app(telemetry, settings=DemoSettings(), banner=banner)
    with capture_events() as events:
        with AppClient(app, lifespan=True) as http:
            http.get("/api/_info")
        with AppClient(app, lifespan=True):
            pass
    assert [e["event"] for e in events] == ["ServerStarted", "ServerStarted"]
    assert events[0]["properties"] == {}
    assert events[0]["context"]["app"] == {"name": "argilla", "version": "1.29.0"}
    assert banner.getvalue().count("Telemetry is enabled") == 2


# -- telemetry never changes a response ---------------------------------------------


SCRIPT: list[tuple[str, str, Any]] = [
    ("GET", "/api/me", None),
    ("GET", "/api/datasets/nope", None),
    ("POST", "/api/workspaces", {"name": "argilla"}),
    ("POST", "/api/workspaces", {"name": "team"}),
    ("POST", "/api/datasets/a/TextClassification:bulk", {"records": [{"text": "x"}]}),
    ("POST", "/api/datasets/a/Text2Text:bulk", {"records": [{"text": "x"}]}),
    ("POST", "/api/datasets/a/TextClassification:bulk", {"records": [{}]}),
    ("GET", "/api/datasets/a", None),
    ("GET", "/api/nowhere", None),
]


def play(app: FastAPI) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    answers = []
    with AppClient(app) as http:
        for method, path, body in SCRIPT:
            response = http.request(method, path, json=body, headers=OWNER)
            answers.append(
                (response.status_code, sorted(response.headers.items()), response.content)
            )
    return answers


def test_telemetry_never_changes_a_response(
    telemetry: pigeon.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = play(create_app(telemetry, settings=DemoSettings(), instrument=False))
    with capture_events() as events:
        assert play(make_app(telemetry)) == baseline
    assert [e["event"] for e in events] == [
        "UserInfoRequested",
        "ServerErrorFound",  # dataset not found
        "ServerErrorFound",  # workspace exists
        "LogRecordsRequested",
        "ServerErrorFound",  # wrong task
        "ServerErrorFound",  # record without text
    ]

    def broken_track(event: str, properties: Any = None) -> None:
        raise RuntimeError("telemetry is broken")

    monkeypatch.setattr(telemetry, "track", broken_track)
    assert play(make_app(telemetry)) == baseline
