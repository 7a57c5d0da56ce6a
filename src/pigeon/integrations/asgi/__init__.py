"""Telemetry for Starlette and FastAPI apps: a pure ASGI middleware and error reporting.

Importing this package needs no framework: it speaks plain ASGI and duck-types
request objects (anything with a ``scope``).

Example::

    import pigeon
    from pigeon.integrations.asgi import TelemetryMiddleware, report_bulk, reporting_handler

    telemetry = pigeon.Client(app="argilla", version=__version__, endpoint=..., write_key=...)
    app = FastAPI()
    app.add_middleware(TelemetryMiddleware, client=telemetry)
    app.add_exception_handler(ServerError, reporting_handler(server_error_handler))

    @app.post("/api/datasets/{name}/{task}:bulk")
    async def bulk(request: Request, name: str, task: str, body: BulkRequest) -> BulkResponse:
        ...
        report_bulk(request, task=task, records=len(body.records))

What is recorded, and from where:

- ``UserInfoRequested``: ``GET /api/me`` answered 2xx (declared request headers,
  and ``is_default_user`` when the host calls :func:`note_user`).
- ``LogRecordsRequested``: each :func:`report_bulk` call (task and record count).
- ``ServerErrorFound``: each raised exception, once, with its code and entity
  type from :func:`describe_error` (or the ``describe_error`` you pass), never its
  message; both for exceptions handled by a :func:`reporting_handler`-wrapped
  exception handler and for exceptions that propagate out of the app.
- ``CrashReported``: each exception that propagates out of the app (a 500), with
  its class and the ``module:function:line`` frames of the app's own package
  (``TelemetryMiddleware(report_crashes=False)`` turns it off).
"""

from pigeon.integrations.asgi._errors import ErrorDescriber, ErrorInfo, describe_error
from pigeon.integrations.asgi._middleware import (
    DEFAULT_HEADERS,
    SCOPE_KEY,
    RequestTelemetry,
    TelemetryMiddleware,
)
from pigeon.integrations.asgi._reporting import (
    note_user,
    report_bulk,
    report_error,
    reporting_handler,
    request_telemetry,
)

__all__ = [
    "DEFAULT_HEADERS",
    "SCOPE_KEY",
    "ErrorDescriber",
    "ErrorInfo",
    "RequestTelemetry",
    "TelemetryMiddleware",
    "describe_error",
    "note_user",
    "report_bulk",
    "report_error",
    "reporting_handler",
    "request_telemetry",
]
