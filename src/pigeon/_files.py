"""Small file steps shared by the SDK's on-disk state (spool, ledger, consent)."""

from __future__ import annotations

import os

__all__ = ["unlink_quietly"]


def unlink_quietly(path: str | os.PathLike[str]) -> None:
    """Delete ``path`` if it can be; a file that is gone or stuck is no error here."""
    try:  # noqa: SIM105  # contextlib is not imported by the SDK
        os.unlink(path)
    except (OSError, ValueError):
        pass
