"""Helpers for host apps to assert exactly what they send.

Example::

    from pigeon.testing import capture_events

    def test_me_is_tracked(client):
        with capture_events() as events:
            client.get("/api/me", headers={"User-Agent": "pytest"})
        assert events.named("UserInfoRequested")[0]["properties"]["user-agent"] == "pytest"

Inside ``capture_events()`` every enabled :class:`pigeon.Client` (existing or
created inside the block) validates, enriches and encodes each event
synchronously, exactly as its sender thread would, and the resulting wire
message is appended to the list instead of being queued. Events the catalog
refuses are not captured, because they would not be sent. Disabled clients
capture nothing, because they would send nothing. Blocks may nest: an event
is captured by every block open at the time.

For end-to-end tests of the sending path, pass a :class:`MemoryTransport` to
the client instead: ``pigeon.Client("myapp", "1.0", transport=MemoryTransport())``
and read ``transport.messages`` after ``client.flush()``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pigeon._client import Client, bind_track, live_clients, prepare_now, watch_new_clients
from pigeon._transports import MemoryTransport

__all__ = ["CapturedEvents", "MemoryTransport", "capture_events"]


class CapturedEvents(list[dict[str, Any]]):
    """The wire messages captured so far, in order (each a decoded JSON object)."""

    def named(self, event: str) -> list[dict[str, Any]]:
        """The captured messages of one event."""
        return [m for m in self if m.get("event") == event]

    def properties(self, event: str) -> list[dict[str, Any]]:
        """The properties of each captured message of one event."""
        return [m["properties"] for m in self.named(event)]


# The capture lists of the open blocks, innermost last, and the clients bound to them.
_open: list[CapturedEvents] = []
_bound: list[Client] = []
_lock = threading.Lock()


def _bind(client: Client) -> None:
    def track(event: str, properties: Mapping[str, Any] | None = None) -> None:
        try:
            message = prepare_now(client, (event, properties, time.time()))
        except Exception:  # same promise as the real path: never raise into the host
            return
        if message is None:
            return
        decoded = json.loads(message)
        for events in list(_open):
            events.append(decoded)

    track.__doc__ = Client.track.__doc__
    bind_track(client, track)
    _bound.append(client)


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Capture every event that enabled clients would send, synchronously.

    Yields:
        The list of captured wire messages, filled as events are tracked.

    Example::

        with capture_events() as events:
            client.track("ServerStarted")
        assert events.named("ServerStarted")
    """
    events = CapturedEvents()
    with _lock:
        _open.append(events)
        if len(_open) == 1:
            for client in live_clients():
                _bind(client)
            watch_new_clients(_bind)
    try:
        yield events
    finally:
        with _lock:
            # By identity: two capture lists with the same content compare equal.
            del _open[next(i for i, e in enumerate(_open) if e is events)]
            if not _open:
                watch_new_clients(None)
                live = live_clients()
                for client in _bound:
                    if client in live:  # a client shut down meanwhile stays a no-op
                        bind_track(client, None)
                _bound.clear()
