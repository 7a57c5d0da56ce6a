"""The wire format: Segment-compatible track messages, batched, as JSON.

A message::

    {"type": "track", "event": ..., "properties": {...}, "anonymousId": ...,
     "messageId": <UUIDv7>, "timestamp": <ISO 8601, ms, UTC>, "context": {...}}

A batch: ``{"batch": [message, ...], "sentAt": <ISO 8601>}``, gzip-compressed,
``POST {endpoint}/v1/batch`` with the write key as HTTP Basic user name.

The context is the same for every message of a client, so it is encoded once
and spliced in: encoding a message costs one ``json.dumps`` of its properties.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable, Mapping

__all__ = [
    "MessageEncoder",
    "encode_batch",
    "iso_timestamp",
    "uuid7",
]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

_uuid_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7(now: float | None = None) -> str:
    """A time-ordered UUIDv7 (RFC 9562): 48-bit ms clock, 12-bit sequence, 62 random bits.

    Ids made in the same millisecond by one process stay ordered through the
    sequence field; ``random`` is re-seeded in forked children by the standard
    library, so a child never repeats its parent's ids.
    """
    global _last_ms, _seq  # noqa: PLW0603  # one process-wide clock, as the RFC intends
    ms = int((time.time() if now is None else now) * 1000)
    with _uuid_lock:
        if ms <= _last_ms:
            _seq += 1
            if _seq > 0xFFF:  # sequence exhausted: borrow the next millisecond
                _last_ms += 1
                _seq = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _seq = random.getrandbits(8)
        seq = _seq
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | random.getrandbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ts_cache: tuple[int, str] = (-1, "")


def iso_timestamp(t: float) -> str:
    """``t`` (seconds since the epoch) as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    global _ts_cache  # noqa: PLW0603  # a one-entry cache: events come in bursts within a second
    second = int(t)
    cached_second, prefix = _ts_cache
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _ts_cache = (second, prefix)
    return f"{prefix}.{int((t - second) * 1000):03d}Z"


class MessageEncoder:
    """Encodes the track messages of one client (one context, one install id)."""

    __slots__ = ("_tail",)

    def __init__(self, anonymous_id: str, context: Mapping[str, object]) -> None:
        """Pre-encode the parts every message of this client shares."""
        self._tail = f',"anonymousId":{_dumps(anonymous_id)},"context":{_dumps(context)}}}'

    def encode(self, event: str, properties: Mapping[str, object], timestamp: float) -> str:
        """One message as a JSON object text, with a fresh message id."""
        return (
            f'{{"type":"track","event":{_dumps(event)},"properties":{_dumps(properties)},'
            f'"messageId":"{uuid7(timestamp)}","timestamp":"{iso_timestamp(timestamp)}"'
            f"{self._tail}"
        )


def encode_batch(messages: Iterable[str], sent_at: float | None = None) -> bytes:
    """The batch body (uncompressed) from encoded messages."""
    stamp = iso_timestamp(time.time() if sent_at is None else sent_at)
    return f'{{"batch":[{",".join(messages)}],"sentAt":"{stamp}"}}'.encode()
