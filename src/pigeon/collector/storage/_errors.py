"""What a store raises: it cannot be opened, or a write could not be committed."""

from __future__ import annotations

from pigeon.errors import PigeonError

__all__ = ["StoreClosedError", "StoreError", "StoreInUseError"]


class StoreError(PigeonError):
    """The store cannot be opened, or a transaction failed and was rolled back.

    Nothing of a failed write is kept: the client is answered 503 and retries.
    """


class StoreClosedError(StoreError):
    """The store was closed; nothing more can be written or read."""


class StoreInUseError(StoreError):
    """The store is in use by another process: a collector (for a restore), or a restore."""
