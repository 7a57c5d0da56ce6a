"""Per-address token buckets: bursts, refill, Retry-After, bounded memory."""

from __future__ import annotations

import pytest

from pigeon.collector._ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, burst=4, clock=clock)
    assert [limiter.admit("a") for _ in range(4)] == [0.0] * 4
    wait = limiter.admit("a")
    assert wait == pytest.approx(0.5)
    assert limiter.retry_after_header(wait) == "1"
    assert limiter.admit("b") == 0.0  # another address has its own bucket
    clock.now += 0.5
    assert limiter.admit("a") == 0.0
    assert limiter.admit("a") > 0
    clock.now += 100
    assert [limiter.admit("a") for _ in range(4)] == [0.0] * 4  # refilled, never beyond the burst
    assert limiter.admit("a") > 0


def test_retry_after_is_whole_seconds() -> None:
    limiter = RateLimiter(0.1, burst=1, clock=Clock())
    assert limiter.admit("a") == 0.0
    wait = limiter.admit("a")
    assert wait == pytest.approx(10.0)
    assert limiter.retry_after_header(wait) == "10"
    assert limiter.retry_after_header(0.01) == "1"


def test_a_flood_of_addresses_keeps_memory_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, burst=2, max_clients=100, clock=clock)
    for n in range(10_000):
        limiter.admit(f"10.0.{n // 256}.{n % 256}")
        assert len(limiter) <= 100
    recent = "10.0.39.15"  # the last address seen is still limited
    limiter.admit(recent)
    assert limiter.admit(recent) > 0


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)
