"""The on-disk spool: caps, permissions, corruption, and delivery by a later process."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from pigeon._spool import SPOOL_DIRNAME, Spool, SpoolLimits
from tests.sdk._sink import Blackhole, Sink
from tests.sdk.conftest import ClientFactory, records, run_python, sender_of, track_records


def message(n: int, filler: str = "") -> str:
    return json.dumps(
        {"type": "track", "event": "E", "messageId": f"id-{n}", "properties": {"f": filler}}
    )


def spool_files(home: Path) -> list[Path]:
    directory = home / SPOOL_DIRNAME
    return sorted(directory.glob("spool-*")) if directory.exists() else []


def test_written_events_are_private_and_claimed_exactly_once(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / SPOOL_DIRNAME))
    now = time.time()
    assert spool.write([(now, message(1)), (now, message(2))]).written == 2
    [file] = spool_files(tmp_path)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / SPOOL_DIRNAME).stat().st_mode) == 0o700
    other_process = Spool(str(tmp_path / SPOOL_DIRNAME))
    claimed = spool.claim()
    assert [m for _, m in claimed.entries] == [message(1), message(2)]
    assert other_process.claim().entries == []
    assert spool_files(tmp_path) == []


def test_the_size_cap_drops_the_newest_events(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / SPOOL_DIRNAME), SpoolLimits(max_bytes=2_000))
    now = time.time()
    first = spool.write([(now, message(n, "x" * 200)) for n in range(5)])
    assert (first.written, first.dropped_full) == (5, 0)
    second = spool.write([(now, message(n, "x" * 200)) for n in range(5, 10)])
    assert second.written + second.dropped_full == 5
    assert second.dropped_full >= 1
    total = sum(f.stat().st_size for f in spool_files(tmp_path))
    assert total <= 2_000
    kept = sorted(int(json.loads(m)["messageId"][3:]) for _, m in spool.claim().entries)
    assert kept == list(range(5 + second.written))  # the oldest were kept


def test_the_file_count_cap_drops_new_writes(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / SPOOL_DIRNAME), SpoolLimits(max_files=2))
    now = time.time()
    assert [spool.write([(now, message(n))]).written for n in range(3)] == [1, 1, 0]


def test_events_older_than_the_age_cap_are_dropped(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / SPOOL_DIRNAME), SpoolLimits(max_age=3600))
    now = time.time()
    result = spool.write([(now - 7200, message(1)), (now, message(2))])
    assert (result.written, result.dropped_expired) == (1, 1)
    later = spool.claim(now=now + 3601)
    assert (later.entries, later.expired) == ([], 1)


@pytest.mark.parametrize(
    "content",
    [
        b"not a spool at all",
        b"pigeon-spool 1\n1700000000.0\t{not json}\n",
        b"pigeon-spool 1\n1700000000.0\t" + message(1).encode(),  # truncated: no newline
        b"pigeon-spool 1\nyesterday\t" + message(1).encode() + b"\n",
        b'pigeon-spool 1\n1700000000.0\t{"type":"identify"}\n',
        b"pigeon-spool 1\n\xff\xfe\n",
    ],
    ids=["garbage", "bad-json", "truncated", "bad-time", "not-a-track", "not-utf8"],
)
def test_a_corrupt_file_is_discarded_whole(tmp_path: Path, content: bytes) -> None:
    directory = tmp_path / SPOOL_DIRNAME
    directory.mkdir()
    (directory / "spool-0000000000001-1-aaaa.jsonl").write_bytes(content)
    spool = Spool(str(directory))
    spool.write([(time.time(), message(2))])
    claimed = spool.claim()
    assert claimed.corrupt_files == 1
    assert [m for _, m in claimed.entries] == [message(2)]
    assert spool_files(tmp_path) == []


def test_an_unwritable_home_loses_the_events_but_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = Spool(str(blocker / SPOOL_DIRNAME)).write([(time.time(), message(1))])
    assert (result.written, result.failed) == (0, 1)


EXIT_SCRIPT = """
import sys
import pigeon
from pigeon._sender import Policy
client = pigeon.Client("argilla", "1.29.0", endpoint=sys.argv[1], write_key="k",
                       home=sys.argv[2], environ={})
client._sender.policy = Policy(timeout=0.3, exit_timeout=0.5)
for n in range(int(sys.argv[3]), int(sys.argv[4])):
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": n,
                                         "dataset": "CANARY-7d1c-dataset"})
