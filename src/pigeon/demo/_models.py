"""Request and response bodies of the reference server's API."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "BulkRequest",
    "BulkResponse",
    "DatasetCreate",
    "DatasetOut",
    "Name",
    "Record",
    "RecordsOut",
    "Task",
    "UserCreate",
    "UserOut",
    "WorkspaceCreate",
    "WorkspaceOut",
]

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=128)]
"""A dataset, workspace or user name: lower-case letters, digits, ``-`` and ``_``."""

Role = Literal["owner", "annotator"]
"""What a user may do: owners manage users, workspaces and deletions."""


class Task(StrEnum):
    """The labelling tasks records can be uploaded for."""

    TEXT_CLASSIFICATION = "TextClassification"
    TOKEN_CLASSIFICATION = "TokenClassification"  # noqa: S105  # a task name, not a secret
    TEXT2TEXT = "Text2Text"


class UserCreate(BaseModel):
    """``POST /api/users``."""

    model_config = ConfigDict(extra="forbid")
    username: Name
    role: Role = "annotator"


class UserOut(BaseModel):
    """A user as ``/api/me`` and ``/api/users`` show it."""

    username: str
    role: Role
    workspaces: list[str]
    api_key: str | None = None


class WorkspaceCreate(BaseModel):
    """``POST /api/workspaces``."""

    model_config = ConfigDict(extra="forbid")
    name: Name


class WorkspaceOut(BaseModel):
    """One workspace."""

    name: str


class DatasetCreate(BaseModel):
    """``POST /api/datasets``."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    task: Task
    workspace: Name | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class DatasetOut(BaseModel):
    """One dataset and how many records it holds."""

    name: str
    task: Task
    workspace: str
    records: int
    tags: dict[str, str]
    metadata: dict[str, Any]


class Record(BaseModel):
    """One record of a bulk upload (``text`` or ``tokens``, depending on the task)."""

    id: str | int | None = None
    text: str | None = None
    tokens: list[str] | None = None
    annotation: Any = None
    prediction: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class BulkRequest(BaseModel):
    """``POST /api/datasets/{name}/{task}:bulk``."""

    records: list[Record]
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class BulkResponse(BaseModel):
    """How many records of a bulk upload were stored, and how many were not."""

    dataset: str
    processed: int
    failed: int


class RecordsOut(BaseModel):
    """``GET /api/datasets/{name}/records``: a page of records and the total."""

    records: list[Record]
    total: int
