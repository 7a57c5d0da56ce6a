"""The anonymous install id: a random UUID4 kept in a 0600 file, never derived from hardware.

The file lives in ``<data dir>/<app>/telemetry_id`` (or in the ``home`` an app
passes). It is read or written only when telemetry is enabled. A corrupt file
is replaced by a new id; an unwritable directory yields an in-memory id for this
process. Nothing here raises.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = ["ID_FILENAME", "Identity", "data_dir", "load_identity", "new_id"]

ID_FILENAME = "telemetry_id"
"""The name of the id file inside the app's telemetry directory."""


class Identity(NamedTuple):
    """The install id and where it came from.

    Attributes:
        anonymous_id: the UUID4, as text.
        path: the id file, or ``None`` when the id lives in memory only.
        created: the id was created by this call (first run, or a corrupt file replaced).
    """

    anonymous_id: str
    path: Path | None
    created: bool


def data_dir(app: str, home: str | os.PathLike[str] | None = None) -> Path:
    """The directory that holds the app's id file and spool.

    ``home`` (the app's own data directory) wins; otherwise the platform's
    usual place for application data.
    """
    if home is not None:
        return Path(home)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / app


def new_id() -> str:
    """A fresh random UUID4 (from ``os.urandom``; never from hardware or the clock)."""
    import uuid

    return str(uuid.uuid4())


def load_identity(directory: Path) -> Identity:
    """Read the id from ``directory``, creating it (mode 0600) when absent or corrupt."""
    path = directory / ID_FILENAME
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = None
    except (OSError, UnicodeDecodeError, ValueError):
        existing = ""
    if existing and _is_uuid(existing):
        return Identity(existing, path, created=False)
    anonymous_id = new_id()
    if _write_private(path, anonymous_id):
        return Identity(anonymous_id, path, created=True)
    return Identity(anonymous_id, None, created=True)


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _write_private(path: Path, text: str) -> bool:
    """Write atomically with mode 0600; False when the directory is not writable."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (text + "\n").encode("ascii"))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    return True
