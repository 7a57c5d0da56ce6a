"""The wire format: Segment-compatible track messages, batched, as JSON.

A message::

    {"type": "track", "event": ..., "properties": {...}, "anonymousId": ...,
     "messageId": <UUIDv7>, "timestamp": <ISO 8601, ms, UTC>, "context": {...}}

A batch: ``{"batch": [message, ...], "sentAt": <ISO 8601>}``, gzip-compressed,
``POST {endpoint}/v1/batch`` with the write key as HTTP Basic user name.

Encoding runs on the sender thread for every event, so it is built for speed:
the context is the same for every message of a client and is encoded once
and spliced in; event names and property keys are encoded once and cached;
validated property values (strings, integers, booleans, ``null``) are written
directly instead of through ``json.dumps``. This module (and ``json``) is
imported when an enabled client is built, never at ``import pigeon``.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

__all__ = [
    "MessageEncoder",
    "encode_batch",
    "encode_properties",
    "iso_timestamp",
    "uuid7",
]

_uuid_lock = threading.Lock()
_last_ms = 0
_seq = 0


def _reset_lock_in_child() -> None:
    # The sender thread may have held the lock when another thread forked.
    global _uuid_lock  # noqa: PLW0603
    _uuid_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only: there is no fork elsewhere
    os.register_at_fork(after_in_child=_reset_lock_in_child)


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
    r = random.getrandbits(62)
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031  # one C call, measurably faster
        ms >> 16,
        ms & 0xFFFF,
        0x7000 | seq,
        0x8000 | (r >> 48),
        r & 0xFFFF_FFFF_FFFF,
    )


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


_dumps: Callable[[Any], str] = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode


_key_cache: dict[str, str] = {}


def encode_properties(properties: Mapping[str, object]) -> str:
    """Validated properties as a JSON object text (compact, UTF-8 kept as is)."""
    if not properties:
        return "{}"
    dumps, string = _dumps, encode_basestring
    keys = _key_cache
    parts = []
    for key, value in properties.items():
        prefix = keys.get(key)
        if prefix is None:
            prefix = f"{dumps(key)}:"
            if len(keys) < 4096:  # keys come from the catalog: a handful
                keys[key] = prefix
        kind = type(value)
        if kind is str:
            parts.append(prefix + string(value))  # type: ignore[arg-type]
        elif kind is bool:
            parts.append(prefix + ("true" if value else "false"))
        elif kind is int:
            parts.append(prefix + int.__repr__(value))
        elif value is None:
            parts.append(prefix + "null")
        else:
            parts.append(prefix + dumps(value))
    return "{" + ",".join(parts) + "}"


class MessageEncoder:
    """Encodes the track messages of one client (one context, one install id)."""

    __slots__ = ("_events", "_tail")

    def __init__(self, anonymous_id: str, context: Mapping[str, object]) -> None:
        """Pre-encode the parts every message of this client shares."""
        dumps = _dumps
        self._tail = f',"anonymousId":{dumps(anonymous_id)},"context":{dumps(context)}}}'
        self._events: dict[str, str] = {}

    def encode(self, event: str, properties: Mapping[str, object], timestamp: float) -> str:
        """One message as a JSON object text, with a fresh message id."""
        head = self._events.get(event)
        if head is None:
            head = f'{{"type":"track","event":{_dumps(event)},"properties":'
            if len(self._events) < 1024:  # event names come from the catalog
                self._events[event] = head
        text = (
            f'{head}{encode_properties(properties)},"messageId":"{uuid7(timestamp)}",'
            f'"timestamp":"{iso_timestamp(timestamp)}"{self._tail}'
        )
        return text if text.isascii() else _valid_utf8(text)


def _valid_utf8(text: str) -> str:
    """Replace lone surrogates (from undecodable bytes) that UTF-8 cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def encode_batch(messages: Iterable[str], sent_at: float | None = None) -> bytes:
    """The batch body (uncompressed) from encoded messages."""
    stamp = iso_timestamp(time.time() if sent_at is None else sent_at)
    return f'{{"batch":[{",".join(messages)}],"sentAt":"{stamp}"}}'.encode()
