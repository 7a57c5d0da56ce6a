"""The smallest end-to-end path: track, flush, look at what the transport got."""

from __future__ import annotations

from pathlib import Path

import pigeon
from pigeon.testing import MemoryTransport


def test_track_flush_delivers_validated_events(tmp_path: Path) -> None:
    transport = MemoryTransport()
    client = pigeon.Client("argilla", "1.29.0", transport=transport, home=tmp_path)
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": 3, "name": "x"})
    assert client.flush(timeout=5.0)
    [message] = transport.messages
    assert message["event"] == "LogRecordsRequested"
    assert message["properties"] == {"task": "Text2Text", "records": 3}
    assert message["anonymousId"] == client.anonymous_id
    client.shutdown()
