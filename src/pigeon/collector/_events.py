"""From decoded messages to stored events: limits, ids, clock skew, catalog validation.

Every message is judged on its own; a refused one is reported by index with
the field and the reason, and never echoes the client's values back.

A ``CrashReported`` must carry the signature of its exception and frames
(:func:`pigeon._crash.signature_problem`), the key every crash view counts by.

Timestamps: Segment's rule corrects client clock skew,
``timestamp + (received_at - sent_at)``, when the batch carries ``sentAt``.
A corrected timestamp before 2015-01-01 UTC or more than one day after the
collector's clock is refused (a broken clock, not an event worth a rollup).
An event without a timestamp is dated when it was received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec

from pigeon._crash import CRASH_EVENT, signature_problem
from pigeon._wire import uuid7
from pigeon.catalog import Catalog
from pigeon.collector._config import MAX_EVENT_BYTES, MAX_ID_LENGTH
from pigeon.collector._messages import (
    EMPTY_RAW,
    Context,
    PostHogEvent,
    SegmentMessage,
    context_from_posthog,
    context_from_segment,
    datetime_ms,
)
from pigeon.collector.storage import StoredEvent

__all__ = [
    "EARLIEST_MS",
    "FUTURE_MS",
    "Rejection",
    "Sorting",
    "sort_posthog",
    "sort_segment",
]

EARLIEST_MS: Final = 1_420_070_400_000
"""2015-01-01T00:00:00Z: earlier (corrected) timestamps are refused."""
FUTURE_MS: Final = 86_400_000
"""Corrected timestamps more than this after the collector's clock are refused."""

