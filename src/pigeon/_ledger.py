r"""The local ledger: a copy of every batch that left the process, for its users to read.

After the collector acknowledges a batch (or, in ``local`` mode, instead of
sending it) the sender thread appends the exact JSON body it sent, as one line,
to a file under ``<home>/telemetry_ledger/``. ``pigeon log --app NAME`` shows
it. Nothing else is written: the ledger holds only what the catalog accepted,
exactly as it went out.

Bounded: files of at most ``file_bytes`` each (one sequence per UTC day),
``max_bytes`` in all and ``max_days`` old; the oldest files go first. Files are
mode 0600 in a 0700 directory. Every process of the app appends to the same
files with ``O_APPEND`` and one ``write`` per line, so workers need no lock.

Line format (UTF-8 JSON, one object per line; the body is written as it was
sent, not re-encoded, and always comes last)::

    {"at": "<ISO 8601 UTC, ms>", "mode": "on"|"local", "endpoint": "<URL>",
     "events": <count>, "body": {"batch": [...], "sentAt": "..."}}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from pigeon._files import unlink_quietly
from pigeon._wire import iso_timestamp

__all__ = ["LEDGER_DIRNAME", "Ledger", "LedgerEntry", "LedgerLimits"]

LEDGER_DIRNAME = "telemetry_ledger"
"""The ledger directory, next to ``telemetry_id``."""

_SUFFIX = ".jsonl"
_BODY = b',"body":'


class LedgerLimits(NamedTuple):
    """The ledger's caps.

    Attributes:
        max_bytes: total size of all ledger files.
        max_days: files of days older than this are deleted.
        file_bytes: a file is closed for appending once it is this large.
    """

    max_bytes: int = 5_000_000
    max_days: int = 30
    file_bytes: int = 1_000_000


class LedgerEntry(NamedTuple):
    """One batch as the ledger recorded it."""

    at: str
    mode: str
    endpoint: str
    events: int
    body: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The batch's messages, decoded."""
        batch = json.loads(self.body).get("batch", [])
        return batch if isinstance(batch, list) else []


class Ledger:
    """One app's ledger directory."""

    def __init__(self, directory: str, limits: LedgerLimits | None = None) -> None:
        """Use ``directory`` (created on the first append, mode 0700)."""
        self.directory = directory
        self.limits = limits or LedgerLimits()
        self._path: str | None = None  # the file this process appends to

    def append(
        self, body: bytes, *, events: int, mode: str, endpoint: str, now: float | None = None
    ) -> bool:
        """Record one batch body; False when it could not be written (never raises).

        The body is written as it is, not re-encoded (escaping 500 KB of JSON
        would cost the sender thread more than sending it): it is one JSON
        object without a newline, the last value of the line's object.
        """
        now = time.time() if now is None else now
        if not body.startswith(b"{") or b"\n" in body:
            return False  # not a batch body: the line format could not hold it
        head = json.dumps(
            {"at": iso_timestamp(now), "mode": mode, "endpoint": endpoint, "events": events},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        line = head[:-1].encode("utf-8") + _BODY + body + b"}\n"
        try:
            path = self._target(now, len(line))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except (OSError, ValueError):
            self._path = None
            return False
        return True

    def _target(self, now: float, size: int) -> str:
        """The file to append to: the one in use, unless the day changed or it is full.

        One ``stat`` per append; the directory is listed (and pruned) only when
        a file fills up or a day begins, or when another process moved on.
        """
        day = time.strftime("%Y%m%d", time.gmtime(now))
        path = self._path
        if path is not None and os.path.basename(path).startswith(day + "-"):
            try:
                if os.stat(path).st_size + size <= self.limits.file_bytes:
                    return path
            except FileNotFoundError:
                pass
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = self._current(now, size)
        self._prune(now, keep=path)
        self._path = path
        return path

    def files(self) -> list[str]:
        """The ledger's files, oldest first."""
        try:
            names = [n for n in os.listdir(self.directory) if _parse_name(n) is not None]
        except OSError:
            return []
        names.sort(key=lambda n: _parse_name(n) or ("", 0))
        return [os.path.join(self.directory, n) for n in names]

    def entries(self) -> Iterator[LedgerEntry]:
        """Every recorded batch, oldest first (lines that do not parse are skipped)."""
        for path in self.files():
            try:
                with open(path, encoding="utf-8", errors="replace") as file:
                    lines = file.read().splitlines()
            except OSError:
                continue
            for line in lines:
                entry = _parse_line(line)
                if entry is not None:
                    yield entry

    def _current(self, now: float, size: int) -> str:
        """The file to append to: today's newest, unless full."""
        day = time.strftime("%Y%m%d", time.gmtime(now))
        today = [p for p in self.files() if os.path.basename(p).startswith(day + "-")]
        if today:
            newest = today[-1]
            try:
                full = os.path.getsize(newest) + size > self.limits.file_bytes
            except OSError:
                full = False
            if not full:
                return newest
            seq = (_parse_name(os.path.basename(newest)) or (day, 0))[1] + 1
        else:
            seq = 1
        return os.path.join(self.directory, f"{day}-{seq:04d}{_SUFFIX}")

    def _prune(self, now: float, keep: str) -> None:
        """Delete files past the age cap, then the oldest while over the size cap.

        Room is kept for ``keep`` to fill up to ``file_bytes``: pruning runs only
        when a file is chosen, and the total stays within ``max_bytes`` until the next.
        """
        oldest_day = time.strftime("%Y%m%d", time.gmtime(now - self.limits.max_days * 86400))
        sized = []
        for path in self.files():
            parsed = _parse_name(os.path.basename(path))
            if path != keep and parsed is not None and parsed[0] < oldest_day:
                unlink_quietly(path)
                continue
            try:
                sized.append((path, os.path.getsize(path)))
            except OSError:
                continue
        total = sum(size for path, size in sized if path != keep)
        budget = self.limits.max_bytes - self.limits.file_bytes
        for path, size in sized:
            if total <= budget:
                break
            if path != keep:
                unlink_quietly(path)
                total -= size


def _parse_name(name: str) -> tuple[str, int] | None:
    """``(day, sequence)`` of a ledger file name, or ``None`` for anything else."""
    if not name.endswith(_SUFFIX):
        return None
    day, _, seq = name[: -len(_SUFFIX)].partition("-")
    if len(day) != 8 or not day.isdigit() or not seq.isdigit():
        return None
    return day, int(seq)


def _parse_line(line: str) -> LedgerEntry | None:
    """One line: the head's fields, then the body exactly as written."""
    cut = line.find(_BODY.decode())  # the head's strings are escaped: the first one is ours
    if cut < 0 or not line.endswith("}"):
        return None
    try:
        head = json.loads(line[:cut] + "}")
        return LedgerEntry(
            str(head["at"]),
            str(head["mode"]),
            str(head["endpoint"]),
            int(head["events"]),
            line[cut + len(_BODY) : -1],
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
