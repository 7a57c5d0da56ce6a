"""Local stand-ins for a collector, on real sockets bound to 127.0.0.1.

- :class:`Sink`: a threaded HTTP/1.1 server (keep-alive) that records every
  request and answers as scripted: 200 JSON by default, any status and
  headers, a slow answer, or none at all (hang until released).
- :class:`Blackhole`: accepts TCP connections and never reads or answers.
- :func:`refused_port`: a port on which nothing listens.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

HANG_LIMIT = 60.0  # a hung answer is released at the latest after this long (tests end first)


class Reply(NamedTuple):
    """How the sink answers one request.

    Attributes:
        status: the HTTP status.
        headers: extra response headers.
        body: the JSON body (default: a collector's success answer).
        delay: seconds to wait before answering (a slow server).
        hang: never answer (until the sink is closed).
        close_after: close the connection after answering, without saying so
            (an idle keep-alive connection the server dropped).
    """

    status: int = 200
    headers: dict[str, str] = {}  # noqa: RUF012  # never mutated
    body: dict[str, Any] | None = None
    delay: float = 0.0
    hang: bool = False
    close_after: bool = False


class Request(NamedTuple):
    """One request as the sink received it (``at``: ``time.monotonic()`` on arrival)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    payload: Any
    at: float
    client_port: int


class Sink:
    """A collector stand-in that records requests; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.acknowledged: list[Request] = []  # answered 2xx (recorded before the answer)
        self._script: list[Reply] = []
        self._changed = threading.Condition()
        self.released = threading.Event()
        self.answering = threading.Event()  # set when a request is being held (hang or delay)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                sink._handle(self)

            def do_DELETE(self) -> None:
                sink._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order (then 200 again)."""
        with self._changed:
            self._script.extend(replies)

    def batches(self) -> list[list[dict[str, Any]]]:
        with self._changed:
            return [
                r.payload["batch"]
                for r in self.requests
                if r.path.endswith("/v1/batch") and isinstance(r.payload, dict)
            ]

    def events(self) -> list[dict[str, Any]]:
        return [message for batch in self.batches() for message in batch]

    def delivered(self) -> list[dict[str, Any]]:
        """Every message of every batch the sink acknowledged (a collector stored them)."""
        with self._changed:
            return [
                message
                for r in self.acknowledged
                if r.path.endswith("/v1/batch") and isinstance(r.payload, dict)
                for message in r.payload["batch"]
            ]

    def wait_for(self, *, requests: int = 0, events: int = 0, timeout: float = 10.0) -> bool:
        """Wait until at least that many requests and events arrived (False on timeout)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self.requests) >= requests and self._event_count() >= events,
                timeout,
            )

    def _event_count(self) -> int:
        return sum(
            len(r.payload["batch"])
            for r in self.requests
            if isinstance(r.payload, dict) and isinstance(r.payload.get("batch"), list)
        )

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        request = Request(
            handler.command,
            handler.path,
            headers,
            raw,
            payload,
            time.monotonic(),
            handler.client_address[1],
        )
        with self._changed:
            reply = self._script.pop(0) if self._script else Reply()
            self.requests.append(request)
            self._changed.notify_all()
        if reply.hang or reply.delay:
            self.answering.set()
            if self.released.wait(HANG_LIMIT if reply.hang else reply.delay) or reply.hang:
                handler.close_connection = True
                return
        count = len(payload["batch"]) if isinstance(payload, dict) and "batch" in payload else 0
        answer = reply.body or {"success": True, "accepted": count, "rejected": []}
        data = json.dumps(answer).encode()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if 200 <= reply.status < 300:  # stored before the answer, as a collector does
            with self._changed:
                self.acknowledged.append(request)
                self._changed.notify_all()
        handler.end_headers()
        handler.wfile.write(data)
        if reply.close_after:
            handler.close_connection = True


class Blackhole:
    """Accepts connections and never reads or answers; use as a context manager."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.accepted = threading.Event()
        self.connections = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Blackhole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):  # wakes accept() (close alone does not, on Linux)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=10)
        for conn in self._held:
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)
            self.connections += 1
            self.accepted.set()


def refused_port() -> int:
    """A local port with no listener (connecting is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
