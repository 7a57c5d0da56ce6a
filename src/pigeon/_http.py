"""The HTTP transport: gzip-compressed Segment-style batches to a pigeon collector.

``POST {endpoint}/v1/batch`` with the write key as the HTTP Basic user name
and an empty password, over one keep-alive connection. Imported when an
enabled client is built, on the caller's thread (never at ``import pigeon``,
never on the sender thread: see ``pigeon._client``).

Outcomes (a :class:`~pigeon._transports.Delivery`): 2xx delivered (events the
collector lists as ``rejected`` are counted); network errors, timeouts, 429
and 5xx retried later, honouring ``Retry-After``; any other status dropped.
"""

from __future__ import annotations

import base64
import json
import math
import time
import zlib
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

from pigeon._connection import Connection, Exchange, RequestError
from pigeon._endpoint import Endpoint, parse_endpoint
from pigeon._transports import Delivery
from pigeon._version import __version__
from pigeon._wire import encode_batch

__all__ = ["GZIP_LEVEL", "HTTPTransport", "parse_retry_after"]

GZIP_LEVEL = 1
"""zlib level for batch bodies: level 1 is 3-4 times faster than 6 on telemetry
batches (repetitive JSON) for a body about 10 % larger (see the benchmark)."""

MAX_RETRY_AFTER = 24 * 3600.0
"""A ``Retry-After`` beyond a day is read as a day."""


class HTTPTransport:
    """Delivers batches to a collector over HTTP(S); one sender thread at a time."""

    def __init__(self, endpoint: str | Endpoint, write_key: str) -> None:
        """Prepare requests to ``endpoint`` (a URL or a parsed :class:`Endpoint`).

        Raises:
            ValueError: ``endpoint`` is not an http(s) URL.
        """
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else parse_endpoint(endpoint)
        token = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
        self._auth = f"Authorization: Basic {token}\r\n"
        self._batch_headers = (
            f"{self._auth}Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Accept: application/json\r\nUser-Agent: pigeon/{__version__}\r\n"
        )
        self._connection = Connection(self.endpoint)

    def warm(self) -> None:
        """Start resolving the collector's name in the background (the exit flush may need it)."""
        self._connection.resolver.prefetch(self.endpoint.host, self.endpoint.port)

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Send one batch within ``timeout`` seconds (DNS included); never raise."""
        return self.start(messages, timeout)()

    def start(self, messages: list[str], timeout: float) -> Callable[[], Delivery]:
        """Send one batch now; the returned function waits for the answer (never raises).

        The sender builds its next batch in between, while the collector works.
        """
        deadline = time.monotonic() + timeout
        raw = encode_batch(messages)
        body = zlib.compress(raw, GZIP_LEVEL, wbits=31)
        try:
            exchange = self._connection.begin(
                "POST", f"{self.endpoint.path}/v1/batch", self._batch_headers, body, deadline
            )
        except RequestError as exc:
            failed = _failure(exc)
            return lambda: failed
        return lambda: self._finish(exchange, raw)

    def _finish(self, exchange: Exchange, raw: bytes) -> Delivery:
        try:
            response = self._connection.finish(exchange)
        except RequestError as exc:
            return _failure(exc)
        status = response.status
        if 200 <= status < 300:
            return Delivery(delivered=True, rejected=_count_rejected(response.body), body=raw)
        retry = status in (408, 429) or status >= 500
        return Delivery(
            delivered=False,
            retry=retry,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            reason=f"http_{status}",
            detail=_error_message(response.body),
        )

    def forget(self, anonymous_id: str, timeout: float) -> bool:
        """Ask the collector to delete an install's events: ``DELETE /v1/installs/{id}``.

        Uses its own connection, so it may run on any thread. True when the
        collector confirmed (2xx) or had nothing under that id (404).
        """
        connection = Connection(self.endpoint, self._connection.resolver)
        headers = f"{self._auth}Accept: application/json\r\nUser-Agent: pigeon/{__version__}\r\n"
        try:
            response = connection.request(
                "DELETE",
                f"{self.endpoint.path}/v1/installs/{anonymous_id}",
                headers,
                b"",
                time.monotonic() + timeout,
            )
        except RequestError:
            return False
        finally:
            connection.close()
        return 200 <= response.status < 300 or response.status == 404

    def abort(self) -> None:
        """Make a request blocked on the sender thread fail now (exit, shutdown)."""
        self._connection.abort()

    def close(self) -> None:
        """Close the keep-alive connection."""
        self._connection.close()

    def after_fork(self) -> None:
        """In a forked child: never touch the parent's connection."""
        self._connection.after_fork()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
            if when.tzinfo is None:  # "-0000": UTC, whatever the host's zone
                when = when.replace(tzinfo=UTC)
            seconds = when.timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _failure(exc: RequestError) -> Delivery:
    return Delivery(delivered=False, retry=True, reason=exc.kind, detail=exc.detail)


def _count_rejected(body: bytes) -> int:
    """How many events a 200 answer lists under ``rejected`` (0 when it lists none)."""
    if b'"rejected"' not in body:
        return 0
    try:
        rejected = json.loads(body).get("rejected")
    except (ValueError, AttributeError):
        return 0
    return len(rejected) if isinstance(rejected, list) else 0


def _error_message(body: bytes) -> str:
    """The collector's ``code`` and ``message``, for the one warning of each failure kind."""
    if not body.startswith(b"{"):
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(data[k])[:200] for k in ("code", "message") if isinstance(data.get(k), str)]
    return ": ".join(parts)
