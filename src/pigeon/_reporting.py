"""What the host can see of delivery: counters, and at most one warning per kind.

Telemetry must stay quiet: a failure is logged once per kind per process (a
dead collector does not fill the host's logs), and everything else is counted
in :class:`Counters`, which ``pigeon.Client.counters`` exposes.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["Counters", "logger", "warn_once"]

logger = logging.getLogger("pigeon")

_warned: set[str] = set()  # per process, whichever client: one warning per kind
_MAX_KINDS = 256


def warn_once(kind: str, message: str) -> None:
    """Log ``message`` at most once per ``kind`` per process."""
    if kind in _warned or len(_warned) >= _MAX_KINDS:
        return
    _warned.add(kind)
    logger.warning("pigeon: %s", message)


def warned(kind: str) -> bool:
    """Whether the warning of ``kind`` was logged in this process."""
    return kind in _warned


class Counters:
    """Thread-safe event counts by outcome; ``overflow`` is cheap enough for ``track()``."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.overflowed = 0

    def add(self, key: str, n: int = 1) -> None:
        """Count ``n`` more under ``key``."""
        if n:
            with self._lock:
                self._counts[key] = self._counts.get(key, 0) + n

    def get(self, key: str) -> int:
        """The count under ``key``."""
        return self._counts.get(key, 0)

    def overflow(self) -> bool:
        """Count one event dropped because the queue was full; True for the first one."""
        with self._lock:
            self.overflowed += 1
            return self.overflowed == 1

    def snapshot(self) -> dict[str, int]:
        """A copy of every non-zero count."""
        with self._lock:
            counts = dict(self._counts)
            if self.overflowed:
                counts["dropped_queue_full"] = self.overflowed
        return counts
