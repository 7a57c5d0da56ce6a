"""The HTTP client's parts: endpoint parsing, bounded DNS, response framing on raw sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

import pigeon
from pigeon._connection import Connection, RequestError, Response
from pigeon._endpoint import parse_endpoint
from pigeon._http import HTTPTransport
from pigeon._resolve import AddressInfo, ResolveError, Resolver

# -- endpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8642", ("127.0.0.1", 8642, "", False, "127.0.0.1:8642")),
        (
            "https://telemetry.example.org/",
            ("telemetry.example.org", 443, "", True, "telemetry.example.org"),
        ),
        (
            "HTTPS://t.example.org:8443/base/path/",
            ("t.example.org", 8443, "/base/path", True, "t.example.org:8443"),
        ),
        ("http://[::1]:9000/x", ("::1", 9000, "/x", False, "[::1]:9000")),
        ("http://[::1]", ("::1", 80, "", False, "[::1]")),
    ],
)
def test_endpoints_are_split_without_urllib(
    url: str, expected: tuple[str, int, str, bool, str]
) -> None:
    endpoint = parse_endpoint(url)
    host_header = endpoint.host_header
    assert (endpoint.host, endpoint.port, endpoint.path, endpoint.https, host_header) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "telemetry.example.org",
        "ftp://telemetry.example.org",
        "http://",
        "http://:80",
        "http://host:0",
        "http://host:70000",
        "http://host:\uff18\uff10",  # full-width digits: isdigit() but not a port
        "http://user:secret@host",
        "http://host/path?query=1",
        "http://host/#fragment",
        "http://[::1",
        "http://[::1]x",
    ],
)
def test_malformed_endpoints_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ValueError, match="telemetry endpoint"):
        parse_endpoint(url)


def test_a_malformed_endpoint_variable_disables_telemetry_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = pigeon.Client(
        "argilla",
        "1.0",
        endpoint="https://telemetry.example.org",
        environ={"ARGILLA_TELEMETRY_ENDPOINT": "telemetry.internal:8642"},
    )
    assert not client.enabled
    assert "http:// or https://" in (client.disabled_reason or "")
    assert len([r for r in caplog.records if "telemetry endpoint" in r.getMessage()]) == 1
    client.track("ServerStarted")  # a no-op, as when disabled for any other reason


# -- DNS with a deadline -----------------------------------------------------------------------


def test_a_lookup_that_never_returns_is_abandoned_at_the_deadline() -> None:
    # getaddrinfo cannot be made to hang on demand without a DNS server, so the
    # blocking call is stood in for by one that waits for the test's signal.
    release = threading.Event()
    calls: list[str] = []

    def stuck_lookup(host: str, port: int) -> Sequence[AddressInfo]:
        calls.append(host)
        release.wait(30)
        return socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_STREAM)

    resolver = Resolver(stuck_lookup)
    for _ in range(3):
        start = time.monotonic()
        with pytest.raises(ResolveError) as caught:
            resolver.resolve("collector.internal", 80, time.monotonic() + 0.1)
        assert caught.value.timed_out
        assert time.monotonic() - start < 5.0  # loose: the point is that it returns
    assert calls == ["collector.internal"]  # one look-up in flight, not one per attempt
    release.set()
    deadline = time.monotonic() + 10
    while True:  # the look-up finishes on its own thread; then the answer is cached
        try:
            [info] = resolver.resolve("collector.internal", 80, time.monotonic() + 1)
            break
        except ResolveError:
            assert time.monotonic() < deadline
    assert info[4] == ("127.0.0.1", 80)
    assert calls == ["collector.internal"]


def test_ip_literals_and_real_names_resolve() -> None:
    resolver = Resolver()
    deadline = time.monotonic() + 5
    assert resolver.resolve("127.0.0.1", 80, deadline)[0][4] == ("127.0.0.1", 80)
    assert resolver.resolve("localhost", 80, deadline)
    with pytest.raises(ResolveError):
        resolver.resolve("pigeon-test.invalid", 80, time.monotonic() + 5)


# -- response framing --------------------------------------------------------------------------


class Canned:
    """A raw server on 127.0.0.1: answers each connection with the next canned bytes."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                if self.answers:
                    conn.sendall(self.answers.pop(0))

    def close(self) -> None:
        self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    yield server
    server.close()


def _request(canned: Canned, answer: bytes) -> Response:
    canned.answers.append(answer)
    conn = Connection(parse_endpoint(canned.url))
    try:
        return conn.request("POST", "/v1/batch", "", b"{}", time.monotonic() + 5)
    finally:
        conn.close()


def test_a_chunked_answer_is_read_whole(canned: Canned) -> None:
    body = b'{"success":true,"accepted":1,"rejected":[{"index":0,"reason":"x"}]}'
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    response = _request(
        canned,
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
    )
    assert (response.status, response.body) == (200, body)


def test_an_answer_delimited_by_closing_is_read_whole(canned: Canned) -> None:
    response = _request(canned, b"HTTP/1.0 503 Busy\r\nRetry-After: 7\r\n\r\nlater")
    assert (response.status, response.headers["retry-after"], response.body) == (503, "7", b"later")


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "protocol"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n", "protocol"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "network"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000, "protocol"),
        (b"", "network"),
    ],
    ids=["not-http", "bad-length", "truncated", "endless-head", "closed"],
)
def test_malformed_answers_are_classified_not_raised(
    canned: Canned, answer: bytes, kind: str
) -> None:
    with pytest.raises(RequestError) as caught:
        _request(canned, answer)
    assert caught.value.kind == kind


def test_the_transport_turns_every_answer_into_a_delivery(canned: Canned) -> None:
    transport = HTTPTransport(canned.url, "key")
    canned.answers.append(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
    outcome = transport.send(['{"type":"track"}'], 5)
    assert (outcome.delivered, outcome.retry, outcome.reason) == (False, False, "http_413")
    canned.answers.append(
        b"HTTP/1.1 502 Bad Gateway\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n"
    )
    outcome = transport.send(['{"type":"track"}'], 5)
    assert (outcome.delivered, outcome.retry, outcome.retry_after) == (False, True, 3.0)
    canned.answers.append(b"garbage\r\n\r\n")
    outcome = transport.send(['{"type":"track"}'], 5)
    assert (outcome.delivered, outcome.retry, outcome.reason) == (False, True, "protocol")
    transport.close()
