"""In-memory storage of the reference server: users, workspaces, datasets and records.

Used from the event loop only (every route is ``async`` and does no I/O), so
no lock is needed. Lost at restart, as a demo should be.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from pigeon.demo._errors import EntityAlreadyExistsError, EntityNotFoundError, WrongTaskError
from pigeon.demo._models import Record, Role, Task
from pigeon.demo._settings import DEFAULT_USERNAME, DEFAULT_WORKSPACE

__all__ = ["Dataset", "DemoStore", "User", "sort_records"]


@dataclass(slots=True)
class User:
    """A user and the key it authenticates with."""

    username: str
    role: Role
    api_key: str


@dataclass(slots=True)
class Dataset:
    """A dataset of one task in one workspace."""

    name: str
    workspace: str
    task: Task
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)


class DemoStore:
    """Everything the server knows, in dictionaries."""

    def __init__(self, default_api_key: str, max_records_per_dataset: int) -> None:
        """Start with the default user (an owner) and the default workspace."""
        self._users: dict[str, User] = {}
        self._by_key: dict[str, User] = {}
        self._workspaces: dict[str, None] = {DEFAULT_WORKSPACE: None}
        self._datasets: dict[tuple[str, str], Dataset] = {}
        self._max_records = max_records_per_dataset
        self._add_user(User(DEFAULT_USERNAME, "owner", default_api_key))

    # -- users ---------------------------------------------------------------

    def user_by_key(self, api_key: str) -> User | None:
        """The user holding ``api_key``, if any."""
        return self._by_key.get(api_key)

    def create_user(self, username: str, role: Role) -> User:
        """Create a user with a fresh random API key."""
        if username in self._users:
            raise EntityAlreadyExistsError(username, "User")
        return self._add_user(User(username, role, secrets.token_urlsafe(16)))

    def _add_user(self, user: User) -> User:
        self._users[user.username] = user
        self._by_key[user.api_key] = user
        return user

    # -- workspaces ----------------------------------------------------------

    def workspaces(self) -> list[str]:
        """Every workspace name, in creation order."""
        return list(self._workspaces)

    def create_workspace(self, name: str) -> str:
        """Create a workspace."""
        if name in self._workspaces:
            raise EntityAlreadyExistsError(name, "Workspace")
        self._workspaces[name] = None
        return name

    def require_workspace(self, name: str) -> str:
        """``name`` if the workspace exists."""
        if name not in self._workspaces:
            raise EntityNotFoundError(name, "Workspace")
        return name

    # -- datasets ------------------------------------------------------------

    def datasets(self, workspace: str) -> list[Dataset]:
        """The datasets of one workspace."""
        self.require_workspace(workspace)
        return [d for (ws, _), d in self._datasets.items() if ws == workspace]

    def create_dataset(
        self,
        name: str,
        workspace: str,
        task: Task,
        *,
        tags: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Dataset:
        """Create an empty dataset."""
        self.require_workspace(workspace)
        if (workspace, name) in self._datasets:
            raise EntityAlreadyExistsError(name, "Dataset")
        dataset = Dataset(name, workspace, task, dict(tags or {}), dict(metadata or {}))
        self._datasets[workspace, name] = dataset
        return dataset

    def dataset(self, name: str, workspace: str) -> Dataset:
        """One dataset."""
        self.require_workspace(workspace)
        found = self._datasets.get((workspace, name))
        if found is None:
            raise EntityNotFoundError(name, "Dataset")
        return found

    def delete_dataset(self, name: str, workspace: str) -> Dataset:
        """Delete one dataset and its records."""
        dataset = self.dataset(name, workspace)
        del self._datasets[workspace, name]
        return dataset

    def add_records(
        self,
        name: str,
        workspace: str,
        *,
        task: Task,
        records: list[Record],
        tags: dict[str, str],
        metadata: dict[str, Any],
    ) -> tuple[int, int]:
        """Append records, creating the dataset on first upload; return (processed, failed).

        Records beyond the dataset's capacity are not stored and count as failed.
        """
        key = (workspace, name)
        dataset = self._datasets.get(key)
        if dataset is None:
            dataset = self.create_dataset(name, workspace, task)
        elif dataset.task != task:
            raise WrongTaskError(name, task.value, dataset.task.value)
        room = max(0, self._max_records - len(dataset.records))
        accepted = records[:room]
        dataset.records.extend(accepted)
        dataset.tags.update(tags)
        dataset.metadata.update(metadata)
        return len(accepted), len(records) - len(accepted)


def sort_records(records: list[Record], key: str) -> list[Record]:
    """``records`` sorted by one of their fields.

    The demo's deliberate bug: a dataset where some records have no annotation
    cannot be sorted by it (``None < str`` raises ``TypeError``), so
    ``?sort=annotation`` answers 500 and the server reports a ``CrashReported``.
    """
    return sorted(records, key=lambda record: _sort_key(record, key))


def _sort_key(record: Record, key: str) -> Any:
    return getattr(record, key)
