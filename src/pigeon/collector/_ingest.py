"""The ingestion endpoints' logic: admit, read, decode, judge, store, answer.

Order of checks, cheapest first: rate limit and load (429/503, before any
byte of the body is read), a write key given in the header (401), the body
(413/415/400), the JSON (400), a write key given in the body (401), then each
event. The 200 is sent only after the store committed the batch.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from pigeon.catalog import Catalog
from pigeon.collector._body import read_body
from pigeon.collector._config import MAX_EVENT_BYTES, MAX_ID_LENGTH, CollectorConfig
from pigeon.collector._errors import ApiError, json_response
from pigeon.collector._events import Sorting
from pigeon.collector._metrics import Metrics
from pigeon.collector._parsing import (
    Pick,
    parse_posthog,
    parse_segment_batch,
    parse_segment_track,
)
from pigeon.collector._ratelimit import RateLimiter
from pigeon.collector.storage import Store, StoreError

__all__ = ["Ingestor"]

_MAX_DETAILS: Final = 50


def _header_key(request: Request) -> str | None:
    """The write key of ``Authorization: Basic base64(key:)`` or ``Bearer key``."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401,
            "unauthorized",
            "malformed Basic authorization",
            [("headers.authorization", "not base64")],
        ) from None
    return decoded.partition(":")[0] or None


def _store_failed() -> ApiError:
    # Nothing of the request was kept: the client retries it.
    return ApiError(
        503,
        "store_unavailable",
        "the store could not commit: retry later",
        headers={"Retry-After": "5"},
    )


def _unknown_key(path: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "unknown or missing write key",
        [(path, "unknown or missing write key")],
    )


Parse = Callable[[bytes, Pick, int], Sorting]
"""A body parser: ``(body, pick, received_ms) -> Sorting`` (see ``_parsing``)."""


class Ingestor:
    """Holds the write keys, limits and the store that ingestion requests share."""

    def __init__(self, config: CollectorConfig, metrics: Metrics) -> None:
        """Prepare for ``config``; the store is attached when the app starts."""
        self.metrics = metrics
        self.write_keys: Mapping[str, Catalog] = dict(config.write_keys)
        self.store: Store | None = None
        self._limiter = RateLimiter(config.rate_limit) if config.rate_limit > 0 else None
        self._max_pending = config.max_pending_events
        self._max_active = config.max_concurrent_requests
        self._pending = 0
        self._active = 0

    # -- shared steps --------------------------------------------------------

    def _admit(self, request: Request) -> None:
        if self._limiter is not None:
            client = request.client.host if request.client is not None else ""
            wait = self._limiter.admit(client)
            if wait > 0:
                self.metrics.rate_limited.inc()
                raise ApiError(
                    429,
                    "rate_limited",
                    "too many requests from this address: retry later",
                    headers={"Retry-After": self._limiter.retry_after_header(wait)},
                )
        if self._active >= self._max_active or self._pending >= self._max_pending:
            raise ApiError(
                503, "busy", "the collector is busy: retry later", headers={"Retry-After": "1"}
            )

    def _open_store(self) -> Store:
        if self.store is None:
            raise ApiError(
                503, "starting", "the collector is starting", headers={"Retry-After": "1"}
            )
        return self.store

    def _catalog(self, key: str | None, path: str) -> Catalog:
        catalog = self.write_keys.get(key) if key else None
        if catalog is None:
            raise _unknown_key(path)
        return catalog

    def _count_refused(self, sorting: Sorting) -> None:
        refused = self.metrics.events_refused
        if sorting.too_large:
            refused.labels("too_large").inc(sorting.too_large)
        invalid = len(sorting.rejected) - sorting.too_large
        if invalid:
            refused.labels("invalid").inc(invalid)

    async def _store(self, sorting: Sorting) -> Response:
        single = sorting.single
        events = sorting.events
        if sorting.rejected:
            self._count_refused(sorting)
        if not events:
            rejected = sorting.rejected
            details = [
                (r.path if single else f"batch[{r.index}].{r.path}", r.reason)
                for r in rejected[:_MAX_DETAILS]
            ]
            if rejected and sorting.too_large == len(rejected):
                raise ApiError(
                    413, "too_large", f"every event is larger than {MAX_EVENT_BYTES} bytes", details
                )
            message = "the event is not valid" if single else "no valid event in the batch"
            raise ApiError(400, "invalid_events", message, details or [("batch", "empty")])
        store = self._open_store()
        count = len(events)
        metrics = self.metrics
        self._pending += count
        metrics.queue_events.inc(count)
        started = time.perf_counter()
        try:
            await store.write(events)
        except StoreError:
            metrics.events_refused.labels("store_unavailable").inc(count)
            raise _store_failed() from None
        finally:
            self._pending -= count
            metrics.queue_events.dec(count)
            metrics.write_seconds.observe(time.perf_counter() - started)
        metrics.events_accepted.inc(count)
        return json_response(
            {
                "success": True,
                "accepted": len(events),
                "rejected": [{"index": r.index, "reason": r.text} for r in sorting.rejected],
            }
        )

    async def _handle(self, request: Request, parse: Parse) -> Response:
        try:
            return await self._ingest(request, parse)
        except ApiError as exc:
            self.metrics.requests_refused.labels(exc.code).inc()
            raise
        except Exception:
            self.metrics.requests_refused.labels("internal_error").inc()
            raise

    async def _ingest(self, request: Request, parse: Parse) -> Response:
        self._admit(request)
        self._active += 1
        try:
            header_key = _header_key(request)
            if header_key is not None and header_key not in self.write_keys:
                raise _unknown_key("headers.authorization")
            body = await read_body(request)
            received_ms = int(time.time() * 1000)
            header = self.write_keys.get(header_key) if header_key else None

            def pick(body_key: str | None, path: str) -> Catalog:
                return header if header is not None else self._catalog(body_key, path)

            return await self._store(parse(body, pick, received_ms))
        finally:
            self._active -= 1

    # -- endpoints -----------------------------------------------------------

    async def segment_batch(self, request: Request) -> Response:
        """``POST /v1/batch``."""
        return await self._handle(request, parse_segment_batch)

    async def segment_track(self, request: Request) -> Response:
        """``POST /v1/track``."""
        return await self._handle(request, parse_segment_track)

    async def posthog_capture(self, request: Request) -> Response:
        """``POST /batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``."""
        return await self._handle(request, parse_posthog)

    async def forget(self, request: Request) -> Response:
        """``DELETE /v1/installs/{anonymous_id}``."""
        self._admit(request)
        app = self._catalog(_header_key(request), "headers.authorization").name
        anonymous_id = request.path_params["anonymous_id"]
        if not anonymous_id or len(anonymous_id) > MAX_ID_LENGTH:
            raise ApiError(
                400,
                "invalid_request",
                "bad install id",
                [("path.anonymous_id", f"1 to {MAX_ID_LENGTH} characters")],
            )
        try:
            deleted = await self._open_store().forget(app, anonymous_id)
        except StoreError:
            raise _store_failed() from None
        return json_response({"success": True, "deleted": deleted})
