"""Store migrations: what one found or did, and the one entry point for every store URL.

Each store upgrades its own layout (``_sqlite_migrate``, ``clickhouse._layout``)
when it is opened; :func:`migrate_store` runs that alone, for ``pigeon migrate``
and for ``pigeon serve`` to report what it did before it starts serving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["Migration", "Step", "migrate_store", "steps_between", "summaries"]

_Run_co = TypeVar("_Run_co", covariant=True)  # a step of any store is a Step[object]
_R = TypeVar("_R")


@dataclass(frozen=True)
class Step(Generic[_Run_co]):
    """One layout change of a store.

    Attributes:
        source: the layout it upgrades.
        target: the layout it produces.
        summary: what it does, for ``pigeon migrate --dry-run``.
        run: applies it (each store decides what it is given: a connection...).
    """

    source: str
    target: str
    summary: str
    run: _Run_co


def steps_between(
    steps: Mapping[str, Step[_R]], version: str | None, target: str
) -> list[Step[_R]]:
    """The steps from layout ``version`` to ``target``, in order (none for a new store)."""
    chain = []
    while version is not None and version != target:
        step = steps[version]
        chain.append(step)
        version = step.target
    return chain


def summaries(steps: Sequence[Step[object]]) -> tuple[str, ...]:
    """One line per step, as ``pigeon migrate`` prints them."""
    return tuple(f"layout {step.source} to {step.target}: {step.summary}" for step in steps)


@dataclass(frozen=True)
class Migration:
    """What a migration found, did or would do.

    Attributes:
        store: the store's description (its path).
        source: the layout found (``None``: no store there yet; one is created
            at the current layout when a collector starts).
        target: the layout this pigeon writes.
        steps: the changes from ``source`` to ``target``, in order (none when up to date).
        backup: the copy taken before migrating (``None`` in a dry run, without a
            backup, or when nothing was done).
        seconds: how long the whole migration took.
        created: the store did not exist and was created at ``target``.
    """

    store: str
    source: str | None
    target: str
    steps: tuple[str, ...] = ()
    backup: Path | None = None
    seconds: float = 0.0
    created: bool = False

    @property
    def needed(self) -> bool:
        """Whether the store is of an older layout."""
        return bool(self.steps)


def migrate_store(
    url: str,
    *,
    dry_run: bool = False,
    backup: bool = True,
    say: Callable[[str], None] | None = None,
) -> Migration:
    """Bring the store at ``url`` to this pigeon's layout, or (``dry_run``) say what that does.

    Args:
        url: ``sqlite:///PATH`` or ``clickhouse://...``.
        dry_run: change nothing; the result lists the steps that would run.
        backup: (SQLite) copy the store aside first.
        say: told each stage as it starts.

    Raises:
        StoreError: the URL is not understood; the store is newer than this
            pigeon, not a pigeon store, in use (SQLite), or the migration failed.
    """
    from pigeon.collector.storage._open import scheme_of

    if scheme_of(url) == "sqlite":
        from pigeon.collector.storage._sqlite_migrate import migrate_sqlite, plan_sqlite
        from pigeon.collector.storage._sqlite_schema import parse_sqlite_url

        location = parse_sqlite_url(url)
        if dry_run:
            return plan_sqlite(location)
        return migrate_sqlite(location, backup=backup, say=say)
    from pigeon.collector.storage._open import clickhouse_store_class

    return clickhouse_store_class().migrate_url(url, dry_run=dry_run, say=say)
