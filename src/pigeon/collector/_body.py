"""Reading a request body: capped, and decompressed as a stream with a capped output.

A compressed body is inflated chunk by chunk with ``max_length``: as soon as
the output would pass the cap the request is refused, so a decompression bomb
costs at most the cap in memory and the compressed bytes read so far, never
its full inflated size. The compressed body itself is capped too.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Final

from starlette.requests import ClientDisconnect, Request

from pigeon.collector._config import MAX_REQUEST_BYTES
from pigeon.collector._errors import ApiError

__all__ = ["SUPPORTED_ENCODINGS", "read_body"]

# A body that compresses badly can grow a little: gzip adds at most ~0.1% + 18 bytes.
MAX_WIRE_BYTES: Final = MAX_REQUEST_BYTES + MAX_REQUEST_BYTES // 100 + 1024

_GZIP: Final = zlib.MAX_WBITS | 16
_ZLIB: Final = zlib.MAX_WBITS
_WBITS: Final = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": _ZLIB}
# PostHog's browser and mobile clients name the compression in the query string.
_QUERY_WBITS: Final = {"gzip": _GZIP, "gzip-js": _GZIP}

BODY_TIMEOUT_SECONDS: Final = 20.0
"""A body must arrive whole within this time (a slow-body attacker holds nothing longer)."""

SUPPORTED_ENCODINGS: Final = ("gzip", "deflate", "identity")
"""The ``Content-Encoding`` values the collector accepts."""


def _too_large() -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"the request body is larger than {MAX_REQUEST_BYTES} bytes (after decompression)",
        [("body", f"larger than {MAX_REQUEST_BYTES} bytes")],
    )


class _Inflater:
    """Inflates a stream of chunks, refusing output beyond the cap."""

    def __init__(self, wbits: int, cap: int) -> None:
        self._wbits = wbits
        self._cap = cap
        self._inflate = zlib.decompressobj(wbits)
        self.out = bytearray()

    def feed(self, data: bytes) -> None:
        try:
            while data:
                if self._inflate.eof:  # another gzip member follows
                    self._inflate = zlib.decompressobj(self._wbits)
                room = self._cap + 1 - len(self.out)  # >= 1: the check below stops first
                self.out += self._inflate.decompress(data, room)
                if len(self.out) > self._cap:
                    raise _too_large()
                data = self._inflate.unconsumed_tail or self._inflate.unused_data
        except zlib.error:
            raise _bad_encoding("the body is not valid compressed data") from None

    def finish(self) -> bytes:
        if not self._inflate.eof:
            raise _bad_encoding("the compressed body is truncated")
        return bytes(self.out)


def _bad_encoding(reason: str) -> ApiError:
    return ApiError(400, "bad_encoding", reason, [("body", reason)])


def _check_utf8(body: bytes) -> bytes:
    # JSON text is UTF-8 (RFC 8259); the decoders would otherwise fail deep
    # inside with an exception that is not a validation error.
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"the body is not valid UTF-8 (byte {exc.start})"
            raise ApiError(400, "invalid_json", reason, [("body", reason)]) from None
    return body


def _wbits_for(request: Request) -> int | None:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding and encoding != "identity":
        wbits = _WBITS.get(encoding)
        if wbits is None:
            raise ApiError(
                415,
                "unsupported_encoding",
                f"Content-Encoding {encoding[:40]!r} is not supported "
                f"(supported: {', '.join(SUPPORTED_ENCODINGS)})",
                [("headers.content-encoding", "unsupported encoding")],
            )
        return wbits
    compression = request.query_params.get("compression")
    if compression:
        wbits = _QUERY_WBITS.get(compression.lower())
        if wbits is None:
            raise ApiError(
                415,
                "unsupported_encoding",
                f"compression {compression[:40]!r} is not supported (supported: gzip, gzip-js)",
                [("query.compression", "unsupported compression")],
            )
        return wbits
    return None


async def read_body(request: Request) -> bytes:
    """The decompressed body, within :data:`MAX_REQUEST_BYTES`.

    Raises:
        ApiError: 413 too large (before or after decompression), 415 unsupported
            encoding, 400 corrupt compressed data, a body that is not UTF-8 or
            a client that went away, 408 a body slower than
            :data:`BODY_TIMEOUT_SECONDS`.
    """
    wbits = _wbits_for(request)
    length = request.headers.get("content-length")
    wire_cap = MAX_WIRE_BYTES if wbits is not None else MAX_REQUEST_BYTES
    if length is not None and length.isdigit() and int(length) > wire_cap:
        raise _too_large()
    inflater = _Inflater(wbits, MAX_REQUEST_BYTES) if wbits is not None else None
    raw = bytearray()
    received = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.stream():
                received += len(chunk)
                if received > wire_cap:
                    raise _too_large()
                if inflater is not None:
                    inflater.feed(chunk)
                else:
                    raw += chunk
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the client went away") from None
    except TimeoutError:
        raise ApiError(
            408,
            "request_timeout",
            f"the body did not arrive within {BODY_TIMEOUT_SECONDS:g} seconds",
            [("body", "sent too slowly")],
            headers={"Connection": "close"},
        ) from None
    if inflater is not None:
        return _check_utf8(inflater.finish())
    return _check_utf8(bytes(raw))
