"""pigeon's exceptions.

The SDK never raises into the host's call path (``track()``, ``flush()``,
``shutdown()``); these are raised only where a human asked for something
directly: loading a catalog, building a client with bad arguments, or running
a collector command without its extra installed.

Hierarchy::

    PigeonError
    ├── CatalogError          a catalog file is missing, unreadable or malformed
    │   └── UnknownCatalogError   no catalog by that name or path
    └── MissingExtraError     an optional extra (``pigeon[collector]``) is not installed
"""

from __future__ import annotations

__all__ = ["CatalogError", "MissingExtraError", "PigeonError", "UnknownCatalogError"]


class PigeonError(Exception):
    """Base class of every exception pigeon raises."""


class CatalogError(PigeonError):
    """A catalog file is malformed; the message names the file, event and field."""


class UnknownCatalogError(CatalogError):
    """No shipped catalog has that name and no file exists at that path."""


class MissingExtraError(PigeonError):
    """An optional extra is missing; the message gives the ``pip install`` that fixes it."""

    def __init__(self, extra: str, feature: str) -> None:
        """Build the message for ``feature`` needing ``pigeon[extra]``."""
        super().__init__(
            f"{feature} needs the '{extra}' extra: pip install 'pigeon-telemetry[{extra}]'"
        )
        self.extra = extra
