"""The reference server's typed API errors and how they become responses and telemetry.

Every error answers ``{"detail": {"code": "argilla.api.errors::<Name>", "params": {...}}}``
with its HTTP status. The params may name the dataset or workspace (the caller
sent them); the telemetry of an error is only its code and entity type, read by
:func:`describe_api_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pigeon.integrations.asgi import ErrorInfo, reporting_handler

__all__ = [
    "EntityAlreadyExistsError",
    "EntityNotFoundError",
    "ForbiddenOperationError",
    "GenericServerError",
    "ServerError",
    "UnauthorizedError",
    "ValidationError",
    "WrongTaskError",
    "describe_api_error",
    "register_error_handlers",
]

NAMESPACE: Final = "argilla.api.errors"
"""The prefix of every error code."""


class ServerError(Exception):
    """Base of the API errors: an HTTP status, a stable code and response params."""

    http_status: ClassVar[int] = 500
    entity_type: str | None = None

    def __init__(self, message: str, **params: Any) -> None:
        """Keep a human message (logs) and the params returned to the caller."""
        super().__init__(message)
        self.params: dict[str, Any] = params

    @classmethod
    def code_of(cls) -> str:
        """The stable code of this error class."""
        return f"{NAMESPACE}::{cls.__name__}"

    @property
    def code(self) -> str:
        """The stable code, e.g. ``argilla.api.errors::EntityNotFoundError``."""
        return self.code_of()


class EntityNotFoundError(ServerError):
    """A dataset, workspace or user that does not exist."""

    http_status = 404

    def __init__(self, name: str, entity_type: str) -> None:
        """Name the missing entity and its kind."""
        super().__init__(f"{entity_type} {name!r} not found", name=name, type=entity_type)
        self.entity_type = entity_type


class EntityAlreadyExistsError(ServerError):
    """Creating a dataset, workspace or user whose name is taken."""

    http_status = 409

    def __init__(self, name: str, entity_type: str) -> None:
        """Name the existing entity and its kind."""
        super().__init__(f"{entity_type} {name!r} already exists", name=name, type=entity_type)
        self.entity_type = entity_type


class ValidationError(ServerError):
    """A request whose body, path or query does not validate."""

    http_status = 422

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        """Carry each problem as ``{"loc": [...], "msg": "..."}``."""
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        super().__init__(f"invalid request: {where}: {first.get('msg')}", errors=list(errors))


class UnauthorizedError(ServerError):
    """A missing or unknown API key (the key is never echoed)."""

    http_status = 401

    def __init__(self) -> None:
        """No params: the caller knows what it sent."""
        super().__init__("missing or invalid X-Argilla-Api-Key")


class ForbiddenOperationError(ServerError):
    """An operation the user's role does not allow."""

    http_status = 403

    def __init__(self, detail: str) -> None:
        """Say what is not allowed."""
        super().__init__(detail, detail=detail)


class WrongTaskError(ServerError):
    """Records of one task sent to a dataset of another task."""

    http_status = 400

    def __init__(self, name: str, task: str, expected: str) -> None:
        """Name the dataset, the task sent and the dataset's task."""
        super().__init__(
            f"dataset {name!r} is a {expected} dataset, not {task}",
            name=name,
            task=task,
            expected=expected,
        )


class GenericServerError(ServerError):
    """Any unexpected failure, answered as a 500 without internals."""

    http_status = 500

    def __init__(self) -> None:
        """No params: internals stay in the server log."""
        super().__init__("internal server error")


def describe_api_error(exc: BaseException) -> ErrorInfo:
    """The telemetry of an exception: its code and entity type, never its message.

    API errors report their own code; request validation failures report
    ``ValidationError``; anything unexpected reports ``GenericServerError``.
    """
    if isinstance(exc, ServerError):
        return ErrorInfo(exc.code, exc.entity_type)
    if isinstance(exc, RequestValidationError):
        return ErrorInfo(ValidationError.code_of())
    return ErrorInfo(GenericServerError.code_of())


def error_response(error: ServerError) -> JSONResponse:
    """The JSON response of an API error."""
    headers = {"WWW-Authenticate": "X-Argilla-Api-Key"} if error.http_status == 401 else None
    return JSONResponse(
        {"detail": {"code": error.code, "params": error.params}},
        status_code=error.http_status,
        headers=headers,
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServerError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed: the location and the reason name the problem.
    problems = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
    return error_response(ValidationError(problems))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(GenericServerError())


def register_error_handlers(app: FastAPI) -> None:
    """Answer every error in the API format, and report each one once."""
    app.add_exception_handler(ServerError, reporting_handler(_server_error))
    app.add_exception_handler(RequestValidationError, reporting_handler(_validation_error))
    app.add_exception_handler(Exception, reporting_handler(_unexpected_error))
