"""A switchable front on 127.0.0.1 that plays every way a collector can fail.

Modes: ``ok`` (forward to the real collector), ``refused`` (nothing listens),
``blackhole`` (accept, never answer), ``slow`` (answer after ``delay``
seconds), ``500``, ``429`` (``Retry-After: 1``), ``garbage`` (bytes that are
not HTTP, then close). With ``tls`` set, connections are TLS with whichever
certificate ``tls`` holds at the time (an untrusted one plays a TLS failure).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time

_POLL = 0.05


class FaultyFront:
    """Forwards HTTP requests to ``upstream`` (``http://host:port``), or fails as told."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.mode = "ok"
        self.delay = 0.0
        self.tls: ssl.SSLContext | None = None
        self.requests = 0
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.listen()
        self._thread.start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def listen(self) -> None:
        """(Re)open the listening socket on the same port."""
        if self._listener is None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(64)
            sock.settimeout(_POLL)
            self._listener = sock

    def set_mode(self, mode: str) -> None:
        """Switch to ``mode``; ``refused`` closes the listening socket."""
        self.mode = mode
        if mode == "refused":
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        else:
            self.listen()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        for sock in self._held:
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(_POLL)
                continue
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while not self._closed.is_set():
                request = _read_request(conn)
                if request is None:
                    return
                self.requests += 1
                if not self._answer(conn, *request):
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            if self.mode != "blackhole":
                conn.close()

    def _answer(self, conn: socket.socket, head: bytes, body: bytes) -> bool:
        mode = self.mode
        if mode == "blackhole":
            self._held.append(conn)
            self._closed.wait(60)
            return False
        if mode == "garbage":
            conn.sendall(b"\x00\xffNOT HTTP AT ALL\r\n\r\n\x17\x03")
            return False
        if mode in ("500", "429"):
            status = b"500 Internal Server Error" if mode == "500" else b"429 Too Many Requests"
            payload = b'{"code": "x", "message": "failure played by the test"}'
            conn.sendall(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Retry-After: 1\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
            )
            return True
        if mode == "slow":
            self._closed.wait(self.delay)
        conn.sendall(self._forward(head, body))
        return True

    def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        host, port = self.upstream.rsplit(":", 1)
        upstream = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            upstream.request(method, path, body=body, headers=headers)
            reply = upstream.getresponse()
            payload = reply.read()
        finally:
            upstream.close()
        return (
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (reply.status, reply.reason.encode(), len(payload))
            + payload
        )


def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body
