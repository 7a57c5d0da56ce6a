"""Name resolution with a deadline.

``socket.getaddrinfo`` has no timeout of its own: with a dead DNS server it
blocks for the resolver's full retry schedule (often 20 s or more). The
look-up therefore runs on a helper daemon thread and the caller waits for it
only until its deadline. At most one look-up per host is in flight: a caller
that gives up leaves it running, and the next caller waits on the same one
instead of starting another thread. Results are cached for a few minutes.
"""

from __future__ import annotations

# getaddrinfo encodes every host name with the idna codec, whose module the
# codec registry imports on first use: import it here, not on the look-up thread.
import encodings.idna  # noqa: F401
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["AddressInfo", "ResolveError", "Resolver"]

AddressInfo = tuple[Any, ...]
"""One ``getaddrinfo`` entry: ``(family, type, proto, canonname, sockaddr)``."""

Lookup = Callable[[str, int], Sequence[AddressInfo]]
"""The blocking look-up a :class:`Resolver` runs on its helper thread."""

CACHE_SECONDS = 300.0
"""How long a successful look-up is reused."""


class ResolveError(OSError):
    """The name could not be resolved before the deadline (``timed_out``) or at all."""

    def __init__(self, host: str, reason: str, *, timed_out: bool = False) -> None:
        """Describe the failure for ``host``."""
        super().__init__(f"cannot resolve {host!r}: {reason}")
        self.timed_out = timed_out


def _getaddrinfo(host: str, port: int) -> Sequence[AddressInfo]:
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


class _Pending:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Sequence[AddressInfo] = ()
        self.error: str = ""


class Resolver:
    """Resolves host names within a deadline; IP literals never touch DNS."""

    def __init__(self, lookup: Lookup = _getaddrinfo) -> None:
        """Use ``lookup`` (``getaddrinfo`` for TCP) on the helper thread."""
        self._lookup = lookup
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], tuple[float, Sequence[AddressInfo]]] = {}
        self._pending: dict[tuple[str, int], _Pending] = {}

    def after_fork(self) -> None:
        """Forget look-ups whose threads did not survive the fork."""
        self._lock = threading.Lock()
        self._pending = {}

    def prefetch(self, host: str, port: int) -> None:
        """Start a look-up now so that a later :meth:`resolve` (maybe at exit) is instant."""
        if _numeric(host, port) is None and self._cached((host, port)) is None:
            self._start((host, port))

    def resolve(self, host: str, port: int, deadline: float) -> Sequence[AddressInfo]:
        """The addresses of ``host``, or :class:`ResolveError` by ``deadline`` (monotonic)."""
        numeric = _numeric(host, port)
        if numeric is not None:
            return numeric
        key = (host, port)
        cached = self._cached(key)
        if cached is not None:
            return cached
        pending = self._start(key)
        if not pending.done.wait(max(0.0, deadline - time.monotonic())):
            raise ResolveError(host, "timed out", timed_out=True)
        if pending.error:
            raise ResolveError(host, pending.error)
        return pending.result

    def _cached(self, key: tuple[str, int]) -> Sequence[AddressInfo] | None:
        entry = self._cache.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    def _start(self, key: tuple[str, int]) -> _Pending:
        with self._lock:
            pending = self._pending.get(key)
            if pending is not None:
                return pending
            pending = _Pending()
            self._pending[key] = pending
        try:
            thread = threading.Thread(
                target=self._run, args=(key, pending), name="pigeon-resolve", daemon=True
            )
            thread.start()
        except RuntimeError as exc:  # no new threads at interpreter shutdown (3.12+)
            self._finish(key, pending, error=str(exc))
        return pending

    def _run(self, key: tuple[str, int], pending: _Pending) -> None:
        try:
            result = self._lookup(*key)
        except (OSError, UnicodeError, ValueError) as exc:
            self._finish(key, pending, error=str(exc) or type(exc).__name__)
            return
        if not result:
            self._finish(key, pending, error="no address")
            return
        self._cache[key] = (time.monotonic() + CACHE_SECONDS, result)
        self._finish(key, pending, result=result)

    def _finish(
        self,
        key: tuple[str, int],
        pending: _Pending,
        *,
        result: Sequence[AddressInfo] = (),
        error: str = "",
    ) -> None:
        pending.result = result
        pending.error = error
        with self._lock:
            if self._pending.get(key) is pending:
                del self._pending[key]
        pending.done.set()


def _numeric(host: str, port: int) -> Sequence[AddressInfo] | None:
    """The address of an IP literal, without any DNS traffic; ``None`` for a name."""
    try:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
