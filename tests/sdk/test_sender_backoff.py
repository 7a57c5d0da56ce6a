"""Back-off: exponential with jitter, Retry-After, the long pause, shared through a file."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from pigeon._backoff import BACKOFF_FILENAME, Backoff, BackoffPolicy
from pigeon._http import parse_retry_after
from tests.sdk._sink import Blackhole
from tests.sdk.conftest import QUICK, ClientFactory, sender_of, track_records

POLICY = BackoffPolicy(base=1.0, cap=60.0, attempts=5, long=3600.0, long_cap=86400.0)
ENDPOINT = "https://telemetry.example.org"


def test_delays_double_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(POLICY._replace(attempts=100), None, ENDPOINT)
    for failure in range(1, 10):
        delay = backoff.failure()
        nominal = min(2.0 ** (failure - 1), 60.0)
        assert nominal / 2 <= delay <= nominal
        assert backoff.wait() == pytest.approx(delay, abs=0.5)
    assert not backoff.long


def test_retry_after_lengthens_a_delay_but_never_shortens_it() -> None:
    backoff = Backoff(POLICY, None, ENDPOINT)
    assert 30.0 <= backoff.failure(retry_after=30.0) <= 30.1
    backoff.failure()
    backoff.failure()
    assert 4.0 <= backoff.failure(retry_after=0.0) <= 8.0


def test_repeated_failures_pause_for_hours_doubling_to_a_day() -> None:
    backoff = Backoff(POLICY, None, ENDPOINT)
    for _ in range(4):
        assert backoff.failure() < 60
    pauses = [backoff.failure() for _ in range(8)]
    assert backoff.long
    assert 0.9 * 3600 <= pauses[0] <= 1.1 * 3600
    assert 0.9 * 7200 <= pauses[1] <= 1.1 * 7200
    assert all(0.9 * 86400 <= p <= 1.1 * 86400 for p in pauses[5:])


def test_success_ends_the_streak_and_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / BACKOFF_FILENAME
    backoff = Backoff(POLICY, str(path), ENDPOINT)
    backoff.failure()
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    backoff.success()
    assert not path.exists()
    assert (backoff.failures, backoff.wait()) == (0, 0.0)


def test_another_process_adopts_the_state_for_the_same_endpoint_only(tmp_path: Path) -> None:
    path = str(tmp_path / BACKOFF_FILENAME)
    first = Backoff(POLICY, path, ENDPOINT)
    for _ in range(5):
        first.failure()
    same = Backoff(POLICY, path, ENDPOINT)
    same.load()
    assert same.long
    assert same.wait() == pytest.approx(first.wait(), abs=1.0)
    other = Backoff(POLICY, path, "https://elsewhere.example.org")
    other.load()
    assert (other.failures, other.wait()) == (0, 0.0)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "garbage",
        "pigeon-backoff 1\nsoon\n1\n0\nhttps://telemetry.example.org\n",
        f"pigeon-backoff 1\n{time.time() + 10 * 86400}\n9\n3\nhttps://telemetry.example.org\n",
    ],
    ids=["empty", "garbage", "not-a-number", "clock-jumped"],
)
def test_a_bad_state_file_is_ignored(tmp_path: Path, content: str) -> None:
    path = tmp_path / BACKOFF_FILENAME
    path.write_text(content)
    backoff = Backoff(POLICY, str(path), ENDPOINT)
    backoff.load()
    assert (backoff.failures, backoff.wait()) == (0, 0.0)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("99999999") == 86400.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT", now=now) == pytest.approx(60.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:14:20 -0000", now=now) == pytest.approx(60.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0.0
    for bad in (None, "", "soon", "nan", "Tue, 99 Nov 2023 25:00:00 GMT"):
        assert parse_retry_after(bad, now=now) is None


def test_a_dead_collector_gets_a_handful_of_attempts_then_none_from_any_process(
    blackhole: Blackhole, make_client: ClientFactory, tmp_path: Path
) -> None:
    policy = QUICK._replace(timeout=0.1, backoff=QUICK.backoff._replace(attempts=3))
    home = tmp_path / "shared-home"
    first = make_client(blackhole.url, policy=policy, home=home)
    track_records(first, [1])
    # Three quick attempts, then an hour's pause: flush gives up at once.
    assert not first.flush(timeout=10)
    assert first.counters.get("failed_timeout") == 3
    assert blackhole.connections == 3
    assert sender_of(first).backoff.long
    # A new process (here: a new client on the same home) respects the pause.
    second = make_client(blackhole.url, policy=policy, home=home)
    track_records(second, [2])
    assert not second.flush(timeout=10)
    assert not any(k.startswith("failed_") for k in second.counters)
    assert blackhole.connections == 3
    assert os.path.exists(home / BACKOFF_FILENAME)
