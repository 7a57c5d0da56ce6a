"""Decoding request bodies: Segment batches and messages, PostHog's three body shapes.

Each parser returns the request's :class:`~pigeon.collector._events.Sorting`
(kept events, refused ones by index). ``pick(body_key, path)`` resolves the
write key found in the body (unless the header already named one).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from pigeon.catalog import Catalog
from pigeon.collector._config import MAX_EVENT_BYTES
from pigeon.collector._errors import ApiError
from pigeon.collector._events import Sorting, sort_posthog, sort_segment
from pigeon.collector._messages import (
    EMPTY_RAW,
    PostHogEnvelope,
    SegmentEnvelope,
    SegmentMessage,
    decode_time_ms,
)

__all__ = ["Pick", "parse_posthog", "parse_segment_batch", "parse_segment_track"]

Pick = Callable[[str | None, str], Catalog]
"""``pick(body_key, path)``: the catalog of the request's write key (401 if unknown)."""

_decode_segment_envelope = msgspec.json.Decoder(SegmentEnvelope).decode
_decode_posthog_envelope = msgspec.json.Decoder(PostHogEnvelope).decode
_decode_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode


class _TypedBatch(msgspec.Struct):
    batch: list[SegmentMessage]


_decode_typed_batch = msgspec.json.Decoder(_TypedBatch).decode


class _KeyProbe(msgspec.Struct):
    api_key: str | None = None
    token: str | None = None
    properties: dict[str, object] | None = None


_decode_key_probe = msgspec.json.Decoder(_KeyProbe).decode


# What a decode may raise on hostile input: malformed JSON, and nesting deeper than
# the interpreter's recursion limit. (Bodies that are not UTF-8 never get here:
# `read_body` refuses them.)
_DECODE_ERRORS = (msgspec.MsgspecError, RecursionError)


def _bad_json(exc: Exception) -> ApiError:
    if isinstance(exc, RecursionError):
        reason = "nested too deeply"
        return ApiError(400, "invalid_json", f"the body is {reason}", [("body", reason)])
    text = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        message, _, where = text.partition(" - at `$")
        path = where.rstrip("`").lstrip(".") or "body"
        reason = message.replace("`", "")
        return ApiError(400, "invalid_body", f"{path}: {reason}", [(path, reason)])
    return ApiError(400, "invalid_json", f"the body is not valid JSON: {text}", [("body", text)])


def _event_too_large() -> ApiError:
    reason = f"larger than {MAX_EVENT_BYTES} bytes"
    return ApiError(413, "too_large", f"the event is {reason}", [("body", reason)])


def parse_segment_batch(body: bytes, pick: Pick, received_ms: int) -> Sorting:
    """``POST /v1/batch``: ``{"batch": [...], "sentAt", "writeKey", "context"}``."""
    try:
        envelope = _decode_segment_envelope(body)
    except _DECODE_ERRORS as exc:
        raise _bad_json(exc) from None
    if envelope.batch is None:
        raise ApiError(400, "invalid_body", "batch: required", [("batch", "required")])
    catalog = pick(envelope.writeKey, "writeKey")
    batch = envelope.batch
    decoded = None
    if max(map(len, batch), default=0) <= MAX_EVENT_BYTES:
        try:  # the fast path: every message well formed, decoded in one pass
            decoded = _decode_typed_batch(body).batch
        except (msgspec.ValidationError, RecursionError):
            decoded = None  # judged one by one, refusals by index
    sent_at = decode_time_ms(envelope.sentAt)
    return sort_segment(
        batch, catalog, sent_at, received_ms, default_context=envelope.context, decoded=decoded
    )


def parse_segment_track(body: bytes, pick: Pick, received_ms: int) -> Sorting:
    """``POST /v1/track``: one message, with ``writeKey`` and ``sentAt`` beside its fields."""
    if len(body) > MAX_EVENT_BYTES:
        raise _event_too_large()
    try:
        envelope = _decode_segment_envelope(body)
    except _DECODE_ERRORS as exc:
        raise _bad_json(exc) from None
    catalog = pick(envelope.writeKey, "writeKey")
    sent_at = decode_time_ms(envelope.sentAt)
    return sort_segment([msgspec.Raw(body)], catalog, sent_at, received_ms, single=True)


def parse_posthog(body: bytes, pick: Pick, received_ms: int) -> Sorting:
    """PostHog capture: a batch, one event, or an array of events."""
    try:
        raws, body_key, sent_at, single = _posthog_parts(body)
    except _DECODE_ERRORS as exc:
        raise _bad_json(exc) from None
    catalog = pick(body_key, "api_key")
    return sort_posthog(raws, catalog, decode_time_ms(sent_at), received_ms, single=single)


def _posthog_parts(body: bytes) -> tuple[list[msgspec.Raw], str | None, msgspec.Raw, bool]:
    """A PostHog body's events, write key, ``sent_at``, and whether it is one event."""
    if body.lstrip()[:1] == b"[":  # an array of events, each may carry the key
        raws: list[msgspec.Raw] = _decode_raw_list(body)
        return raws, (_probe_key(raws[0]) if raws else None), EMPTY_RAW, False
    envelope = _decode_posthog_envelope(body)
    key = envelope.api_key or envelope.token
    if envelope.batch is not None:
        return envelope.batch, key, envelope.sent_at, False
    if len(body) > MAX_EVENT_BYTES:  # one event
        raise _event_too_large()
    if key is None and envelope.properties:
        token = envelope.properties.get("token")
        key = token if isinstance(token, str) else None
    return [msgspec.Raw(body)], key, envelope.sent_at, True


def _probe_key(raw: msgspec.Raw) -> str | None:
    try:
        probe = _decode_key_probe(raw)
    except _DECODE_ERRORS:
        return None
    if probe.api_key or probe.token:
        return probe.api_key or probe.token
    token = (probe.properties or {}).get("token")
    return token if isinstance(token, str) else None
