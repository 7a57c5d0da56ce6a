"""When the sender may try the collector again.

After a transient failure (network error, timeout, 429, 5xx) the next attempt
waits ``base * 2**(n-1)`` seconds (capped, with jitter), or longer when the
collector sent ``Retry-After``. After ``attempts`` failures in a row the sender
stops for hours (``long``, doubling up to ``long_cap``): a host with no route
to the collector then makes a handful of connection attempts a day.

The state is kept in a small file next to the install id, so that short-lived
processes (CLI runs on an air-gapped host) share it instead of each making a
fresh attempt. The file names the endpoint it is about: pointing the app at
another collector starts afresh.
"""

from __future__ import annotations

import os
import random
import time
from typing import NamedTuple

__all__ = ["BACKOFF_FILENAME", "Backoff", "BackoffPolicy"]

BACKOFF_FILENAME = "telemetry_backoff"
"""The back-off state file, next to ``telemetry_id``."""

_MAGIC = "pigeon-backoff 1"


class BackoffPolicy(NamedTuple):
    """How long to wait after failures.

    Attributes:
        base: the first retry delay, in seconds.
        cap: the longest delay between quick retries.
        attempts: failures in a row before the long back-off starts.
        long: the first long back-off, in seconds.
        long_cap: the longest long back-off.
    """

    base: float = 1.0
    cap: float = 60.0
    attempts: int = 5
    long: float = 3600.0
    long_cap: float = 86400.0


class Backoff:
    """The failure streak and the time before which no attempt is made."""

    def __init__(self, policy: BackoffPolicy, path: str | None, endpoint: str) -> None:
        """Track failures for ``endpoint``; persist them in ``path`` (``None``: memory only)."""
        self.policy = policy
        self.path = path
        self.endpoint = endpoint
        self.failures = 0
        self.level = 0
        self.until = 0.0
        self._on_disk = False

    def load(self) -> None:
        """Adopt the state another process left in the file (a bad file is ignored)."""
        if self.path is None:
            return
        try:
            with open(self.path, encoding="utf-8") as file:
                lines = file.read(4096).split("\n")
        except (OSError, ValueError):
            return
        self._on_disk = True
        if len(lines) < 5 or lines[0] != _MAGIC or lines[4] != self.endpoint:
            return
        try:
            until, failures, level = float(lines[1]), int(lines[2]), int(lines[3])
        except ValueError:
            return
        now = time.time()
        # A date further out than the policy allows means the clock moved: ignore it.
        if until - now > self.policy.long_cap * 1.5 or failures < 0 or level < 0:
            return
        self.until, self.failures, self.level = until, failures, level

    def wait(self, now: float | None = None) -> float:
        """Seconds before the next attempt is allowed (0 when it is)."""
        return max(0.0, self.until - (time.time() if now is None else now))

    @property
    def long(self) -> bool:
        """Whether the sender is in the long (hours) back-off."""
        return self.failures >= self.policy.attempts

    def success(self) -> None:
        """The collector answered: forget the streak."""
        if self.failures or self.until:
            self.failures = self.level = 0
            self.until = 0.0
        if self._on_disk and self.path is not None:
            self._on_disk = False
            try:  # noqa: SIM105  # contextlib is not imported by the SDK
                os.unlink(self.path)
            except OSError:
                pass

    def failure(self, retry_after: float | None = None) -> float:
        """Record a failed attempt; return the delay before the next one."""
        policy = self.policy
        self.failures += 1
        if self.failures >= policy.attempts:
            delay = min(policy.long * 2.0**self.level, policy.long_cap)
            delay *= random.uniform(0.9, 1.1)
            self.level += 1
        else:
            delay = min(policy.base * 2.0 ** (self.failures - 1), policy.cap)
            delay *= random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.until = time.time() + delay
        self._save()
        return delay

    def _save(self) -> None:
        if self.path is None:
            return
        text = f"{_MAGIC}\n{self.until:.3f}\n{self.failures}\n{self.level}\n{self.endpoint}\n"
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, text.encode("utf-8"))
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            self._on_disk = True
        except (OSError, ValueError):
            try:  # noqa: SIM105
                os.unlink(tmp)
            except OSError:
                pass
