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
message is appended to the list instead of being queued. Disabled clients
capture nothing, because they would send nothing.
"""

from __future__ import annotations

import json
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


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Capture every event that enabled clients would send, synchronously."""
    events = CapturedEvents()
    bound: list[Client] = []

    def bind(client: Client) -> None:
        def track(event: str, properties: Mapping[str, Any] | None = None) -> None:
            try:
                message = prepare_now(client, (event, properties, time.time()))
            except Exception:  # same promise as the real path: never raise into the host
                return
            if message is not None:
                events.append(json.loads(message))

        track.__doc__ = Client.track.__doc__
        bind_track(client, track)
        bound.append(client)

    for client in live_clients():
        bind(client)
    watch_new_clients(bind)
    try:
        yield events
    finally:
        watch_new_clients(None)
        for client in bound:
            if client.enabled and client in live_clients():
                bind_track(client, None)
