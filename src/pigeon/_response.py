"""Reading one HTTP/1.1 response from a socket, every read bounded by one deadline.

Just enough HTTP for a collector's answer: ``Content-Length``, chunked or
close-delimited bodies, informational (1xx) responses skipped, keep-alive or
not. Anything else is a :class:`RequestError` of kind ``protocol``.
"""

from __future__ import annotations

import socket
import time
from typing import NamedTuple

__all__ = ["MAX_BODY_BYTES", "MAX_HEAD_BYTES", "RequestError", "Response", "read_response"]

MAX_HEAD_BYTES = 64 * 1024
"""A response head longer than this is a protocol error."""
MAX_BODY_BYTES = 1024 * 1024
"""A response body longer than this is a protocol error (a collector answers a few bytes)."""


class RequestError(OSError):
    """A request failed before a complete response arrived.

    Attributes:
        kind: ``dns``, ``connect``, ``timeout``, ``tls``, ``network`` or ``protocol``.
        detail: what happened, for a human.
        unanswered: nothing at all came back, so resending on a fresh
            connection is safe when a reused keep-alive connection was stale.
    """

    def __init__(self, kind: str, detail: str, *, unanswered: bool = False) -> None:
        """Record the kind of failure and a short human detail."""
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.unanswered = unanswered


class Response(NamedTuple):
    """A complete HTTP response: status, lower-cased headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes


def set_deadline(sock: socket.socket, deadline: float) -> None:
    """Set the socket's timeout to what is left before ``deadline`` (TimeoutError: none)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    sock.settimeout(left)


def read_response(sock: socket.socket, deadline: float, method: str) -> tuple[Response, bool]:
    """Read one response; also say whether the connection may be reused."""
    reader = _Reader(sock, deadline)
    while True:
        head = reader.head()
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise RequestError("protocol", f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        if status >= 200:
            break  # 1xx (100 Continue, 103 Early Hints) precede the real response
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if method == "HEAD" or status in (204, 304):
        return Response(status, headers, b""), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Response(status, headers, reader.chunked()), keep
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise RequestError("protocol", f"bad Content-Length {length[:20]!r}")
        return Response(status, headers, reader.exactly(int(length))), keep
    return Response(status, headers, reader.until_close()), False


class _Reader:
    """Buffered reads from a socket, each bounded by the request's deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buf = bytearray()
        self._received = False

    def _fill(self) -> bool:
        set_deadline(self._sock, self._deadline)
        chunk = self._sock.recv(65536)
        if not chunk:
            return False
        self._received = True
        self._buf += chunk
        return True

    def _closed(self) -> RequestError:
        return RequestError(
            "network", "connection closed by the server", unanswered=not self._received
        )

    def head(self) -> bytes:
        start = 0
        while True:
            end = self._buf.find(b"\r\n\r\n", start)
            if end >= 0:
                head = bytes(self._buf[:end])
                del self._buf[: end + 4]
                return head
            if len(self._buf) > MAX_HEAD_BYTES:
                raise RequestError("protocol", "response head too long")
            start = max(0, len(self._buf) - 3)
            if not self._fill():
                raise self._closed()

    def exactly(self, size: int) -> bytes:
        while len(self._buf) < size:
            if not self._fill():
                raise self._closed()
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                data = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return data
            if len(self._buf) > MAX_HEAD_BYTES:
                raise RequestError("protocol", "chunk header too long")
            if not self._fill():
                raise self._closed()

    def chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_text = self.line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise RequestError("protocol", "bad chunk size") from None
            if size == 0:
                while self.line():  # trailers, up to the empty line
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise RequestError("protocol", "response body too long")
            body += self.exactly(size)
            self.exactly(2)

    def until_close(self) -> bytes:
        while self._fill():
            if len(self._buf) > MAX_BODY_BYTES:
                raise RequestError("protocol", "response body too long")
        data = bytes(self._buf)
        self._buf.clear()
        return data
