"""The ASGI middleware on a plain Starlette app: which request produces which event, exactly."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import pigeon
from pigeon.integrations.asgi import (
    SCOPE_KEY,
    ErrorDescriber,
    ErrorInfo,
    TelemetryMiddleware,
    describe_error,
    note_user,
    report_bulk,
    report_error,
    reporting_handler,
    request_telemetry,
)
from pigeon.testing import MemoryTransport, capture_events
from tests.conftest import clean_subprocess_env
from tests.integrations.asgi_client import AppClient

CANARY = f"canary{secrets.token_hex(6)}"
HEADERS = {"User-Agent": "argilla/1.29.0 python/3.11.7", "Accept-Language": "de-DE,de;q=0.9"}


class ApiError(Exception):
    """An API error in the reference style: a stable code and an entity type."""

    def __init__(self, message: str, code: str = "app.errors::NotFound", kind: str = "Dataset"):
        super().__init__(message)
        self.code = code
        self.entity_type = kind


SINGLETON = ApiError(f"module-level error {CANARY}", code="app.errors::Singleton")


async def me(request: Request) -> Response:
    if "default" in request.query_params:
        note_user(request, is_default=request.query_params["default"] == "1")
    status = int(request.query_params.get("status", "200"))
    return JSONResponse({"username": "someone"}, status_code=status)


async def bulk(request: Request) -> Response:
    body = await request.json()
    report_bulk(request, task=body["task"], records=len(body["records"]))
    return JSONResponse({"processed": len(body["records"])})


async def missing(request: Request) -> Response:
    raise ApiError(f"Dataset {CANARY!r} not found at /data/{CANARY}")


async def crash(request: Request) -> Response:
    raise RuntimeError(f"unexpected failure with {CANARY}")


async def singleton(request: Request) -> Response:
    raise SINGLETON


async def http_error(request: Request) -> Response:
    raise HTTPException(404, detail=f"no {CANARY}")


async def handled_in_place(request: Request) -> Response:
    try:
        raise ApiError(f"handled {CANARY}", code="app.errors::Conflict", kind="Workspace")
    except ApiError as exc:
        report_error(request, exc)
        report_error(request, exc)  # twice on purpose: still one event
        return JSONResponse({"detail": exc.code}, status_code=409)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": {"code": exc.code}}, status_code=404)


def sync_api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": {"code": exc.code}}, status_code=404)


async def generic_handler(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": {"code": "app.errors::Generic"}}, status_code=500)


ROUTES = [
    Route("/api/me", me),
    Route("/api/me", me, methods=["POST"], name="me_post"),
    Route("/api/bulk", bulk, methods=["POST"]),
    Route("/api/missing", missing),
    Route("/api/crash", crash),
    Route("/api/singleton", singleton),
    Route("/api/http", http_error),
    Route("/api/handled", handled_in_place),
    Route("/api/other", me),
]


def build_app(
    client: pigeon.Client,
    *,
    instrument: bool = True,
    wrap: bool = True,
    sync_handler: bool = False,
    generic: bool = True,
    describe: ErrorDescriber = describe_error,
) -> Starlette:
    api_handler: Any = sync_api_error_handler if sync_handler else api_error_handler
    handlers: dict[Any, Any] = {ApiError: reporting_handler(api_handler) if wrap else api_handler}
    if generic:
        handlers[Exception] = reporting_handler(generic_handler) if wrap else generic_handler
    middleware = (
        [Middleware(TelemetryMiddleware, client=client, describe_error=describe)]
        if instrument
        else []
    )
    return Starlette(routes=ROUTES, exception_handlers=handlers, middleware=middleware)


# -- UserInfoRequested ----------------------------------------------------------


def test_me_records_user_info_with_declared_headers(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        assert http.get("/api/me", headers=HEADERS).status_code == 200
    assert [e["event"] for e in events] == ["UserInfoRequested"]
    assert events[0]["properties"] == {
        "user-agent": "argilla/1.29.0 python/3.11.7",
        "accept-language": "de-DE,de;q=0.9",
    }


def test_me_reports_default_user_only_when_the_host_says(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        http.get("/api/me?default=1", headers=HEADERS)
        http.get("/api/me?default=0", headers=HEADERS)
        http.get("/api/me", headers=HEADERS)
    flags = [p.get("is_default_user", "absent") for p in events.properties("UserInfoRequested")]
    assert flags == [True, False, "absent"]


def test_me_without_optional_headers_sends_only_what_was_there(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        http.get("/api/me", headers={"User-Agent": "curl/8.5.0"})
    assert events.properties("UserInfoRequested") == [{"user-agent": "curl/8.5.0"}]


def test_me_user_agent_is_truncated_to_the_catalog_bound(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        http.get("/api/me", headers={"User-Agent": "x" * 1000})
    assert events.properties("UserInfoRequested")[0]["user-agent"] == "x" * 256


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/me?status=401"),
        ("GET", "/api/me?status=500"),
        ("GET", "/api/me?status=304"),
        ("POST", "/api/me"),
        ("GET", "/api/other"),
        ("GET", "/api/mee"),
    ],
)
def test_no_user_info_unless_get_me_succeeds(
    telemetry: pigeon.Client, method: str, path: str
) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        http.request(method, path, headers=HEADERS)
    assert events.named("UserInfoRequested") == []


def test_me_path_is_configurable_and_tolerates_a_trailing_slash(
    telemetry: pigeon.Client,
) -> None:
    app = Starlette(
        routes=[Route("/v2/whoami/", me)],
        middleware=[Middleware(TelemetryMiddleware, client=telemetry, me_path="/v2/whoami")],
    )
    with capture_events() as events, AppClient(app) as http:
        assert http.get("/v2/whoami/").status_code == 200
    assert len(events.named("UserInfoRequested")) == 1


# -- LogRecordsRequested --------------------------------------------------------


def test_report_bulk_sends_task_and_count_only(telemetry: pigeon.Client) -> None:
    records = [{"text": f"{CANARY} {i}", "metadata": {CANARY: CANARY}} for i in range(7)]
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        body = {"task": "TokenClassification", "records": records}
        assert http.post("/api/bulk", json=body, headers=HEADERS).status_code == 200
    # The catalog declares no header for bulk uploads, so none is attached.
    assert events.properties("LogRecordsRequested") == [
        {"task": "TokenClassification", "records": 7}
    ]
    assert CANARY not in json.dumps(events)


def test_headers_are_attached_wherever_the_catalog_declares_them(tmp_path: Path) -> None:
    catalog = tmp_path / "custom.toml"
    catalog.write_text(
        '[catalog]\nname = "custom"\nversion = "1"\n'
        '[events.LogRecordsRequested]\npurpose = "bulk uploads"\n'
        '[events.LogRecordsRequested.properties.task]\ntype = "enum"\n'
        'values = ["TextClassification"]\npurpose = "task"\n'
        '[events.LogRecordsRequested.properties.records]\ntype = "integer"\npurpose = "count"\n'
        '[events.LogRecordsRequested.properties.user-agent]\ntype = "string"\n'
        'max_length = 64\npurpose = "client"\n',
        encoding="utf-8",
    )
    client = pigeon.Client(
        "custom", "1", catalog=catalog, transport=MemoryTransport(), home=tmp_path / "home"
    )
    with capture_events() as events, AppClient(build_app(client)) as http:
        http.post("/api/bulk", json={"task": "TextClassification", "records": []}, headers=HEADERS)
    assert events.properties("LogRecordsRequested") == [
        {"task": "TextClassification", "records": 0, "user-agent": "argilla/1.29.0 python/3.11.7"}
    ]
    client.shutdown()


# -- ServerErrorFound -------------------------------------------------------------


def test_handled_error_is_reported_once_with_code_and_type(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        response = http.get("/api/missing", headers=HEADERS)
    assert response.status_code == 404
    assert response.json() == {"detail": {"code": "app.errors::NotFound"}}
    assert events.properties("ServerErrorFound") == [
        {
            "code": "app.errors::NotFound",
            "type": "Dataset",
            "user-agent": "argilla/1.29.0 python/3.11.7",
            "accept-language": "de-DE,de;q=0.9",
        }
    ]
    assert CANARY not in json.dumps(events)


def test_sync_handlers_stay_sync_and_still_report(telemetry: pigeon.Client) -> None:
    app = build_app(telemetry, sync_handler=True)
    with capture_events() as events, AppClient(app) as http:
        assert http.get("/api/missing").status_code == 404
    assert [p["code"] for p in events.properties("ServerErrorFound")] == ["app.errors::NotFound"]


def test_error_reaching_a_wrapped_500_handler_is_reported_once(telemetry: pigeon.Client) -> None:
    # The middleware sees it propagate (reports, re-raises); Starlette's outermost
    # layer then calls the wrapped Exception handler: one event, not two.
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        response = http.get("/api/crash", headers=HEADERS)
    assert response.status_code == 500
    assert response.json() == {"detail": {"code": "app.errors::Generic"}}
    assert events.properties("ServerErrorFound") == [
        {
            "code": "builtins.RuntimeError",
            "user-agent": "argilla/1.29.0 python/3.11.7",
            "accept-language": "de-DE,de;q=0.9",
        }
    ]
    assert CANARY not in json.dumps(events)


def test_unhandled_error_is_reported_once_and_re_raised(telemetry: pigeon.Client) -> None:
    app = build_app(telemetry, generic=False)
    with (
        capture_events() as events,
        AppClient(app, raise_app_exceptions=True) as http,
        pytest.raises(RuntimeError, match="unexpected failure"),
    ):
        http.get("/api/crash")
    assert [p["code"] for p in events.properties("ServerErrorFound")] == ["builtins.RuntimeError"]


def test_error_reported_in_place_counts_once(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        assert http.get("/api/handled", headers={"User-Agent": "curl/8.5.0"}).status_code == 409
    assert events.properties("ServerErrorFound") == [
        {"code": "app.errors::Conflict", "type": "Workspace", "user-agent": "curl/8.5.0"}
    ]


def test_the_same_exception_object_in_two_requests_counts_twice(
    telemetry: pigeon.Client,
) -> None:
    with capture_events() as events, AppClient(build_app(telemetry)) as http:
        http.get("/api/singleton")
        http.get("/api/singleton")
    assert [p["code"] for p in events.properties("ServerErrorFound")] == [
        "app.errors::Singleton",
        "app.errors::Singleton",
    ]


def test_errors_of_unwrapped_handlers_are_not_reported(telemetry: pigeon.Client) -> None:
    with capture_events() as events, AppClient(build_app(telemetry, wrap=False)) as http:
        assert http.get("/api/missing").status_code == 404
        assert http.get("/api/http").status_code == 404
    assert events.named("ServerErrorFound") == []


def test_custom_describer_decides_and_can_silence(telemetry: pigeon.Client) -> None:
    def describe(exc: BaseException) -> ErrorInfo | None:
        if isinstance(exc, RuntimeError):
            return None
        return ErrorInfo("app.errors::Mapped", "Record")

    with capture_events() as events, AppClient(build_app(telemetry, describe=describe)) as http:
        http.get("/api/crash")
        http.get("/api/missing")
    assert [(p["code"], p["type"]) for p in events.properties("ServerErrorFound")] == [
        ("app.errors::Mapped", "Record")
    ]


# -- describe_error ----------------------------------------------------------------


class Dataset:
    """An entity class, as errors of the reference style carry it."""


class TypedError(Exception):
    def __init__(self, code: object, kind: object) -> None:
        super().__init__(f"details about {CANARY}")
        self.code = code
        self.type = kind


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            TypedError("argilla.api.errors::EntityNotFoundError", Dataset),
            ErrorInfo("argilla.api.errors::EntityNotFoundError", "Dataset"),
        ),
        (
            TypedError("argilla.api.errors::X", "Workspace"),
            ErrorInfo("argilla.api.errors::X", "Workspace"),
        ),
        # A message where a code should be, or a name where a kind should be: not used.
        (
            TypedError(f"Dataset {CANARY} not found", f"my dataset {CANARY}"),
            ErrorInfo("tests.integrations.test_asgi.TypedError", None),
        ),
        (TypedError(404, None), ErrorInfo("tests.integrations.test_asgi.TypedError", None)),
        (KeyError(CANARY), ErrorInfo("builtins.KeyError", None)),
        (TypedError("a/b", "x" * 65), ErrorInfo("tests.integrations.test_asgi.TypedError", None)),
    ],
)
def test_describe_error_reads_codes_and_kinds_never_messages(
    exc: BaseException, expected: ErrorInfo
) -> None:
    assert describe_error(exc) == expected


# -- telemetry never changes a response ------------------------------------------


SCRIPT = [
    ("GET", "/api/me?default=1"),
    ("GET", "/api/me?status=401"),
    ("POST", "/api/bulk"),
    ("GET", "/api/missing"),
    ("GET", "/api/crash"),
    ("GET", "/api/handled"),
    ("GET", "/api/http"),
    ("GET", "/api/nowhere"),
]


def play(app: Starlette) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    answers = []
    with AppClient(app) as http:
        for method, path in SCRIPT:
            body = {"task": "Text2Text", "records": [{}]} if method == "POST" else None
            response = http.request(method, path, headers=HEADERS, json=body)
            answers.append(
                (response.status_code, sorted(response.headers.items()), response.content)
            )
    return answers


def test_failing_telemetry_never_changes_a_response(
    telemetry: pigeon.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = play(build_app(telemetry, instrument=False))

    def broken_track(event: str, properties: Any = None) -> None:
        raise RuntimeError("telemetry is broken")

    def broken_describe(exc: BaseException) -> ErrorInfo:
        raise ValueError("describer is broken")

    monkeypatch.setattr(telemetry, "track", broken_track)
    assert play(build_app(telemetry)) == baseline
    assert play(build_app(telemetry, describe=broken_describe)) == baseline


def test_an_unloadable_catalog_never_changes_a_response(
    telemetry: pigeon.Client, tmp_path: Path
) -> None:
    baseline = play(build_app(telemetry, instrument=False))
    broken = pigeon.Client(
        "argilla",
        "1",
        catalog=tmp_path / "missing.toml",
        transport=MemoryTransport(),
        home=tmp_path / "broken-home",
    )
    with capture_events():
        assert play(build_app(broken)) == baseline
    broken.shutdown()


def test_working_telemetry_never_changes_a_response(telemetry: pigeon.Client) -> None:
    baseline = play(build_app(telemetry, instrument=False))
    with capture_events() as events:
        assert play(build_app(telemetry)) == baseline
    assert len(events) == 6  # me, bulk, missing, crash (and its CrashReported), handled


# -- disabled clients and other scopes --------------------------------------------


def test_disabled_client_makes_the_middleware_a_pass_through(tmp_path: Path) -> None:
    client = pigeon.Client("argilla", "1", enabled=False, home=tmp_path / "off")
    seen: list[object] = []

    async def spy(request: Request) -> Response:
        seen.append(request_telemetry(request))
        report_bulk(request, task="Text2Text", records=1)
        return JSONResponse({})

    app = Starlette(
        routes=[Route("/api/me", spy)],
        middleware=[Middleware(TelemetryMiddleware, client=client)],
    )
    with capture_events() as events, AppClient(app) as http:
        assert http.get("/api/me").status_code == 200
    assert seen == [None]
    assert events == []
    assert not (tmp_path / "off").exists()


def test_scope_carries_the_request_telemetry(telemetry: pigeon.Client) -> None:
    keys: list[bool] = []

    async def spy(request: Request) -> Response:
        keys.append(SCOPE_KEY in request.scope and request_telemetry(request) is not None)
        keys.append(request_telemetry(request.scope) is not None)
        return JSONResponse({})

    app = Starlette(
        routes=[Route("/x", spy)], middleware=[Middleware(TelemetryMiddleware, client=telemetry)]
    )
    with AppClient(app) as http:
        http.get("/x")
    assert keys == [True, True]
    assert request_telemetry(object()) is None
    assert request_telemetry({"type": "http"}) is None


def test_lifespan_passes_through_the_middleware(telemetry: pigeon.Client) -> None:
    started: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        message = await receive()
        started.append(message["type"])
        await send({"type": "lifespan.startup.complete"})

    wrapped = TelemetryMiddleware(app, telemetry)
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        messages.append(message)

    import anyio

    with capture_events() as events:
        anyio.run(wrapped, {"type": "lifespan"}, receive, send)
    assert started == ["lifespan.startup"]
    assert messages == [{"type": "lifespan.startup.complete"}]
    assert events == []


def test_lifespan_shutdown_delivers_or_spools_before_the_server_hears_it(
    tmp_path: Path,
) -> None:
    # uvicorn ends a worker by re-raising the SIGTERM it caught, skipping every
    # exit hook: the shutdown message is the last moment the client can act.
    transport = MemoryTransport()
    client = pigeon.Client("argilla", "1.29.0", transport=transport, home=tmp_path / "home")
    delivered_at_shutdown: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                client.track("ServerStarted")
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    wrapped = TelemetryMiddleware(app, client)
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: Any) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            delivered_at_shutdown.append(len(transport.messages))

    import anyio

    anyio.run(wrapped, {"type": "lifespan"}, receive, send)
    try:
        assert delivered_at_shutdown == [1]  # sent before the server was told
    finally:
        client.shutdown(timeout=1.0)


def test_the_package_imports_and_works_without_starlette(tmp_path: Path) -> None:
    code = """
