r"""The on-disk spool: events a process could not deliver before it exited.

At exit (after the bounded flush) the sender writes what is left to one new
file in ``<home>/telemetry_spool/``; a later run claims the files and sends
their events first. Only encoded messages are written, so only what the
catalog accepted ever reaches the disk. Files are mode 0600 in a 0700
directory, and the spool is bounded in total size, number of files and age:
beyond the caps new events are dropped and counted.

Every process writes its own file (atomically: a temporary file, then a
rename) and claims a file by renaming it, so concurrent processes (web server
workers exiting together) need no lock. A file that does not parse is deleted
with one warning: resending garbage would only be rejected by the collector.

File format (text, UTF-8)::

    pigeon-spool 1
    <event time, seconds since the epoch>\t<message JSON>
    ...
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from typing import NamedTuple

from pigeon._files import unlink_quietly
from pigeon._reporting import Counters, warn_once

__all__ = ["SPOOL_DIRNAME", "Claimed", "Spool", "SpoolLimits", "Spooled", "restore", "store"]

SPOOL_DIRNAME = "telemetry_spool"
"""The spool directory, next to ``telemetry_id``."""

_MAGIC = b"pigeon-spool 1\n"
_STALE_CLAIM = 3600.0  # a claimed file left by a process that died while reading it


class SpoolLimits(NamedTuple):
    """The spool's caps.

    Attributes:
        max_bytes: total size of all spool files.
        max_age: events older than this many seconds are dropped.
        max_files: spool files at most (one per exiting process).
    """

    max_bytes: int = 1_000_000
    max_age: float = 7 * 86400.0
    max_files: int = 64


class Spooled(NamedTuple):
    """What :meth:`Spool.write` did with the events it was given."""

    written: int = 0
    dropped_full: int = 0
    dropped_expired: int = 0
    failed: int = 0


class Claimed(NamedTuple):
    """What :meth:`Spool.claim` found: events to send, and what it threw away."""

    entries: list[tuple[float, str]]
    expired: int = 0
    corrupt_files: int = 0


class Spool:
    """One app's spool directory."""

    def __init__(self, directory: str, limits: SpoolLimits | None = None) -> None:
        """Use ``directory`` (created on the first write, mode 0700)."""
        self.directory = directory
        self.limits = limits or SpoolLimits()

    def write(self, entries: Sequence[tuple[float, str]], now: float | None = None) -> Spooled:
        """Append ``(event time, message)`` pairs as one new file, within the caps."""
        now = time.time() if now is None else now
        oldest = now - self.limits.max_age
        fresh = [(t, m) for t, m in entries if t >= oldest]
        expired = len(entries) - len(fresh)
        if not fresh:
            return Spooled(dropped_expired=expired)
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            files = self._files()
            used = sum(size for _, size, _ in files)
        except (OSError, ValueError):
            return Spooled(dropped_expired=expired, failed=len(fresh))
        if len(files) >= self.limits.max_files:
            return Spooled(dropped_full=len(fresh), dropped_expired=expired)
        budget = self.limits.max_bytes - used - len(_MAGIC)
        lines = [_MAGIC]
        for t, message in fresh:
            line = f"{t:.3f}\t{message}\n".encode()
            if len(line) > budget:
                break  # the newest are dropped, as in the in-memory queue
            budget -= len(line)
            lines.append(line)
        written = len(lines) - 1
        if written and not self._publish(b"".join(lines), now):
            return Spooled(dropped_expired=expired, failed=len(fresh))
        return Spooled(written, len(fresh) - written, expired)

    def claim(self, now: float | None = None) -> Claimed:
        """Take every spool file (each exactly once across processes) and read it."""
        now = time.time() if now is None else now
        try:
            files = self._files(include_stale_claims=now)
        except (OSError, ValueError):
            return Claimed([])
        entries: list[tuple[float, str]] = []
        expired = corrupt = 0
        oldest = now - self.limits.max_age
        for path, size, _ in files:
            mine = os.path.join(self.directory, f"claimed-{os.getpid()}-{os.path.basename(path)}")
            try:
                os.rename(path, mine)  # atomic: one process wins each file
            except OSError:
                continue
            try:
                with open(mine, "rb") as file:
                    data = file.read(self.limits.max_bytes + 1)
            except OSError:
                data = b""
            finally:
                unlink_quietly(mine)
            parsed = _parse(data) if size <= self.limits.max_bytes else None
            if parsed is None:
                corrupt += 1
                continue
            for t, message in parsed:
                if t >= oldest:
                    entries.append((t, message))
                else:
                    expired += 1
        return Claimed(entries, expired, corrupt)

    def clear(self) -> None:
        """Delete every spool file (``client.forget()``)."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            if name.startswith(("spool-", "claimed-", ".spool-")):
                unlink_quietly(os.path.join(self.directory, name))

    def _files(self, include_stale_claims: float | None = None) -> list[tuple[str, int, float]]:
        """``(path, size, mtime)`` of the spool files, oldest first."""
        found = []
        with os.scandir(self.directory) as listing:
            for entry in listing:
                name = entry.name
                spool = name.startswith("spool-")
                stale = name.startswith("claimed-") and include_stale_claims is not None
                if not (spool or stale) or not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                if stale and info.st_mtime > float(include_stale_claims or 0) - _STALE_CLAIM:
                    continue
                found.append((entry.path, info.st_size, info.st_mtime))
        found.sort(key=lambda f: (f[2], f[0]))
        return found

    def _publish(self, data: bytes, now: float) -> bool:
        name = f"spool-{int(now * 1000):013d}-{os.getpid()}-{os.urandom(4).hex()}.jsonl"
        path = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f".{name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except (OSError, ValueError):
            unlink_quietly(tmp)
            return False
        return True


def store(spool: Spool | None, entries: list[tuple[float, str]], counters: Counters) -> None:
    """Write ``entries`` to the spool (if there is one), counting what could not be kept."""
    if not entries:
        return
    if spool is None:  # no writable home: nowhere to keep them
        counters.add("dropped_unspooled", len(entries))
        return
    result = spool.write(entries)
    counters.add("spooled", result.written)
    counters.add("dropped_spool_full", result.dropped_full)
    counters.add("dropped_expired", result.dropped_expired)
    counters.add("dropped_unspooled", result.failed)
    if result.failed:
        warn_once("spool_write", f"could not write the telemetry spool in {spool.directory}")
    elif result.dropped_full:
        warn_once("spool_full", "the telemetry spool is full: new events are dropped")


def restore(spool: Spool, counters: Counters) -> list[tuple[float, str]]:
    """Claim what earlier runs spooled, counting what was too old or corrupt."""
    claimed = spool.claim()
    counters.add("restored", len(claimed.entries))
    counters.add("dropped_expired", claimed.expired)
    counters.add("spool_corrupt", claimed.corrupt_files)
    if claimed.corrupt_files:
        warn_once(
            "spool_corrupt",
            f"discarded {claimed.corrupt_files} corrupt telemetry spool file(s) "
            f"in {spool.directory}",
        )
    return claimed.entries


def _parse(data: bytes) -> list[tuple[float, str]] | None:
    """The entries of one file, or ``None`` when anything in it is malformed."""
    if not data.startswith(_MAGIC):
        return None
    try:
        text = data[len(_MAGIC) :].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return []
    if not text.endswith("\n"):
        return None  # truncated: the file was not written by _publish
    entries = []
    for line in text[:-1].split("\n"):
        stamp, tab, message = line.partition("\t")
        try:
            t = float(stamp)
            decoded = json.loads(message)
        except ValueError:
            return None
        if (
            not tab
            or not math.isfinite(t)
            or not isinstance(decoded, dict)
            or decoded.get("type") != "track"
            or not isinstance(decoded.get("messageId"), str)
        ):
            return None
        entries.append((t, message))
    return entries
