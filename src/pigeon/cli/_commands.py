"""Shared pieces of the subcommands: the error type, catalog loading, optional commands."""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from pigeon.catalog import Catalog
from pigeon.errors import CatalogError, MissingExtraError, UnknownCatalogError

__all__ = [
    "CommandError",
    "add_app_argument",
    "add_store_option",
    "load_app_catalog",
    "load_catalog",
    "register_optional",
    "require_collector",
]

# Collector-side commands: module name under pigeon.cli, registered when importable.
_OPTIONAL = ("_serve", "_report", "_demo", "_backup", "_migrate")

# storage.DEFAULT_STORE_URL, repeated: the storage package is not imported at parse time.
_DEFAULT_STORE = "sqlite:///./pigeon-data/pigeon.db"


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 2) -> None:
        """Carry ``message`` and the exit status."""
        super().__init__(message)
        self.status = status


def load_catalog(name_or_path: str) -> Catalog:
    """Load a catalog or raise :class:`CommandError` with the catalog's own message."""
    try:
        return Catalog.load(name_or_path)
    except CatalogError as exc:
        raise CommandError(str(exc)) from None


def load_app_catalog(app: str, catalog: str | None) -> Catalog:
    """The catalog of ``app``: ``catalog`` when given, else the one named after the app."""
    if catalog is not None:
        return load_catalog(catalog)
    try:
        return Catalog.load(app)
    except UnknownCatalogError as exc:
        raise CommandError(
            f"unknown app {app!r}: {exc}; for an app whose catalog is not shipped "
            f"with pigeon, pass --catalog PATH"
        ) from None
    except CatalogError as exc:
        raise CommandError(str(exc)) from None


def register_optional(sub: Any) -> None:
    """Register the collector commands; each module imports its extra only when run."""
    for name in _OPTIONAL:
        try:
            module = importlib.import_module(f"pigeon.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pigeon.cli.{name}":
                raise
            continue
        module.register(sub)


def require_collector(feature: str) -> None:
    """Raise :class:`CommandError` naming the install command when the extra is missing."""
    try:
        importlib.import_module("pigeon.collector")
        for dep in ("fastapi", "uvicorn", "msgspec", "jinja2", "prometheus_client"):
            importlib.import_module(dep)
    except ModuleNotFoundError:
        raise CommandError(str(MissingExtraError("collector", feature))) from None


def add_app_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--app NAME`` and ``--catalog NAME|PATH`` options shared by status and preview."""
    parser.add_argument("--app", required=True, help="the host app's name, e.g. argilla")
    parser.add_argument(
        "--catalog",
        default=None,
        help="the catalog's name or path (default: the catalog named after the app)",
    )


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """The ``--store URL`` option of the commands that work on a store."""
    parser.add_argument(
        "--store",
        default=os.environ.get("PIGEON_STORE", _DEFAULT_STORE),
        help="the store URL (default: $PIGEON_STORE or %(default)s)",
    )
