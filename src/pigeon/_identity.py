"""The anonymous install id: a random UUID4 kept in a 0600 file, never derived from hardware.

The file lives in ``<data dir>/<app>/telemetry_id`` (or in the ``home`` an app
passes). It is read or written only when telemetry is enabled. A corrupt file
is replaced by a new id; an unwritable directory yields an in-memory id for this
process. Nothing here raises.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = ["ID_FILENAME", "Identity", "data_dir", "load_identity", "new_id"]

_HEX = frozenset("0123456789abcdefABCDEF")

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
    usual place for application data: ``$XDG_DATA_HOME/<app>`` (an absolute
    path) or ``~/.local/share/<app>`` on Linux and other POSIX systems,
    ``~/Library/Application Support/<app>`` on macOS and ``<app>`` under
    ``%LOCALAPPDATA%`` on Windows. When no home directory can be
    determined the result is a path that cannot be created, so the id stays
    in memory.
    """
    if home is not None:
        return Path(home)
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "")
        base = Path(local) if local else _user_home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = _user_home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # The XDG spec says relative values are invalid and must be ignored.
        base = Path(xdg) if os.path.isabs(xdg) else _user_home() / ".local" / "share"
    return base / app


def _user_home() -> Path:
    try:
        return Path.home()
    except (RuntimeError, KeyError, OSError):  # no $HOME and no password entry
        return Path(os.devnull)


def new_id() -> str:
    """A fresh random UUID4 (from ``os.urandom``; never from hardware or the clock).

    Built by hand rather than with :mod:`uuid`, which imports :mod:`platform`
    and costs milliseconds at client construction.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def load_identity(directory: Path) -> Identity:
    """Read the id from ``directory``, creating it (mode 0600) when absent or corrupt.

    Processes starting at once on a first run (web server workers) agree on one
    id: the file is published with a hard link, which fails if another process
    published first, and then that process's id is adopted.
    """
    path = directory / ID_FILENAME
    existing = _read_id(path)
    if existing:
        return Identity(existing, path, created=False)
    anonymous_id = new_id()
    published = _publish(path, anonymous_id, replace=existing is not None)
    if published is None:
        return Identity(anonymous_id, None, created=True)
    if published != anonymous_id:
        return Identity(published, path, created=False)
    return Identity(anonymous_id, path, created=True)


def _read_id(path: Path) -> str | None:
    """The id in ``path``; ``None`` when there is no file, ``""`` when it is unusable."""
    try:
        with open(path, "rb") as file:
            raw = file.read(100)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # a directory, no permission...: treat it as corrupt
        return ""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return ""
    return text if _is_uuid(text) else ""


def _is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID in canonical form (``8-4-4-4-12`` hex digits)."""
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(c in _HEX for p in parts for c in p)


def _publish(path: Path, text: str, *, replace: bool) -> str | None:
    """Write ``text`` to ``path`` with mode 0600, atomically.

    Returns:
        The id now in the file: ``text``, or the id another process published
        first; ``None`` when the directory is not writable.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(text):x}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (text + "\n").encode("ascii"))
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
            return text
        try:
            os.link(tmp, path)
        except FileExistsError:
            winner = _read_id(path)
            if winner:
                return winner
            os.replace(tmp, path)  # the other file is corrupt: ours wins
        except OSError:  # no hard links on this file system: last writer wins
            os.replace(tmp, path)
        return text
    except (OSError, ValueError):  # read-only, full, not a directory, NUL in the path
        return None
    finally:
        try:  # noqa: SIM105  # contextlib is not worth importing for this
            os.unlink(tmp)
        except (OSError, ValueError):
            pass
