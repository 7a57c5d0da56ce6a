"""The local ledger: exactly what left the process, bounded, private; and the modes."""

from __future__ import annotations

import gzip
import json
import os
import stat
import time
from pathlib import Path

import pytest

import pigeon
from pigeon._ledger import LEDGER_DIRNAME, Ledger, LedgerLimits
from pigeon._settings import read_settings
from tests.sdk._sink import Blackhole, Reply, Sink
from tests.sdk.conftest import ClientFactory, records, sender_of, track_records

DAY = 86400.0


def ledger_bodies(home: Path) -> list[str]:
    return [entry.body for entry in Ledger(str(home / LEDGER_DIRNAME)).entries()]


def received_bodies(sink: Sink) -> list[str]:
    """The body of every batch the sink acknowledged, decompressed."""
    return [gzip.decompress(r.raw).decode("utf-8") for r in sink.acknowledged]


# -- the ledger itself ---------------------------------------------------------------------------


def test_entries_round_trip_and_the_files_are_private(tmp_path: Path) -> None:
    ledger = Ledger(str(tmp_path / LEDGER_DIRNAME))
    body = '{"batch":[{"event":"E","é":"ü"}],"sentAt":"x"}'.encode()
    assert ledger.append(body, events=1, mode="on", endpoint="http://127.0.0.1:1")
    assert ledger.append(body, events=1, mode="local", endpoint="")
    entries = list(ledger.entries())
    assert [(e.mode, e.events, e.body.encode()) for e in entries] == [
        ("on", 1, body),
        ("local", 1, body),
    ]
    assert entries[0].messages == [{"event": "E", "é": "ü"}]
    assert stat.S_IMODE(os.stat(tmp_path / LEDGER_DIRNAME).st_mode) == 0o700
    (path,) = ledger.files()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_files_roll_over_and_the_oldest_go_past_the_size_cap(tmp_path: Path) -> None:
    ledger = Ledger(str(tmp_path), LedgerLimits(max_bytes=10_000, max_days=30, file_bytes=2_000))
    for n in range(60):
        body = json.dumps({"batch": [{"n": n, "pad": "x" * 500}], "sentAt": "x"}).encode()
        assert ledger.append(body, events=1, mode="on", endpoint="e")
    sizes = [os.path.getsize(p) for p in ledger.files()]
    assert len(sizes) > 2
    assert all(size <= 2_000 for size in sizes)
    assert sum(sizes) <= 10_000
    kept = [entry.messages[0]["n"] for entry in ledger.entries()]
    assert kept == list(range(60 - len(kept), 60))  # the newest, in order
    assert len(kept) >= 10


def test_days_past_the_age_cap_are_deleted(tmp_path: Path) -> None:
    ledger = Ledger(str(tmp_path), LedgerLimits(max_days=7))
    now = time.time()
    assert ledger.append(b"{}", events=0, mode="on", endpoint="e", now=now - 10 * DAY)
    assert ledger.append(b"{}", events=0, mode="on", endpoint="e", now=now - 3 * DAY)
    assert len(ledger.files()) == 2
    assert ledger.append(b"{}", events=0, mode="on", endpoint="e", now=now)
    assert len(ledger.files()) == 2  # the 10-day-old file went, the 3-day-old one stays
    assert all(
        e.at > time.strftime("%Y-%m-%d", time.gmtime(now - 5 * DAY)) for e in ledger.entries()
    )


