"""One-call reporting from request handlers and exception handlers.

Each function takes the framework's request object (anything with a ``scope``)
or the ASGI scope itself, finds the :class:`RequestTelemetry` the middleware put
there, and does nothing when there is none (no middleware, or telemetry
disabled). None of them raises.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from pigeon.integrations.asgi._middleware import SCOPE_KEY, RequestTelemetry

__all__ = ["note_user", "report_bulk", "report_error", "reporting_handler", "request_telemetry"]

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def request_telemetry(request: object) -> RequestTelemetry | None:
    """The telemetry of a request (a Starlette ``Request`` or an ASGI scope), if any."""
    scope: Any = getattr(request, "scope", request)
    try:
        found = scope.get(SCOPE_KEY)
    except AttributeError:
        return None
    return found if isinstance(found, RequestTelemetry) else None


def report_bulk(request: object, *, task: str, records: int) -> None:
    """Report one bulk upload as ``LogRecordsRequested`` (the task and a count, never records).

    Example::

        @app.post("/api/datasets/{name}/{task}:bulk")
        async def bulk(request: Request, name: str, task: str, body: BulkRequest):
            report_bulk(request, task=task, records=len(body.records))

    Args:
        request: the request (or its ASGI scope).
        task: the labelling task; the catalog's enum decides what is accepted.
        records: how many records the request carried.
    """
    telemetry = request_telemetry(request)
    if telemetry is not None:
        telemetry.report_bulk(task, records)


def report_error(request: object, exc: BaseException) -> None:
    """Report ``exc`` as one ``ServerErrorFound`` (at most once per exception and request).

    Exception handlers wrapped with :func:`reporting_handler` call this for you;
    call it yourself where an error is turned into a response without raising.
    """
    telemetry = request_telemetry(request)
    if telemetry is not None:
        telemetry.report_error(exc)


def note_user(request: object, *, is_default: bool) -> None:
    """Tell the middleware whether this request's user is the app's default user.

    ``UserInfoRequested`` carries ``is_default_user`` only when the host said so,
    typically from its authentication dependency.
    """
    telemetry = request_telemetry(request)
    if telemetry is not None:
        telemetry.is_default_user = bool(is_default)


def reporting_handler(handler: HandlerT) -> HandlerT:
    """Wrap a Starlette/FastAPI exception handler so that each error it handles is reported.

    The wrapper keeps the handler sync or async as it was (Starlette runs sync
    handlers in a thread pool), reports first, then returns the handler's
    response unchanged. An exception that propagates out of the app through the
    middleware and then reaches a wrapped ``Exception``/500 handler is reported
    once, not twice.

    Example::

        app.add_exception_handler(ServerError, reporting_handler(server_error_handler))
    """
    if _is_async_callable(handler):

        @functools.wraps(handler)
        async def wrapped_async(request: Any, exc: BaseException) -> Any:
            report_error(request, exc)
            return await handler(request, exc)

        return cast(HandlerT, wrapped_async)

    @functools.wraps(handler)
    def wrapped(request: Any, exc: BaseException) -> Any:
        report_error(request, exc)
        return handler(request, exc)

    return cast(HandlerT, wrapped)


def _is_async_callable(obj: object) -> bool:
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(
        getattr(obj, "__call__", None)  # noqa: B004  # an async __call__ is what matters here
    )
