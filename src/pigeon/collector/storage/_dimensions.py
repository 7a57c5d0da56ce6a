"""Which rollup buckets an event counts in: the one definition every store shares.

A dimension is a name (``version``, ``error``...) and, per event, a value and an
amount (records for bulk uploads, else 0). The SQLite store updates its rollup
tables with these; the ClickHouse store's materialized views compute the same.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterator
from typing import Final

from pigeon._crash import CRASH_EVENT
from pigeon.collector.storage._base import StoredEvent

__all__ = [
    "AMOUNTS",
    "DIMENSIONS",
    "amount_of",
    "client_family",
    "dimensions",
    "language_of",
    "signature",
]

DIMENSIONS = (
    "all",  # every event, value "": events per day and active installs
    "event",  # event name
    "version",  # app version
    "python",  # Python version
    "system",  # platform.system()
    "machine",  # platform.machine()
    "library",  # sending client library
    "error",  # ServerErrorFound: "code\ttype"
    "bulk_task",  # LogRecordsRequested: task, amount = records
    "trainer",  # TrainerUsage: "framework\ttask"
    "client",  # UserInfoRequested: user-agent family
    "language",  # UserInfoRequested: primary language of accept-language
    "error_version",  # ServerErrorFound: "version\tcode\ttype"
    "crash",  # CrashReported: "signature\texception"
    "crash_version",  # CrashReported: "version\tsignature"
    "crash_frames",  # CrashReported: "signature\tframe\nframe...", the stacks seen
)
"""Every dimension, in the order views list them."""


AMOUNTS: Final = {"LogRecordsRequested": ("bulk_task", "records")}
"""Event -> (dimension, property): the one bucket that sums an amount, and from what.

The property is read for the amount only, never for a bucket value: the
SQLite store relies on it to share bucket look-ups between events whose
amounts differ.
"""


def amount_of(event: StoredEvent) -> int:
    """The amount one event adds (records of a bulk upload), else 0."""
    spec = AMOUNTS.get(event.event)
    if spec is None:
        return 0
    value = event.properties.get(spec[1])
    return value if type(value) is int else 0  # not a bool, not a float


def signature(event: StoredEvent, *, without: str | None = None) -> Hashable:
    """Everything :func:`dimensions` reads of ``event``: equal signatures, equal buckets.

    Stores memoise buckets by it, so a batch of similar events computes them
    once. ``without`` leaves one property out (an amount that a store reads per
    event, see :data:`AMOUNTS`). Property types are part of it: ``True == 1``
    in Python, yet ``records=True`` counts no records and ``records=1`` one.
    If :func:`dimensions` ever reads another field, it must be added here.
    """
    props = event.properties
    return (
        event.event,
        event.app_version,
        event.python_version,
        event.system,
        event.machine,
        event.library,
        tuple([(k, type(v), v) for k, v in props.items() if k != without]) if props else (),
    )


def dimensions(event: StoredEvent) -> Iterator[tuple[str, str, int]]:
    """The ``(dimension, value, amount)`` buckets one event counts in."""
    version = event.app_version or "unknown"
    yield "all", "", 0
    yield "event", event.event, 0
    yield "version", version, 0
    yield "python", event.python_version or "unknown", 0
    yield "system", event.system or "unknown", 0
    yield "machine", event.machine or "unknown", 0
    yield "library", event.library or "unknown", 0
    props = event.properties
    if event.event == "ServerErrorFound":
        code = props.get("code")
        kind = props.get("type")
        error = f"{code if isinstance(code, str) else 'unknown'}\t{kind or ''}"
        yield "error", error, 0
        yield "error_version", f"{version}\t{error}", 0
    elif event.event == CRASH_EVENT:
        crash = props.get("signature")
        crash = crash if isinstance(crash, str) and crash else "unknown"
        exception = props.get("exception")
        yield "crash", f"{crash}\t{exception if isinstance(exception, str) else ''}", 0
        yield "crash_version", f"{version}\t{crash}", 0
        frames = props.get("frames")
        stack = "\n".join(frames) if isinstance(frames, (list, tuple)) else ""
        yield "crash_frames", f"{crash}\t{stack}", 0
    elif event.event == "LogRecordsRequested":
        task = props.get("task")
        yield "bulk_task", task if isinstance(task, str) else "unknown", amount_of(event)
    elif event.event == "TrainerUsage":
        framework = props.get("framework") or "unknown"
        task = props.get("task") or "unknown"
        yield "trainer", f"{framework}\t{task}", 0
    elif event.event == "UserInfoRequested":
        agent = props.get("user-agent")
        yield "client", client_family(agent if isinstance(agent, str) else ""), 0
        language = props.get("accept-language")
        yield "language", language_of(language if isinstance(language, str) else ""), 0


_FAMILIES = (
    # (substring, family): first match wins; order matters (Edge says Chrome too).
    ("edg/", "Edge"),
    ("firefox/", "Firefox"),
    ("chrome/", "Chrome"),
    ("safari/", "Safari"),
    ("argilla", "argilla client"),
    ("python-requests", "python-requests"),
    ("python-httpx", "httpx"),
    ("httpx", "httpx"),
    ("aiohttp", "aiohttp"),
    ("curl/", "curl"),
    ("python", "other Python"),
)


@functools.lru_cache(maxsize=4096)  # clients repeat the same few strings
def client_family(user_agent: str) -> str:
    """A coarse client family (browser or library) from a user-agent string."""
    lowered = user_agent.lower()
    if not lowered:
        return "unknown"
    for needle, family in _FAMILIES:
        if needle in lowered:
            return family
    return "other"


@functools.lru_cache(maxsize=4096)
def language_of(accept_language: str) -> str:
    """The primary language subtag of the first ``Accept-Language`` entry (``en``, ``de``)."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
    primary = first.split("-", 1)[0].lower()
    if not primary or primary == "*" or not primary.isalpha() or len(primary) > 8:
        return "unknown"
    return primary