_decode_segment = msgspec.json.Decoder(SegmentMessage).decode
_decode_posthog = msgspec.json.Decoder(PostHogEvent).decode


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused message: its index in the request, the field and the reason."""

    index: int
    path: str
    reason: str
    too_large: bool = False

    @property
    def text(self) -> str:
        """``"path: reason"``, as the 200 response lists it."""
        return f"{self.path}: {self.reason}"


@dataclass(slots=True)
class Sorting:
    """The outcome of judging a request's messages."""

    events: list[StoredEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    single: bool = False
    """The request carried one event, not a batch (errors name its fields without an index)."""
    too_large: int = 0
    """How many of ``rejected`` were refused for their size (counted as they are refused)."""


def _schema_problem(index: int, error: msgspec.MsgspecError) -> Rejection:
    # msgspec says e.g. "Expected `str | null`, got `int` - at `$.event`".
    message, _, where = str(error).partition(" - at `$")
    path = where.rstrip("`").lstrip(".") or "message"
    reason = message.replace("`", "")
    return Rejection(index, path, reason[:1].lower() + reason[1:])


def _install_id(value: str | int | None) -> str:
    if value is None or type(value) is bool:
        return ""
    return value if isinstance(value, str) else str(value)


class _Judge:
    """The checks every message of one request goes through."""

    __slots__ = ("app", "catalog", "received_ms", "sent_at_ms", "sorting")

    def __init__(self, catalog: Catalog, sent_at_ms: int | None, received_ms: int) -> None:
        self.catalog = catalog
        self.app = catalog.name
        self.sent_at_ms = sent_at_ms
        self.received_ms = received_ms
        self.sorting = Sorting()

    def accept(  # noqa: PLR0917  # the hot path: positional calls are measurably cheaper
        self,
        index: int,
        event: str | None,
        properties: dict[str, object] | None,
        install: str,
        message_id: str | None,
        moment_ms: int | None,
        context: Context,
        id_field: str,
    ) -> None:
        problem = self._problem(install, message_id, id_field)
        if problem is not None:
            self.sorting.rejected.append(Rejection(index, *problem))
            return
        when = self.received_ms
        if moment_ms is not None:
            if self.sent_at_ms is not None:
                moment_ms += self.received_ms - self.sent_at_ms
            if moment_ms < EARLIEST_MS:
                reason = "before 2015-01-01 (after clock-skew correction)"
                self.sorting.rejected.append(Rejection(index, "timestamp", reason))
                return
            if moment_ms > self.received_ms + FUTURE_MS:
                reason = "more than a day in the future (after clock-skew correction)"
                self.sorting.rejected.append(Rejection(index, "timestamp", reason))
                return
            when = moment_ms
        if event is None:
            self.sorting.rejected.append(Rejection(index, "event", "required"))
            return
        result = self.catalog.validate(event, properties)
        if result.problems:
            first, *others = result.problems
            reason = "; ".join([first.reason, *(f"{p.path}: {p.reason}" for p in others)])
            self.sorting.rejected.append(Rejection(index, first.path, reason))
            return
        if event == CRASH_EVENT:
            # Crashes are counted by signature: one that is not the hash of the
            # class and frames sent would split or merge crashes in every view.
            mismatch = signature_problem(result.properties)
            if mismatch is not None:
                self.sorting.rejected.append(Rejection(index, "properties.signature", mismatch))
                return
        self.sorting.events.append(
            StoredEvent(
                message_id or uuid7(),
                self.app,
                event,
                install,
                when,
                self.received_ms,
                *context,
                result.properties,
            )
        )

    @staticmethod
    def _problem(install: str, message_id: str | None, id_field: str) -> tuple[str, str] | None:
        if not install:
            return id_field, "required: the anonymous install id"
        if len(install) > MAX_ID_LENGTH:
            return id_field, f"longer than {MAX_ID_LENGTH} characters"
        if message_id is not None and len(message_id) > MAX_ID_LENGTH:
            return "messageId", f"longer than {MAX_ID_LENGTH} characters"
        return None


def _too_large(index: int, path: str) -> Rejection:
    return Rejection(index, path, f"larger than {MAX_EVENT_BYTES} bytes", too_large=True)


def sort_segment(
    raws: Sequence[msgspec.Raw],
    catalog: Catalog,
    sent_at_ms: int | None,
    received_ms: int,
    *,
    default_context: msgspec.Raw = EMPTY_RAW,
    decoded: Sequence[SegmentMessage] | None = None,
    single: bool = False,
) -> Sorting:
    """Judge Segment (and pigeon) ``track`` messages.

    ``decoded`` are the same messages already decoded in one pass (the fast
    path, when the whole batch is well formed); without it each raw message
    is decoded on its own and a malformed one is refused by index.
    """
    judge = _Judge(catalog, sent_at_ms, received_ms)
    judge.sorting.single = single
    rejected = judge.sorting.rejected
    accept = judge.accept
    contexts: dict[bytes, Context] = {}
    for index, raw in enumerate(raws):
        if decoded is not None:
            message = decoded[index]
        elif len(raw) > MAX_EVENT_BYTES:
            rejected.append(_too_large(index, "message"))
            judge.sorting.too_large += 1
            continue
        else:
            try:
                message = _decode_segment(raw)
            except msgspec.MsgspecError as exc:
                rejected.append(_schema_problem(index, exc))
                continue
        if message.type is not None and message.type != "track":
            rejected.append(Rejection(index, "type", "only track messages are accepted"))
            continue
        moment = message.timestamp
        accept(
            index,
            message.event,
            message.properties,
            _install_id(message.anonymousId) or _install_id(message.userId),
            message.messageId,
            None if moment is None else datetime_ms(moment),
            context_from_segment(message.context or default_context, contexts),
            "anonymousId",
        )
    return judge.sorting


def sort_posthog(
    raws: Sequence[msgspec.Raw],
    catalog: Catalog,
    sent_at_ms: int | None,
    received_ms: int,
    *,
    single: bool = False,
) -> Sorting:
    """Judge PostHog capture events."""
    judge = _Judge(catalog, sent_at_ms, received_ms)
    judge.sorting.single = single
    rejected = judge.sorting.rejected
    for index, raw in enumerate(raws):
        if len(raw) > MAX_EVENT_BYTES:
            rejected.append(_too_large(index, "event"))
            judge.sorting.too_large += 1
            continue
        try:
            message = _decode_posthog(raw)
        except msgspec.MsgspecError as exc:
            rejected.append(_schema_problem(index, exc))
            continue
        moment = message.timestamp
        judge.accept(
            index,
            message.event,
            message.properties,
            _install_id(message.distinct_id),
            message.uuid,
            None if moment is None else datetime_ms(moment),
            context_from_posthog(message.properties),
            "distinct_id",
        )
    return judge.sorting
