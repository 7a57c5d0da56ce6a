"""Small measuring tools of the hardening suite: a process's memory, raw sockets, a deadline."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def host_port(url: str) -> tuple[str, int]:
    """``("127.0.0.1", 8642)`` from ``http://127.0.0.1:8642``."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def raw_exchange(url: str, data: bytes, timeout: float = 30.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes or goes quiet."""
    with socket.create_connection(host_port(url), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock)


def read_answer(sock: socket.socket, received: bytes = b"") -> bytes:
    """Read one whole response (``received`` is what already arrived): headers and body.

    A response can arrive in several segments (headers, then the body), so one
    ``recv`` is not enough; this reads until the Content-Length is satisfied, the
    server closes, or the socket's timeout passes.
    """
    answer = bytearray(received)
    try:
        while not (b"\r\n\r\n" in answer and _complete(bytes(answer))):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return bytes(answer)


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response (0 when there is none)."""
    parts = response.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
