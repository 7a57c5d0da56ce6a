"""The admin token: given, or generated once and kept beside the data (mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

__all__ = ["TOKEN_FILENAME", "ensure_admin_token", "new_token"]

TOKEN_FILENAME: Final = "admin-token"  # noqa: S105  # a file name, not a secret


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe token that never starts with ``-``.

    One in 64 of ``secrets.token_urlsafe`` does, and then ``--admin-token TOKEN``
    on a command line reads as an unknown option.
    """
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


def ensure_admin_token(directory: Path) -> tuple[str, Path, bool]:
    """The token stored in ``directory``, generating it on first use.

    Returns:
        ``(token, path, created)``: ``created`` is True only when it was just
        generated (the caller prints it then, and only then).

    Raises:
        OSError: the directory or file cannot be created or read.
    """
    path = directory / TOKEN_FILENAME
    existing = _read(path)
    if existing:
        return existing, path, False
    directory.mkdir(parents=True, exist_ok=True)
    token = new_token()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process generated it meanwhile: use theirs
        existing = _read(path)
        if existing:
            return existing, path, False
        raise
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return token, path, True


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""
