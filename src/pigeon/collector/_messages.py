"""The wire formats the collector reads: Segment and PostHog messages, decoded with msgspec.

A batch is first split into raw messages (``list[msgspec.Raw]``), so each one
is measured (32 KB limit) and decoded on its own: one malformed message is
rejected by index with msgspec's path and reason, the others are kept.

Context is read from three layouts, the first non-empty value winning:

- pigeon's: ``context.app.version``, ``context.library``, ``context.os``,
  ``context.runtime.{python_version, system, release, machine, platform}``,
  ``context.catalog.version``;
- the historical Argilla/Segment one: flat ``context.version``,
  ``python_version``, ``system``, ``release``, ``machine``, ``platform``;
- PostHog's properties: ``$lib``, ``$lib_version``, ``$python_version``,
  ``$os``, ``$os_version``, ``$app_version``.

Context values are informative: a missing or odd one becomes ``""``, never a
refusal. Unknown context keys are ignored and never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

import msgspec

__all__ = [
    "EMPTY_RAW",
    "Context",
    "PostHogEnvelope",
    "PostHogEvent",
    "SegmentEnvelope",
    "SegmentMessage",
    "context_from_posthog",
    "context_from_segment",
    "decode_time_ms",
]

MAX_CONTEXT_VALUE: Final = 128
"""Context strings are truncated to this length."""


EMPTY_RAW: Final = msgspec.Raw()
"""An empty raw value: the field was absent (msgspec cannot put ``Raw`` in a union)."""


class SegmentMessage(msgspec.Struct):
    """One Segment message (``track``; other types are refused by the ingester)."""

    type: str | None = None
    event: str | None = None
    properties: dict[str, Any] | None = None
    anonymousId: str | int | None = None  # noqa: N815  # Segment's wire names
    userId: str | int | None = None  # noqa: N815
    messageId: str | None = None  # noqa: N815
    timestamp: datetime | None = None
    context: msgspec.Raw = EMPTY_RAW


class SegmentEnvelope(msgspec.Struct):
    """A Segment batch (``/v1/batch``) or, without ``batch``, one ``/v1/track`` body."""

    batch: list[msgspec.Raw] | None = None
    sentAt: msgspec.Raw = EMPTY_RAW  # noqa: N815
    writeKey: str | None = None  # noqa: N815
    context: msgspec.Raw = EMPTY_RAW


class PostHogEvent(msgspec.Struct):
    """One PostHog capture event."""

    event: str | None = None
    distinct_id: str | int | None = None
    properties: dict[str, Any] | None = None
    timestamp: datetime | None = None
    uuid: str | None = None
    api_key: str | None = None


class PostHogEnvelope(msgspec.Struct):
    """A PostHog body: ``{"batch": [...], "api_key", "sent_at"}`` or one event with its key."""

    batch: list[msgspec.Raw] | None = None
    api_key: str | None = None
    token: str | None = None
    sent_at: msgspec.Raw = EMPTY_RAW
    properties: dict[str, Any] | None = None


class Context(NamedTuple):
    """The context fields a stored event keeps (``""`` when unknown)."""

    app_version: str = ""
    python_version: str = ""
    system: str = ""
    release: str = ""
    machine: str = ""
    platform: str = ""
    library: str = ""
    catalog_version: str = ""


EMPTY_CONTEXT: Final = Context()

_decode_object = msgspec.json.Decoder(dict[str, Any]).decode
_decode_datetime = msgspec.json.Decoder(datetime).decode


def _text(value: object) -> str:
    if type(value) is str:
        return value[:MAX_CONTEXT_VALUE]
    return ""


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _library(name: object, version: object) -> str:
    name_text, version_text = _text(name), _text(version)
    if not name_text:
        return ""
    return f"{name_text}/{version_text}"[:MAX_CONTEXT_VALUE] if version_text else name_text


def context_from_segment(raw: msgspec.Raw, cache: dict[bytes, Context]) -> Context:
    """The context of a Segment or pigeon message (memoised per distinct context text)."""
    if not raw:
        return EMPTY_CONTEXT
    key = bytes(raw)
    found = cache.get(key)
    if found is not None:
        return found
    try:
        ctx = _decode_object(key)
    except msgspec.DecodeError:  # not an object: context is informative, ignore it
        ctx = {}
    app, runtime, system_os = (
        _table(ctx.get("app")),
        _table(ctx.get("runtime")),
        _table(ctx.get("os")),
    )
    library, catalog = _table(ctx.get("library")), _table(ctx.get("catalog"))

    def first(*values: object) -> str:
        for value in values:
            text = _text(value)
            if text:
                return text
        return ""

    found = Context(
        app_version=first(app.get("version"), ctx.get("version")),
        python_version=first(runtime.get("python_version"), ctx.get("python_version")),
        system=first(runtime.get("system"), ctx.get("system"), system_os.get("name")),
        release=first(runtime.get("release"), ctx.get("release"), system_os.get("version")),
        machine=first(runtime.get("machine"), ctx.get("machine")),
        platform=first(runtime.get("platform"), ctx.get("platform")),
        library=_library(library.get("name"), library.get("version")),
        catalog_version=first(catalog.get("version")),
    )
    if len(cache) < 64:  # a batch comes from one client or a few: keep the memo small
        cache[key] = found
    return found


def context_from_posthog(properties: dict[str, Any] | None) -> Context:
    """The context a PostHog client puts in an event's ``$`` properties."""
    if not properties:
        return EMPTY_CONTEXT
    get = properties.get
    return Context(
        app_version=_text(get("$app_version")),
        python_version=_text(get("$python_version")),
        system=_text(get("$os")),
        release=_text(get("$os_version")),
        library=_library(get("$lib"), get("$lib_version")),
    )


def decode_time_ms(raw: msgspec.Raw) -> int | None:
    """An RFC 3339 timestamp (a JSON string) in epoch milliseconds, or None if absent or bad."""
    if not raw:
        return None
    try:
        return datetime_ms(_decode_datetime(raw))
    except msgspec.DecodeError:
        return None


def datetime_ms(moment: datetime) -> int:
    """Epoch milliseconds of a datetime (naive means UTC)."""
    if moment.tzinfo is None:
        return round((moment - _NAIVE_EPOCH).total_seconds() * 1000)
    return round(moment.timestamp() * 1000)


_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # compared with naive datetimes only
