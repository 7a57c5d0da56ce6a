"""``TelemetryMiddleware``: a pure ASGI middleware (no ``BaseHTTPMiddleware``).

Per HTTP request it puts one small :class:`RequestTelemetry` in the scope, so
that handlers (bulk uploads, exception handlers) can report through it; it
records ``UserInfoRequested`` when ``GET /api/me`` answers 2xx, and reports an
exception that propagates out of the app (``ServerErrorFound``, and a
``CrashReported`` with its class and the app's own frames: it is a 500), then
re-raises it untouched.

At ``lifespan.shutdown`` it delivers what is queued (bounded) and spools the
rest before the server hears that the app is done: uvicorn ends its worker
processes by re-raising the SIGTERM it caught, which skips every exit hook.

Nothing here may change a response: every telemetry step is guarded, and a
failure is logged once and otherwise ignored. With a disabled client the
middleware only forwards the call.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Final

from pigeon.integrations.asgi._errors import ErrorDescriber, describe_error
from pigeon.integrations.asgi._headers import DeclaredHeaders, HeaderProperties, RawHeaders
from pigeon.integrations.asgi._types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from pigeon import Client

__all__ = ["DEFAULT_HEADERS", "SCOPE_KEY", "RequestTelemetry", "TelemetryMiddleware"]

logger = logging.getLogger("pigeon")

SCOPE_KEY: Final = "pigeon.telemetry"
"""The scope key under which the middleware keeps the request's :class:`RequestTelemetry`."""

DEFAULT_HEADERS: Final = ("user-agent", "accept-language")
"""Request headers attached to an event when its catalog entry declares them."""

_USER_INFO: Final = "UserInfoRequested"
_SERVER_ERROR: Final = "ServerErrorFound"
_BULK: Final = "LogRecordsRequested"


