"""The reference server's API: users, workspaces, datasets and bulk uploads.

Every route is ``async`` (in-memory work only). Telemetry appears in exactly
two places: the authentication dependency says whether the user is the default
one, and the bulk route reports its task and record count. ``/api/me`` and the
errors are recorded by the middleware and the exception handlers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pigeon.demo._dependencies import CurrentUser, Owner, Settings, Store
from pigeon.demo._errors import ValidationError
from pigeon.demo._models import (
    BulkRequest,
    BulkResponse,
    DatasetCreate,
    DatasetOut,
    Name,
    RecordsOut,
    Task,
    UserCreate,
    UserOut,
    WorkspaceCreate,
    WorkspaceOut,
)
from pigeon.demo._settings import DEFAULT_WORKSPACE
from pigeon.demo._store import Dataset, DemoStore, User, sort_records
from pigeon.integrations.asgi import report_bulk

__all__ = ["router"]

router = APIRouter(prefix="/api")

WorkspaceQuery = Annotated[Name, Query()]
_MAX_REPORTED_PROBLEMS = 10


def _user_out(user: User, store: DemoStore, *, with_key: bool = False) -> UserOut:
    return UserOut(
        username=user.username,
        role=user.role,
        workspaces=store.workspaces(),
        api_key=user.api_key if with_key else None,
    )


def _dataset_out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(
        name=dataset.name,
        task=dataset.task,
        workspace=dataset.workspace,
        records=len(dataset.records),
        tags=dataset.tags,
        metadata=dataset.metadata,
    )


@router.get("/_info")
async def info(settings: Settings) -> dict[str, str]:
    """The server's version (no authentication: used to check that it is up)."""
    return {"version": settings.version}


@router.get("/me")
async def me(user: CurrentUser, store: Store) -> UserOut:
    """The authenticated user."""
    return _user_out(user, store)


@router.post("/users")
async def create_user(body: UserCreate, owner: Owner, store: Store) -> UserOut:
    """Create a user; the answer holds its new API key."""
    return _user_out(store.create_user(body.username, body.role), store, with_key=True)


@router.get("/workspaces")
async def list_workspaces(user: CurrentUser, store: Store) -> list[WorkspaceOut]:
    """Every workspace."""
    return [WorkspaceOut(name=name) for name in store.workspaces()]


@router.post("/workspaces")
async def create_workspace(body: WorkspaceCreate, owner: Owner, store: Store) -> WorkspaceOut:
    """Create a workspace (409 ``EntityAlreadyExistsError`` when the name is taken)."""
    return WorkspaceOut(name=store.create_workspace(body.name))


@router.get("/datasets")
async def list_datasets(
    user: CurrentUser, store: Store, workspace: WorkspaceQuery = DEFAULT_WORKSPACE
) -> list[DatasetOut]:
    """The datasets of a workspace."""
    return [_dataset_out(d) for d in store.datasets(workspace)]


@router.post("/datasets")
async def create_dataset(body: DatasetCreate, user: CurrentUser, store: Store) -> DatasetOut:
    """Create an empty dataset."""
    workspace = body.workspace or DEFAULT_WORKSPACE
    dataset = store.create_dataset(
        body.name, workspace, body.task, tags=body.tags, metadata=body.metadata
    )
    return _dataset_out(dataset)


@router.get("/datasets/{name}")
async def get_dataset(
    name: str, user: CurrentUser, store: Store, workspace: WorkspaceQuery = DEFAULT_WORKSPACE
) -> DatasetOut:
    """One dataset (404 ``EntityNotFoundError`` when missing)."""
    return _dataset_out(store.dataset(name, workspace))


@router.delete("/datasets/{name}")
async def delete_dataset(
    name: str, owner: Owner, store: Store, workspace: WorkspaceQuery = DEFAULT_WORKSPACE
) -> dict[str, Any]:
    """Delete a dataset and its records."""
    store.delete_dataset(name, workspace)
    return {"name": name, "deleted": True}


@router.get("/datasets/{name}/records")
async def list_records(
    *,
    name: str,
    user: CurrentUser,
    store: Store,
    workspace: WorkspaceQuery = DEFAULT_WORKSPACE,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    sort: Annotated[str | None, Query(pattern="^(id|annotation)$")] = None,
) -> RecordsOut:
    """The first ``limit`` records of a dataset, in upload order or sorted by ``sort``."""
    dataset = store.dataset(name, workspace)
    records = dataset.records if sort is None else sort_records(dataset.records, sort)
    return RecordsOut(records=records[:limit], total=len(dataset.records))


@router.post("/datasets/{name}/{task}:bulk")
async def bulk(
    *,
    request: Request,
    name: Name,
    task: Task,
    body: BulkRequest,
    user: CurrentUser,
    store: Store,
    settings: Settings,
    workspace: WorkspaceQuery = DEFAULT_WORKSPACE,
) -> BulkResponse:
    """Upload records of one task; the dataset is created on its first upload."""
    _check_records(body, task, settings.max_records_per_request)
    store.require_workspace(workspace)
    processed, failed = store.add_records(
        name, workspace, task=task, records=body.records, tags=body.tags, metadata=body.metadata
    )
    report_bulk(request, task=task.value, records=len(body.records))
    return BulkResponse(dataset=name, processed=processed, failed=failed)


def _check_records(body: BulkRequest, task: Task, limit: int) -> None:
    """Refuse the whole request when it is too large or a record lacks its task's input."""
    if len(body.records) > limit:
        raise ValidationError(
            [{"loc": ["body", "records"], "msg": f"at most {limit} records per request"}]
        )
    field = "tokens" if task is Task.TOKEN_CLASSIFICATION else "text"
    problems: list[dict[str, Any]] = []
    for index, record in enumerate(body.records):
        if not getattr(record, field):
            problems.append(
                {"loc": ["body", "records", index, field], "msg": f"required for {task.value}"}
            )
            if len(problems) == _MAX_REPORTED_PROBLEMS:
                break
    if problems:
        raise ValidationError(problems)
