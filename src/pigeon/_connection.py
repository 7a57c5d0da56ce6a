"""One keep-alive HTTP/1.1 connection whose every step obeys one deadline.

``http.client`` applies its timeout to each socket operation, so a server that
trickles bytes can hold it for ever, and it leaves DNS unbounded. This small
client resolves through :class:`~pigeon._resolve.Resolver`, then connects,
handshakes, sends and reads with the socket timeout set to what is left of the
request's deadline before each step. It speaks just enough HTTP/1.1 for a
collector: ``Content-Length``, chunked or close-delimited bodies, keep-alive.

Errors are :class:`RequestError` with a short ``kind`` for counters:
``dns``, ``connect``, ``timeout``, ``tls``, ``network``, ``protocol``.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import TypeVar

from pigeon._endpoint import Endpoint
from pigeon._resolve import ResolveError, Resolver
from pigeon._response import RequestError, Response, read_response, set_deadline

__all__ = ["Connection", "Exchange", "RequestError", "Response"]

_T = TypeVar("_T")


class Exchange:
    """One request in flight (see :meth:`Connection.begin`)."""

    __slots__ = ("body", "deadline", "head", "method", "reused")

    def __init__(
        self, method: str, head: bytes, body: bytes, deadline: float, reused: bool
    ) -> None:
        """Remember what to resend if a reused connection turns out to be stale."""
        self.method = method
        self.head = head
        self.body = body
        self.deadline = deadline
        self.reused = reused

    def may_resend(self, error: RequestError) -> bool:
        """Whether to try once more on a fresh connection (only once, only if unanswered)."""
        if not (self.reused and error.unanswered and time.monotonic() < self.deadline):
            return False
        self.reused = False
        return True


class Connection:
    """A lazily opened, reused connection to one endpoint (one thread at a time)."""

    def __init__(self, endpoint: Endpoint, resolver: Resolver | None = None) -> None:
        """Prepare to talk to ``endpoint``; nothing is opened yet."""
        self.endpoint = endpoint
        self.resolver = resolver or Resolver()
        self._sock: socket.socket | None = None
        self._tls: ssl.SSLContext | None = None

    def request(
        self, method: str, path: str, headers: str, body: bytes, deadline: float
    ) -> Response:
        """Send one request and read its response by ``deadline`` (monotonic seconds).

        ``headers`` are complete header lines (each ending in CRLF) besides
        ``Host`` and ``Content-Length``. A stale keep-alive connection is
        replaced once, transparently.
        """
        return self.finish(self.begin(method, path, headers, body, deadline))

    def begin(self, method: str, path: str, headers: str, body: bytes, deadline: float) -> Exchange:
        """Send a request without waiting for its response (read it with :meth:`finish`).

        The caller may work meanwhile (build the next batch) while the server answers.
        """
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.endpoint.host_header}\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        reused = self._sock is not None and not _stale(self._sock)
        if not reused:
            self.close()
        exchange = Exchange(method, head, body, deadline, reused)
        try:
            self._guarded(self._send, exchange)
        except RequestError as exc:
            if not exchange.may_resend(exc):
                raise
            self._guarded(self._send, exchange)  # the server closed the idle connection
        return exchange

    def finish(self, exchange: Exchange) -> Response:
        """Read the response to a request sent with :meth:`begin`."""
        try:
            response, keep = self._guarded(self._receive, exchange)
        except RequestError as exc:
            if not exchange.may_resend(exc):
                raise
            self._guarded(self._send, exchange)
            response, keep = self._guarded(self._receive, exchange)
        if not keep:
            self.close()
        return response

    def _send(self, exchange: Exchange) -> None:
        sock = self._sock if self._sock is not None else self._open(exchange.deadline)
        set_deadline(sock, exchange.deadline)
        if len(exchange.body) < 256 * 1024:
            sock.sendall(exchange.head + exchange.body)  # one segment for small requests
        else:  # a large body: no extra copy
            sock.sendall(exchange.head)
            set_deadline(sock, exchange.deadline)
            sock.sendall(exchange.body)

    def _receive(self, exchange: Exchange) -> tuple[Response, bool]:
        sock = self._sock
        if sock is None:
            raise RequestError("network", "connection lost", unanswered=True)
        return read_response(sock, exchange.deadline, exchange.method)

    def _guarded(self, step: Callable[[Exchange], _T], exchange: Exchange) -> _T:
        """Run one step; on any failure close the connection and raise :class:`RequestError`."""
        try:
            return step(exchange)
        except RequestError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise RequestError("timeout", "no response before the deadline") from None
        except ssl.SSLError as exc:
            self.close()
            raise RequestError("tls", str(exc)) from None
        except OSError as exc:
            self.close()
            # Reset or broken pipe before any answer: a stale keep-alive connection.
            raise RequestError("network", _describe(exc), unanswered=True) from None

    def abort(self) -> None:
        """Wake a request blocked in another thread (it fails with ``network``)."""
        sock = self._sock
        if sock is not None:
            try:  # noqa: SIM105  # contextlib is not imported by the SDK
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:  # noqa: SIM105  # contextlib is not imported by the SDK
                sock.close()
            except OSError:
                pass

    def after_fork(self) -> None:
        """Let go of the parent's socket: close this process's copy, never shut it down.

        ``close`` only drops the child's reference to the connection (the parent
        keeps using it); ``shutdown`` would end it for both.
        """
        self.close()
        self.resolver.after_fork()

    def _open(self, deadline: float) -> socket.socket:
        endpoint = self.endpoint
        try:
            infos = self.resolver.resolve(endpoint.host, endpoint.port, deadline)
        except ResolveError as exc:
            raise RequestError("timeout" if exc.timed_out else "dns", str(exc)) from None
        last: RequestError | None = None
        for index, (family, kind, proto, _name, address) in enumerate(infos):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Leave time for the other addresses when one of them is black-holed.
            share = left if index == len(infos) - 1 else max(left / 2, min(left, 0.5))
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(share)
                sock.connect(address)
            except TimeoutError:
                sock.close()
                last = RequestError("timeout", f"connect to {endpoint.url} timed out")
                continue
            except OSError as exc:
                sock.close()
                last = RequestError("connect", _describe(exc))
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if endpoint.https:
                sock = self._handshake(sock, deadline)
            self._sock = sock
            return sock
        raise last or RequestError("timeout", f"connect to {endpoint.url} timed out")

    def _handshake(self, sock: socket.socket, deadline: float) -> socket.socket:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        tls: ssl.SSLSocket | None = None
        try:
            tls = self._tls.wrap_socket(
                sock, server_hostname=self.endpoint.host, do_handshake_on_connect=False
            )
            set_deadline(tls, deadline)
            tls.do_handshake()
        except TimeoutError:
            (tls or sock).close()  # the wrapper owns the file descriptor once made
            raise RequestError("timeout", "TLS handshake timed out") from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            (tls or sock).close()
            raise RequestError("tls", str(exc)) from None
        except OSError as exc:
            (tls or sock).close()
            raise RequestError("network", _describe(exc)) from None
        return tls


def _stale(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable was closed (or spoke out of turn)."""
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
