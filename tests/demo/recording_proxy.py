"""A TCP proxy on 127.0.0.1 that records every byte a client sends through it.

Put between a telemetry sender and a collector, it shows exactly what left the
sender: the raw bytes, and each HTTP request decoded (headers, and the body
after ``Content-Encoding: gzip``), so that tests can search them for canaries.
"""

from __future__ import annotations

import gzip
import select
import socket
import threading
from types import TracebackType
from typing import NamedTuple

# Sockets are polled this often, so that closing the proxy never waits on a blocked call.
_POLL_SECONDS = 0.05


class HttpRequest(NamedTuple):
    """One HTTP/1.1 request as it crossed the proxy."""

    head: bytes
    body: bytes  # decompressed when the request said gzip


class RecordingProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, recording client→upstream bytes.

    With no upstream, it accepts and records but answers nothing (a sink).
    """

    def __init__(self, upstream_port: int | None) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(_POLL_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._streams: list[bytearray] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingProxy:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._acceptor.join(timeout=10)
        self._listener.close()
        for thread in list(self._threads):
            thread.join(timeout=10)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._streams)

    @property
    def raw(self) -> bytes:
        """Every byte any client sent, connection after connection."""
        with self._lock:
            return b"".join(bytes(s) for s in self._streams)

    def requests(self) -> list[HttpRequest]:
        """The HTTP requests clients sent, bodies decompressed."""
        with self._lock:
            streams = [bytes(s) for s in self._streams]
        found: list[HttpRequest] = []
        for stream in streams:
            found.extend(_split_requests(stream))
        return found

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            record = bytearray()
            with self._lock:
                self._streams.append(record)
            thread = threading.Thread(target=self._pump, args=(client, record), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, client: socket.socket, record: bytearray) -> None:
        upstream = None
        try:
            if self.upstream_port is not None:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            peers = [client] if upstream is None else [client, upstream]
            while not self._closed.is_set():
                ready, _, _ = select.select(peers, [], [], _POLL_SECONDS)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        with self._lock:
                            record.extend(data)
                        if upstream is not None:
                            upstream.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _split_requests(stream: bytes) -> list[HttpRequest]:
    requests: list[HttpRequest] = []
    rest = stream
    while rest:
        head, separator, after = rest.partition(b"\r\n\r\n")
        if not separator:
            requests.append(HttpRequest(rest, b""))
            break
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        body, rest = after[:length], after[length:]
        if headers.get(b"content-encoding") == b"gzip":
            body = gzip.decompress(body)
        requests.append(HttpRequest(head, body))
    return requests
