"""JSON errors: every response of the collector is JSON, failures included.

An error body is ``{"code": ..., "message": ..., "details": [{"path", "reason"}]}``
with ``code`` and ``message`` at the top level: Segment's client reads them
there (and retries a 4xx whose body lacks them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

__all__ = ["ApiError", "Detail", "install_error_handlers", "json_response"]

Detail = tuple[str, str]
"""``(path, reason)``: which field, and why."""

_encode = msgspec.json.Encoder().encode

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    415: "unsupported_encoding",
    429: "rate_limited",
}


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A response with ``body`` encoded as JSON."""
    return Response(_encode(body), status, headers, media_type="application/json")


class ApiError(Exception):
    """A failure answered with a status and a JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Detail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Describe the failure; ``details`` name the fields and the reasons."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers

    def response(self) -> Response:
        """The JSON response for this error."""
        body = {
            "code": self.code,
            "message": self.message,
            "details": [{"path": path, "reason": reason} for path, reason in self.details],
        }
        return json_response(body, self.status, self.headers)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _CODES.get(status, f"http_{status}")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return ApiError(status, code, detail, headers=exc.headers).response()


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details: list[Detail] = []
    for error in exc.errors()[:20]:
        loc: Sequence[Any] = error.get("loc", ())
        path = ".".join(str(part) for part in loc) or "request"
        details.append((path, str(error.get("msg", "invalid value"))))
    return ApiError(400, "invalid_request", "the request is not valid", details).response()


def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


def _internal_error(request: Request, exc: Exception) -> Response:
    # The server logs the traceback (never the request: no address, no body).
    return ApiError(500, "internal_error", "internal error").response()


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` (404, 405, 400, 500, ApiError) a JSON body."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Exception, _internal_error)
