"""Request dependencies: the store, the settings, and the authenticated user.

All `async`: they do no I/O, and FastAPI would run plain functions in a thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from pigeon.demo._errors import ForbiddenOperationError, UnauthorizedError
from pigeon.demo._settings import DEFAULT_USERNAME, DemoSettings
from pigeon.demo._store import DemoStore, User
from pigeon.integrations.asgi import note_user

__all__ = ["CurrentUser", "Owner", "Settings", "Store"]


async def _store(request: Request) -> DemoStore:
    store: DemoStore = request.app.state.store
    return store


async def _settings(request: Request) -> DemoSettings:
    settings: DemoSettings = request.app.state.settings
    return settings


Store = Annotated[DemoStore, Depends(_store)]
"""The server's in-memory store."""

Settings = Annotated[DemoSettings, Depends(_settings)]
"""The server's settings."""


async def _current_user(
    request: Request,
    store: Store,
    api_key: Annotated[str | None, Header(alias="X-Argilla-Api-Key")] = None,
) -> User:
    user = store.user_by_key(api_key) if api_key else None
    if user is None:
        raise UnauthorizedError()
    # Telemetry learns only whether this is the default user, never who it is.
    note_user(request, is_default=user.username == DEFAULT_USERNAME)
    return user


CurrentUser = Annotated[User, Depends(_current_user)]
"""The user whose ``X-Argilla-Api-Key`` the request carries (401 otherwise)."""


async def _owner(user: CurrentUser) -> User:
    if user.role != "owner":
        raise ForbiddenOperationError("only owners can do this")
    return user


Owner = Annotated[User, Depends(_owner)]
"""The current user, who must be an owner (403 otherwise)."""
