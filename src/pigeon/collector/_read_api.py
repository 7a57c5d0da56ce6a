"""The read side of the collector: stats API, export and the dashboard.

``read_router(...)`` returns one router that the collector's app includes::

    app.include_router(read_router(lambda: app.state.store, admin_token, min_installs))

Routes: ``GET /api/v1/stats`` (the view names), ``GET /api/v1/stats/{view}``,
``GET /api/v1/export?format=json|csv`` (Bearer admin token or a dashboard
session), and the dashboard (``GET /``, ``POST /login``, ``POST /logout``,
``/dashboard/static/*``), and ``GET /api/v1/alerts`` (the alert history).
Every refusal is JSON ``{"code", "message", "details": [{"path", "reason"}]}``,
like the ingestion endpoints.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from starlette.responses import JSONResponse, Response

from pigeon.collector.alerts import AlertState
from pigeon.collector.dashboard._auth import SESSION_COOKIE, AdminAuth
from pigeon.collector.dashboard._headers import API_HEADERS, apply
from pigeon.collector.dashboard._pages import dashboard_router
from pigeon.collector.stats import (
    VIEWS,
    StatsQuery,
    StatsQueryError,
    compute_view,
    day_to_iso,
    export_csv,
    export_data,
    parse_query,
    today_utc,
)
from pigeon.collector.storage import StoreError
from pigeon.collector.storage._base import Store

__all__ = ["read_router"]

# Documented in the OpenAPI schema; checked by AdminAuth (never auto-refused here).
_bearer = HTTPBearer(auto_error=False, description="the collector's admin token")
_session = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="dashboard session")
_SECURED = [Depends(_bearer), Depends(_session)]

Days = Annotated[str | None, Query(description="the last N days, today (UTC) included; default 30")]
App = Annotated[str | None, Query(description="one app's data (default: every app)")]
From = Annotated[str | None, Query(alias="from", description="first day, YYYY-MM-DD")]
To = Annotated[str | None, Query(alias="to", description="last day, YYYY-MM-DD (default today)")]


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string", "description": "starts with the parameter's name"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


def _doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}


_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: _doc("A malformed days, from, to, app or format parameter (named in the message)."),
    401: _doc("No admin token (Bearer) and no dashboard session."),
}
_STATS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The view: view, app, range (from, to, days), min_installs, then its "
        "tables (rows of value, label, events, installs) and per-day series (adoption: "
        "upgrades, per-version shares of the active installs and days to 50%, and cohorts, "
        "retention by first-seen week); null where a number stands for fewer than "
        "min_installs installs."
    },
    **_REFUSALS,
    404: _doc("No view by that name."),
    503: _doc("The store cannot be read right now; retry after Retry-After."),
}
_ALERTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "configured (false without an [alerts] table, with no alerts), and "
        "alerts: newest first, each with time_ms, rule, kind, what, app, problem, version, "
        "numbers and deliveries (webhook, status, attempts, last_error, time_ms)."
    },
    401: _REFUSALS[401],
    503: _doc("The alert state cannot be read right now; retry after Retry-After."),
}
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every k-anonymous table and the daily activity of the range.",
        "content": {"application/json": {}, "text/csv": {}},
    },
    **_REFUSALS,
    503: _STATS_RESPONSES[503],
}


_UNAUTHORIZED: Final = (
    401,
    "unauthorized",
    "send the admin token as 'Authorization: Bearer <token>' or log in at /",
)


def _error(status: int, code: str, message: str, path: str = "", reason: str = "") -> Response:
    details = [{"path": path, "reason": reason or message}] if path else []
    response = JSONResponse(
        {"code": code, "message": message, "details": details}, status_code=status
    )
    apply(response, API_HEADERS)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pigeon"'
    return response


def _unavailable(exc: Exception) -> Response:
    response = _error(503, "store_unavailable", f"the store cannot be read right now: {exc}")
    response.headers["Retry-After"] = "5"
    return response


def _json(body: Any) -> Response:
    response = JSONResponse(body)
    apply(response, API_HEADERS)
    return response


def read_router(
    store: Callable[[], Store],
    admin_token: str,
    min_installs: int = 5,
    *,
    today: Callable[[], int] = today_utc,
    revocations_dir: FilePath | None = None,
    alerts: Callable[[], AlertState | None] | None = None,
) -> APIRouter:
    """The stats API, export and dashboard routes.

    Args:
        store: returns the collector's open store when a request comes in.
        admin_token: the token that unlocks reading (Bearer or dashboard login).
        min_installs: the k-anonymity threshold (``--min-installs``).
        today: today's UTC day number (tests pin it).
        revocations_dir: shared notes of logged-out sessions (see ``AdminAuth``).
        alerts: returns the alert state (``None`` until the app started), or
            ``None`` when alerts are not configured (``/api/v1/alerts`` lists none).
    """
    if min_installs < 1:
        raise ValueError("min_installs must be at least 1")
    auth = AdminAuth(admin_token, revocations_dir=revocations_dir)
    router = APIRouter()
    router.include_router(dashboard_router(auth, min_installs))
    unauthorized = (
        401,
        "unauthorized",
        "send the admin token as 'Authorization: Bearer <token>' or log in at /",
    )

    async def resolve(
        request: Request, days: str | None, app: str | None, first: str | None, last: str | None
    ) -> StatsQuery | Response:
        if not auth.allows(request):
            return _error(*unauthorized)
        try:
            query = parse_query(days=days, date_from=first, date_to=last, app=app, today=today())
        except StatsQueryError as exc:
            return _error(400, "invalid_query", str(exc), exc.parameter, exc.reason)
        try:
            apps = await store().apps() if query.app is not None else []
        except StoreError as exc:
            return _unavailable(exc)
        if query.app is not None and query.app not in apps:
            reason = f"no data for app {query.app!r}"
            return _error(400, "invalid_query", f"app: {reason}", "app", reason)
        return query

    @router.get(
        "/api/v1/stats", tags=["stats"], dependencies=_SECURED, responses={401: _REFUSALS[401]}
    )
    async def list_views(request: Request) -> Response:
        """The names of the stats views."""
        if not auth.allows(request):
            return _error(*unauthorized)
        return _json({"views": list(VIEWS), "min_installs": min_installs})

    @router.get(
        "/api/v1/stats/{view}", tags=["stats"], dependencies=_SECURED, responses=_STATS_RESPONSES
    )
    async def stats(
        request: Request,
        view: Annotated[str, Path(description=f"one of: {', '.join(VIEWS)}")],
        *,
        days: Days = None,
        app: App = None,
        first: From = None,
        last: To = None,
    ) -> Response:
        """One stats view (``overview``, ``installs``, ``events``, ``versions``...).

        Buckets under ``min_installs`` distinct installs are merged into "other".
        """
        query = await resolve(request, days, app, first, last)
        if isinstance(query, Response):
            return query
        if view not in VIEWS:
            reason = f"unknown view {view!r}; one of: {', '.join(VIEWS)}"
            return _error(404, "unknown_view", reason, "view", reason)
        try:
            return _json(await compute_view(store(), view, query, min_installs))
        except StoreError as exc:
            return _unavailable(exc)

    @router.get(
        "/api/v1/export", tags=["stats"], dependencies=_SECURED, responses=_EXPORT_RESPONSES
    )
    async def export(
        request: Request,
        *,
        format: Annotated[str, Query(description="json or csv")] = "json",
        days: Days = None,
        app: App = None,
        first: From = None,
        last: To = None,
    ) -> Response:
        """Every k-anonymous aggregate of the range, for publication (JSON or CSV)."""
        query = await resolve(request, days, app, first, last)
        if isinstance(query, Response):
            return query
        if format not in ("json", "csv"):
            reason = f"expected json or csv, got {format!r}"
            return _error(400, "invalid_query", f"format: {reason}", "format", reason)
        try:
            data = await export_data(store(), query, min_installs)
        except StoreError as exc:
            return _unavailable(exc)
        if format == "json":
            return _json(data)
        name = f"pigeon-{query.app or 'all'}-{day_to_iso(query.range.first)}"
        name += f"-{day_to_iso(query.range.last)}.csv"
        response = Response(export_csv(data), media_type="text/csv; charset=utf-8")
        apply(response, API_HEADERS)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    _add_alert_history(router, auth, alerts)
    return router


def _add_alert_history(
    router: APIRouter, auth: AdminAuth, alerts: Callable[[], AlertState | None] | None
) -> None:
    @router.get(
        "/api/v1/alerts", tags=["alerts"], dependencies=_SECURED, responses=_ALERTS_RESPONSES
    )
    async def alert_history(request: Request) -> Response:
        """The alerts raised, newest first, each with its deliveries' status."""
        if not auth.allows(request):
            return _error(*_UNAUTHORIZED)
        state = alerts() if alerts is not None else None
        if state is None:  # not configured (or not started): nothing to list, not an error
            return _json({"configured": False, "alerts": []})
        try:
            history = await asyncio.to_thread(state.history)
        except sqlite3.Error as exc:
            return _unavailable(exc)
        return _json({"configured": True, "alerts": history})
