"""CrashReported from the ASGI middleware, and canaries that must never leave the process.

The app's own code lives in a package written under a directory whose path
holds the canary; the canary is also in the exception message, a local
variable, an argument, the name of a module outside the app's package that is
on the stack, and the dataset name in the URL. The events go over real HTTP to
a sink on 127.0.0.1, and to a real collector process whose store is read back;
neither they, the collector's output nor any log line may hold the canary.
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import pigeon
from pigeon._crash import crash_signature
from pigeon.integrations.asgi import TelemetryMiddleware, reporting_handler
from pigeon.testing import capture_events
from tests.collector._running import WRITE_KEY, RunningCollector
from tests.integrations.asgi_client import AppClient
from tests.sdk._apps import AppLoader
from tests.sdk._sink import Sink
from tests.sdk.conftest import QUICK, sender_of

CANARY = f"canary{secrets.token_hex(6)}"
PACKAGE = "crashhost"
OUTSIDE = f"{CANARY}lib"  # a module outside the app's package, named after the canary

SORTING = f"""\
import {OUTSIDE} as helper


def sort_records(name, key):
    secret = "local " + name
    return helper.call(lambda: explode(name, secret, key))


def explode(name, secret, key):
    raise RuntimeError("cannot sort " + name + " by " + key + ": " + secret)
"""
HELPER = "def call(function):\n    return function()\n"


class NotFoundError(Exception):
    """A known API error: mapped to a 404 by the app, so not a crash."""

    code = "app.errors::NotFoundError"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Any]:
    """The app package (under a path holding the canary) and the outside module."""
    loader = AppLoader(tmp_path / CANARY / "site")
    (loader.root).mkdir(parents=True)
    (loader.root / f"{OUTSIDE}.py").write_text(HELPER, encoding="utf-8")
    modules = loader.load(PACKAGE, {"sorting": SORTING})
    yield modules["sorting"]
    loader.close()
    loader.forget(OUTSIDE)


def build_app(client: pigeon.Client, sorting: Any, *, report_crashes: bool = True) -> Starlette:
    async def records(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "missing":
            raise NotFoundError(f"no dataset {CANARY}")
        return JSONResponse(sorting.sort_records(name, request.query_params["sort"]))

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": {"code": NotFoundError.code}}, status_code=404)

    return Starlette(
        routes=[Route("/api/datasets/{name}/records", records)],
        exception_handlers={NotFoundError: reporting_handler(not_found)},
        middleware=[Middleware(TelemetryMiddleware, client=client, report_crashes=report_crashes)],
    )


def make_client(tmp_path: Path, endpoint: str, write_key: str = "test-key") -> pigeon.Client:
    client = pigeon.Client(
        "argilla",
        "1.29.0",
        endpoint=endpoint,
        write_key=write_key,
        home=tmp_path / "home",
        environ={},
        app_package=PACKAGE,
    )
    assert client.enabled
    sender_of(client).policy = QUICK
    return client


def crash_path() -> str:
    return f"/api/datasets/{CANARY}/records?sort=annotation"


def test_a_500_sends_crash_reported_besides_server_error_found(
    tmp_path: Path, host: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pigeon")
    with Sink() as sink:
        client = make_client(tmp_path, sink.url)
        with AppClient(build_app(client, host)) as http:
            assert http.get(crash_path()).status_code == 500
            assert http.get("/api/datasets/missing/records?sort=a").status_code == 404
        assert client.flush(10)
        client.shutdown()
        events = sink.events()
        wire = [json.dumps(r.payload) + json.dumps(r.headers) + r.path for r in sink.requests]
        raw = [gzip.decompress(r.raw) if r.raw[:2] == b"\x1f\x8b" else r.raw for r in sink.requests]
    names = sorted(e["event"] for e in events)
    assert names == ["CrashReported", "ServerErrorFound", "ServerErrorFound"]
    (crash,) = [e["properties"] for e in events if e["event"] == "CrashReported"]
    assert crash["exception"] == "RuntimeError"
    frames = crash["frames"]
    assert frames[0] == "<other>"  # the framework, the middleware, the test's route
    assert [f.rsplit(":", 1)[0] for f in frames[1:]] == [
        f"{PACKAGE}.sorting:sort_records",
        "<other>",  # the outside module, named after the canary
        f"{PACKAGE}.sorting:sort_records.<locals>.<lambda>",
        f"{PACKAGE}.sorting:explode",
    ]
    assert crash["signature"] == crash_signature(crash["exception"], tuple(frames))
    # The test's own HTTP client logs the URL it requested: only pigeon's records count.
    logged = [caplog.handler.format(r) for r in caplog.records if r.name.startswith("pigeon")]
    for text in [*wire, *(b.decode() for b in raw), capsys.readouterr().err, *logged]:
        assert CANARY not in text


def test_report_crashes_false_sends_no_crash(tmp_path: Path, host: Any) -> None:
    client = make_client(tmp_path, "http://127.0.0.1:9")
    with (
        capture_events() as events,
        AppClient(build_app(client, host, report_crashes=False)) as http,
    ):
        assert http.get(crash_path()).status_code == 500
    assert [e["event"] for e in events] == ["ServerErrorFound"]
    client.shutdown(timeout=0)


def test_a_handled_api_error_is_no_crash(tmp_path: Path, host: Any) -> None:
    client = make_client(tmp_path, "http://127.0.0.1:9")
    with capture_events() as events, AppClient(build_app(client, host)) as http:
        assert http.get("/api/datasets/missing/records?sort=a").status_code == 404
    assert [p["code"] for p in events.properties("ServerErrorFound")] == [
        "app.errors::NotFoundError"
    ]
    assert events.named("CrashReported") == []
    client.shutdown(timeout=0)


def test_canaries_never_reach_the_collectors_store_or_output(tmp_path: Path, host: Any) -> None:
    workdir = tmp_path / "collector"
    collector = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    try:
        client = make_client(tmp_path, collector.url, WRITE_KEY)
        with AppClient(build_app(client, host)) as http:
            assert http.get(crash_path()).status_code == 500
        try:
            host.sort_records(CANARY, CANARY)
        except RuntimeError as exc:
            client.report_exception(exc)
        assert client.flush(10)
        client.shutdown()
        conn = sqlite3.connect(f"{(workdir / 'data' / 'pigeon.db').as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT properties FROM events WHERE event = 'CrashReported'"
            ).fetchall()
            dump = "\n".join(conn.iterdump())
        finally:
            conn.close()
    finally:
        collector.stop()
    assert len(rows) == 2
    for (properties,) in rows:
        stored = json.loads(properties)
        assert isinstance(stored["frames"], list)  # a list round-trips as a JSON array
        assert stored["frames"][-1].startswith(f"{PACKAGE}.sorting:explode:")
    for text in (dump, collector.stdout, collector.stderr):
        assert CANARY not in text