def test_an_unwritable_ledger_says_so_and_never_raises(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    ledger = Ledger(str(tmp_path / "file" / LEDGER_DIRNAME))
    assert ledger.append(b"{}", events=0, mode="on", endpoint="e") is False
    assert list(ledger.entries()) == []


# -- the ledger equals what the collector received -----------------------------------------------


def test_the_ledger_is_what_the_collector_received_across_retries(
    sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    sink.script(Reply(status=500), Reply(status=429, headers={"Retry-After": "0"}), Reply())
    home = tmp_path / "home"
    client = make_client(sink.url, home=home)
    track_records(client, range(250))
    assert client.flush(timeout=20)
    assert len(sink.requests) > len(sink.acknowledged) >= 3  # two attempts failed
    assert ledger_bodies(home) == received_bodies(sink)  # byte for byte, in order
    assert records(sink.delivered()) == list(range(250))


def test_the_ledger_holds_spooled_events_once_they_leave(
    blackhole: Blackhole, sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "home"
    stuck = make_client(blackhole.url, home=home)
    track_records(stuck, range(5))
    stuck.shutdown(timeout=0.3)
    assert stuck.counters["spooled"] == 5
    assert ledger_bodies(home) == []  # nothing left the process
    later = make_client(sink.url, home=home)
    track_records(later, [5])
    assert later.flush(timeout=10)
    assert ledger_bodies(home) == received_bodies(sink)
    assert records(sink.delivered()) == list(range(6))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parent_and_child_share_one_ledger_that_matches_the_collector(
    sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "home"
    client = make_client(sink.url, home=home)
    track_records(client, range(150))
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            track_records(client, range(1000, 1120))
            code = 0 if client.flush(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.flush(timeout=10)
    assert sorted(ledger_bodies(home)) == sorted(received_bodies(sink))
    assert records(sink.delivered()) == [*range(150), *range(1000, 1120)]


# -- modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "mode", "reason"),
    [
        ({}, "on", None),
        ({"ARGILLA_TELEMETRY_MODE": "on"}, "on", None),
        ({"ARGILLA_TELEMETRY_MODE": " Local "}, "local", None),
        ({"ARGILLA_TELEMETRY_MODE": "off"}, "off", "ARGILLA_TELEMETRY_MODE=off"),
        ({"ARGILLA_TELEMETRY_MODE": "remote"}, "off", "ARGILLA_TELEMETRY_MODE='remote'"),
        ({"ARGILLA_TELEMETRY_MODE": "local", "DO_NOT_TRACK": "1"}, "off", "DO_NOT_TRACK=1"),
        (
            {"ARGILLA_TELEMETRY_MODE": "local", "ARGILLA_ENABLE_TELEMETRY": "0"},
            "off",
            "ARGILLA_ENABLE_TELEMETRY=0",
        ),
        ({"ARGILLA_TELEMETRY_MODE": "on", "ARGILLA_ENABLE_TELEMETRY": "1"}, "on", None),
        ({"CI": "true"}, "off", "CI=true (CI detected)"),
        ({"CI": "true", "ARGILLA_TELEMETRY_MODE": "local"}, "local", None),  # explicit
    ],
)
def test_the_mode_and_its_precedence(env: dict[str, str], mode: str, reason: str | None) -> None:
    settings = read_settings("argilla", env)
    assert settings.mode == mode
    assert settings.enabled is (mode != "off")
    assert (settings.disabled_reason or "").startswith(reason or "")
    assert bool(settings.disabled_reason) is (reason is not None)


def test_local_mode_records_what_on_mode_would_send_and_sends_nothing(
    sink: Sink, tmp_path: Path
) -> None:
    def run(mode: str, home: Path) -> pigeon.Client:
        client = pigeon.Client(
            "argilla",
            "1.29.0",
            endpoint=sink.url,
            write_key="k",
            home=home,
            environ={"ARGILLA_TELEMETRY_MODE": mode},
        )
        sender_of(client).policy = sender_of(client).policy._replace(interval=0.05)
        track_records(client, range(120))
        assert client.flush(timeout=10)
        client.shutdown(timeout=1)
        return client

    local = run("local", tmp_path / "local")
    assert local.mode == "local"
    assert local.counters == {"recorded_locally": 120}
    assert sink.requests == []  # not one request
    on = run("on", tmp_path / "on")
    assert on.counters == {"sent": 120}
    recorded = [json.loads(b)["batch"] for b in ledger_bodies(tmp_path / "local")]
    sent = [json.loads(b)["batch"] for b in received_bodies(sink)]
    strip = ("messageId", "timestamp", "anonymousId")  # unique per event and install

    def shape(batches: list[list[dict[str, object]]]) -> list[dict[str, object]]:
        return [{k: v for k, v in m.items() if k not in strip} for b in batches for m in b]

    assert shape(recorded) == shape(sent)
    modes = {e.mode for e in Ledger(str(tmp_path / "local" / LEDGER_DIRNAME)).entries()}
    assert modes == {"local"}


def test_local_mode_needs_no_endpoint_and_beats_the_apps_transport(tmp_path: Path) -> None:
    from pigeon.testing import MemoryTransport

    transport = MemoryTransport()
    client = pigeon.Client(
        "argilla",
        "1.29.0",
        transport=transport,
        home=tmp_path,
        environ={"ARGILLA_TELEMETRY_MODE": "local"},
    )
    assert client.enabled
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    client.shutdown(timeout=1)
    assert transport.batches == []
    assert client.counters == {"recorded_locally": 1}
    assert len(ledger_bodies(tmp_path)) == 1