client.track("ServerErrorFound", {"code": "x", "message": "CANARY-7d1c-message"})
"""


def test_events_left_at_exit_are_spooled_and_delivered_by_the_next_run(
    blackhole: Blackhole, sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "app-home"
    done = run_python(EXIT_SCRIPT, blackhole.url, str(home), "0", "150")
    assert done.returncode == 0, done.stderr
    [file] = spool_files(home)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    text = file.read_text()
    assert "CANARY" not in text  # only what the catalog let through reaches the disk
    spooled_ids = {
        json.loads(line.split("\t", 1)[1])["messageId"] for line in text.splitlines()[1:]
    }
    assert len(spooled_ids) == 151

    client = make_client(sink.url, home=home)
    track_records(client, [1000])
    assert client.flush(timeout=10)
    delivered = sink.events()
    assert records(delivered) == [*range(150), 1000]
    assert spooled_ids <= {m["messageId"] for m in delivered}  # the same ids: dedup-safe
    assert client.counters["restored"] == 151
    assert spool_files(home) == []


def test_shutdown_spools_what_it_could_not_deliver(
    blackhole: Blackhole, sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "app-home"
    stuck = make_client(blackhole.url, home=home)
    track_records(stuck, range(3))
    stuck.shutdown(timeout=0.3)
    assert stuck.counters["spooled"] == 3
    stuck.track("LogRecordsRequested", {"task": "Text2Text", "records": 99})  # ignored now
    later = make_client(sink.url, home=home)
    track_records(later, [3])
    assert later.flush(timeout=10)
    assert records(sink.events()) == [0, 1, 2, 3]


def test_flush_with_spool_keeps_the_client_running(
    blackhole: Blackhole, sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "app-home"
    stuck = make_client(blackhole.url, home=home)
    track_records(stuck, range(3))
    assert stuck.flush(timeout=0.3, spool=True) is False
    assert stuck.counters["spooled"] == 3
    assert len(spool_files(home)) == 1
    track_records(stuck, [3])  # still tracking: it goes out (or to the spool) later
    assert stuck.flush(timeout=0.3, spool=True) is False
    assert stuck.counters["spooled"] == 4
    later = make_client(sink.url, home=home)
    track_records(later, [4])
    assert later.flush(timeout=10)
    assert records(sink.delivered()) == [0, 1, 2, 3, 4]


def test_flush_with_spool_to_a_working_collector_delivers_and_writes_nothing(
    sink: Sink, tmp_path: Path, make_client: ClientFactory
) -> None:
    client = make_client(sink.url, home=tmp_path / "app-home")
    track_records(client, range(5))
    assert client.flush(timeout=10, spool=True)
    assert spool_files(tmp_path / "app-home") == []
    track_records(client, [5])
    assert client.flush(timeout=10)
    assert records(sink.delivered()) == list(range(6))


def test_a_corrupt_spool_is_discarded_with_one_warning(
    sink: Sink, tmp_path: Path, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "app-home"
    directory = home / SPOOL_DIRNAME
    directory.mkdir(parents=True)
    for n in range(3):
        (directory / f"spool-000000000000{n}-1-aaaa.jsonl").write_bytes(b"\x00garbage" * n)
    client = make_client(sink.url, home=home)
    track_records(client, [1])
    assert client.flush(timeout=10)
    assert records(sink.events()) == [1]
    assert client.counters["spool_corrupt"] == 3
    assert list(directory.iterdir()) == []
    warnings = [r for r in caplog.records if "corrupt telemetry spool" in r.getMessage()]
    assert len(warnings) == 1


def test_the_spool_stays_put_while_backing_off(
    blackhole: Blackhole, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "app-home"
    Spool(str(home / SPOOL_DIRNAME)).write([(time.time(), message(1))])
    client = make_client(blackhole.url, home=home)
    sender_of(client).backoff.failure(retry_after=3600.0)  # as if another run just failed
    track_records(client, [1])
    assert not client.flush(timeout=0.5)
    assert len(spool_files(home)) == 1  # not claimed: no attempt will be made for an hour
    assert blackhole.connections == 0
    client.shutdown(timeout=0.5)
    assert len(spool_files(home)) == 2  # this run's event joined it


def test_everything_in_flight_or_queued_is_spooled_in_order(
    blackhole: Blackhole, tmp_path: Path, make_client: ClientFactory
) -> None:
    home = tmp_path / "app-home"
    stuck = make_client(blackhole.url, home=home)
    track_records(stuck, range(250))  # one batch in flight, one built behind it, the rest queued
    assert blackhole.accepted.wait(10)
    stuck.shutdown(timeout=0.3)
    assert stuck.counters["spooled"] == 250
    [file] = spool_files(home)
    lines = file.read_text().splitlines()[1:]
    assert [json.loads(line.split("\t", 1)[1])["properties"]["records"] for line in lines] == list(
        range(250)
    )