import sys
sys.modules["starlette"] = None
sys.modules["fastapi"] = None
import asyncio, pigeon
from pigeon.integrations.asgi import TelemetryMiddleware, report_bulk
from pigeon.testing import MemoryTransport, capture_events

async def app(scope, receive, send):
    report_bulk(scope, task="Text2Text", records=3)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})

async def main(events):
    sent = []
    async def receive():
        return {"type": "http.request", "body": b""}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "GET", "path": "/api/me",
             "headers": [(b"user-agent", b"raw-asgi")]}
    await TelemetryMiddleware(app, client)(scope, receive, send)
    return sent

client = pigeon.Client("argilla", "1", transport=MemoryTransport(), home=sys.argv[1])
with capture_events() as events:
    asyncio.run(main(events))
print(sorted(e["event"] for e in events))
assert "starlette" not in sys.modules or sys.modules["starlette"] is None
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "home")],
        env=clean_subprocess_env(XDG_DATA_HOME=str(tmp_path / "xdg")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['LogRecordsRequested', 'UserInfoRequested']"


def test_public_api_is_pinned() -> None:
    from pigeon.integrations import asgi

    assert sorted(asgi.__all__) == [
        "DEFAULT_HEADERS",
        "ErrorDescriber",
        "ErrorInfo",
        "RequestTelemetry",
        "SCOPE_KEY",
        "TelemetryMiddleware",
        "describe_error",
        "note_user",
        "report_bulk",
        "report_error",
        "reporting_handler",
        "request_telemetry",
    ]
    assert all(hasattr(asgi, name) for name in asgi.__all__)
