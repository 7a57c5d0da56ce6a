"""Judging messages: every context layout is read; each message is judged on its own."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from pigeon.catalog import Catalog
from pigeon.collector._events import sort_posthog, sort_segment
from pigeon.collector._messages import Context

CATALOG = Catalog.load("argilla")
NOW = 1_800_000_000_000  # 2027-01-15T08:00:00Z


def raws(*messages: Mapping[str, object]) -> list[msgspec.Raw]:
    return [msgspec.Raw(msgspec.json.encode(m)) for m in messages]


def test_each_context_layout_is_read_and_unknown_keys_are_ignored() -> None:
    pigeon_layout = {
        "app": {"version": "2.0"}, "library": {"name": "pigeon", "version": "0.1"},
        "os": {"name": "Linux", "version": "6.1"}, "catalog": {"version": "4"},
        "runtime": {"python_version": "3.12.0", "system": "Linux", "release": "6.1",
                    "machine": "aarch64", "platform": "Linux-6.1-aarch64"},
        "ip": "10.0.0.1",
    }  # fmt: skip
    historical = {
        "version": "1.1",
        "python_version": "3.7.1",
        "system": "Windows",
        "machine": "AMD64",
        "platform": "Windows-10",
    }
    odd = {
        "app": "not an object",
        "runtime": [1, 2],
        "version": 5,
        "os": {"name": "Darwin", "version": "23.1"},
    }
    messages: list[dict[str, object]] = [
        {"event": "ServerStarted", "anonymousId": "a", "context": pigeon_layout},
        {"event": "ServerStarted", "userId": 42, "context": historical},
        {"event": "ServerStarted", "anonymousId": "c", "context": odd},
        {"event": "ServerStarted", "anonymousId": "d", "context": "nonsense"},
        {"event": "ServerStarted", "anonymousId": "e"},
    ]
    sorting = sort_segment(raws(*messages), CATALOG, None, NOW)
    assert sorting.rejected == []
    contexts = [Context(*(getattr(e, f) for f in Context._fields)) for e in sorting.events]
    assert contexts == [
        Context("2.0", "3.12.0", "Linux", "6.1", "aarch64", "Linux-6.1-aarch64", "pigeon/0.1", "4"),
        Context("1.1", "3.7.1", "Windows", "", "AMD64", "Windows-10", "", ""),
        Context("", "", "Darwin", "23.1", "", "", "", ""),
        Context(),
        Context(),
    ]
    assert [e.anonymous_id for e in sorting.events] == ["a", "42", "c", "d", "e"]
    assert all(e.timestamp_ms == NOW for e in sorting.events)  # no timestamp: received time


def test_a_batch_level_context_applies_to_messages_without_one() -> None:
    shared = msgspec.Raw(msgspec.json.encode({"app": {"version": "9.9"}}))
    own = {"event": "ServerStarted", "anonymousId": "b", "context": {"app": {"version": "1.0"}}}
    messages = raws({"event": "ServerStarted", "anonymousId": "a"}, own)
    sorting = sort_segment(messages, CATALOG, None, NOW, default_context=shared)
    assert [e.app_version for e in sorting.events] == ["9.9", "1.0"]


def test_posthog_properties_give_the_context() -> None:
    properties = {"framework": "peft", "task": "DPO", "$lib": "posthog-python",
                  "$lib_version": "7.1", "$os": "Mac OS X", "$os_version": "14.2",
                  "$python_version": "3.11.4", "$app_version": "1.2"}  # fmt: skip
    event = {"event": "TrainerUsage", "distinct_id": 7, "uuid": "u-1",
             "timestamp": "2027-01-15T08:00:00+01:00", "properties": properties}  # fmt: skip
    sorting = sort_posthog(raws(event), CATALOG, None, NOW)
    (stored,) = sorting.events
    assert (stored.message_id, stored.anonymous_id, stored.app_version) == ("u-1", "7", "1.2")
    assert (stored.library, stored.system, stored.release, stored.python_version) == (
        "posthog-python/7.1",
        "Mac OS X",
        "14.2",
        "3.11.4",
    )
    assert stored.properties == {"framework": "peft", "task": "DPO"}
    assert stored.timestamp_ms == NOW - 3_600_000  # 08:00+01:00 is 07:00 UTC


def test_skew_correction_uses_sent_at() -> None:
    sent_at = NOW + 3_600_000  # the client's clock is one hour fast
    # The event happened 10 minutes before sending, by the client's (fast) clock.
    message = {"event": "ServerStarted", "anonymousId": "a", "timestamp": "2027-01-15T08:50:00Z"}
    sorting = sort_segment(raws(message), CATALOG, sent_at, NOW)
    (stored,) = sorting.events
    assert stored.timestamp_ms == NOW - 600_000