class TelemetryMiddleware:
    """Records the host app's API usage and errors as catalog events.

    Example::

        app = FastAPI()
        app.add_middleware(TelemetryMiddleware, client=telemetry)
        app.add_exception_handler(ServerError, reporting_handler(server_error_handler))

    Events:
        - ``UserInfoRequested`` when ``GET {me_path}`` answers 2xx, with the
          declared request headers and ``is_default_user`` when a handler called
          :func:`~pigeon.integrations.asgi.note_user`.
        - ``ServerErrorFound`` once per raised exception, whether it propagates out
          of the app (reported here, then re-raised) or is turned into a response by
          an exception handler wrapped with
          :func:`~pigeon.integrations.asgi.reporting_handler`.
        - ``LogRecordsRequested`` when a handler calls
          :func:`~pigeon.integrations.asgi.report_bulk`.
        - ``CrashReported`` once per exception that propagates out of the app
          (the server answers 500): its class, the ``module:function:line``
          frames of the app's own package and a signature, never its message
          (see :meth:`pigeon.Client.report_exception`). Errors an exception
          handler turns into a response are API errors, not crashes.
    """

    def __init__(
        self,
        app: ASGIApp,
        client: Client,
        *,
        me_path: str = "/api/me",
        describe_error: ErrorDescriber = describe_error,
        headers: Collection[str] = DEFAULT_HEADERS,
        shutdown_timeout: float = 1.0,
        report_crashes: bool = True,
    ) -> None:
        """Wrap ``app``; telemetry goes to ``client``.

        Args:
            app: the ASGI app to wrap.
            client: the host app's :class:`pigeon.Client`; when it is disabled the
                middleware only forwards calls.
            me_path: the path whose successful ``GET`` is a ``UserInfoRequested``.
            describe_error: turns an exception into its code and entity type
                (default: :func:`~pigeon.integrations.asgi.describe_error`).
            headers: request headers that may be attached to events, each only to
                the events whose catalog entry declares a property of that name.
            shutdown_timeout: the most ``lifespan.shutdown`` waits for delivery
                before spooling what is left (seconds).
            report_crashes: whether an exception propagating out of the app is
                also reported as ``CrashReported`` (when the catalog declares it).
        """
        self.app = app
        self.client = client
        self.shutdown_timeout = shutdown_timeout
        self.describe_error = describe_error
        self.report_crashes = report_crashes
        self._active = bool(client.enabled)
        base = me_path.rstrip("/") or "/"
        self._me_paths = frozenset({base, f"{base.rstrip('/')}/"})
        self.declared_headers = DeclaredHeaders(headers, self._event_properties, self.failed)
        self._warned: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if not self._active or scope["type"] != "http":
            if self._active and scope["type"] == "lifespan":
                send = self._settle_at_shutdown(send)
            await self.app(scope, receive, send)
            return
        request = RequestTelemetry(self, scope.get("headers", ()))
        scope[SCOPE_KEY] = request
        if scope["method"] == "GET" and scope["path"] in self._me_paths:
            send = request.watch_user_info(send)
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            request.report_error(exc)
            if self.report_crashes:
                self.client.report_exception(exc)  # never raises
            raise

    def _settle_at_shutdown(self, send: Send) -> Send:
        """Wrap a lifespan ``send``: deliver or spool before the shutdown is reported."""

        async def settling(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                # Blocking, on purpose: no request is served any more, and it works
                # under any event loop. flush() never raises.
                self.client.flush(self.shutdown_timeout, spool=True)
            await send(message)

        return settling

    def _event_properties(self, event: str) -> Collection[str] | None:
        spec = self.client.catalog.events.get(event)
        return None if spec is None else spec.properties.keys()

    def failed(self, kind: str) -> None:
        """Note a telemetry failure: logged once per kind, never raised."""
        logger.debug("pigeon: ASGI telemetry step %r failed", kind, exc_info=True)
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(
                "pigeon: telemetry step %r failed in the ASGI middleware; responses are unaffected",
                kind,
            )


class RequestTelemetry:
    """The telemetry of one request: reports through the middleware's client, at most once.

    Reached from a request with :func:`~pigeon.integrations.asgi.request_telemetry`.
    """

    __slots__ = ("_headers", "_middleware", "_reported", "is_default_user")

    def __init__(self, middleware: TelemetryMiddleware, headers: RawHeaders) -> None:
        """Bind to one request's headers.

        Not to its scope: the scope holds this object, and a reference cycle would
        leave every request's scope to the garbage collector (measurably slower).
        """
        self._middleware = middleware
        self._headers = headers
        self._reported: list[BaseException] | None = None
        self.is_default_user: bool | None = None

    def track(self, event: str, properties: dict[str, Any]) -> None:
        """Track ``event`` with ``properties`` plus the declared request headers; never raise."""
        middleware = self._middleware
        try:
            wanted = middleware.declared_headers.of(event)
            if wanted:
                middleware.client.track(event, HeaderProperties(properties, self._headers, wanted))
            else:
                middleware.client.track(event, properties)
        except Exception:
            middleware.failed("track")

    def report_error(self, exc: BaseException) -> None:
        """Report ``exc`` as one ``ServerErrorFound``, unless it was reported already."""
        reported = self._reported
        if reported is None:
            self._reported = [exc]
        elif any(seen is exc for seen in reported):
            return
        else:
            reported.append(exc)
        try:
            info = self._middleware.describe_error(exc)
        except Exception:
            self._middleware.failed("describe_error")
            return
        if info is None:
            return
        properties: dict[str, Any] = {"code": info.code}
        if info.entity_type:
            properties["type"] = info.entity_type
        self.track(_SERVER_ERROR, properties)

    def report_bulk(self, task: str, records: int) -> None:
        """Report one bulk upload of ``records`` records for ``task``."""
        self.track(_BULK, {"task": task, "records": records})

    def watch_user_info(self, send: Send) -> Send:
        """Wrap ``send`` so that a 2xx response start records ``UserInfoRequested``."""

        async def watched(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start" and 200 <= message.get("status", 0) < 300:
                properties: dict[str, Any] = {}
                if self.is_default_user is not None:
                    properties["is_default_user"] = self.is_default_user
                self.track(_USER_INFO, properties)

        return watched
