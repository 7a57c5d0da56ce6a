"""What one ``track()`` costs the host's thread, against a floor and two well-known SDKs.

Run: ``python benchmarks/bench_track.py`` (about a minute; ``--quick`` for a few seconds).

Everything is measured in this one run, so the ratios hold on any machine:

- floor: ``queue.SimpleQueue().put`` of a ready 3-tuple, the least a queueing SDK can do,
  and the same with ``time.time()`` read into the tuple (every SDK stamps events on
  the caller's thread; the clock read alone costs 2-3x the floor on some machines);
- pigeon ``track()`` enabled, its sender thread running, delivering to a memory
  transport that keeps nothing (nothing is sent);
- pigeon ``track()`` disabled (an opt-out in force);
- PostHog's ``capture`` and Segment's ``track`` when installed, pointed at a closed
  port on 127.0.0.1 with their consumer threads not started, so that what is
  measured is their call path (validation, enrichment, enqueue) and nothing leaves
  the machine: a guard refuses any connection that is not to the loopback address;
- ``import pigeon``: a fresh interpreter importing it, minus a bare interpreter;
- an enabled ``pigeon.Client(...)`` in a fresh interpreter, minus ``import pigeon``
  alone: it imports, on the caller's thread, everything its sender thread will use
  (so that a fork never catches that thread inside an import), against PostHog's
  ``import posthog; Posthog(...)`` minus a bare interpreter, when installed.

Per-call medians come from rounds of 1,000 calls timed together (the loop's own
cost is measured and subtracted); p99 comes from calls timed one by one (the
timer's own cost subtracted), since a round hides its slow calls.

Goals (issue 2): enabled median <= 1 us and <= 4x the floor; disabled median
<= 0.1 us; ``import pigeon`` <= 10 ms. Issue 12: ``import pigeon`` plus an enabled
``Client()`` at most half of PostHog's import and construction.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROUND = 1_000
PROPERTIES = {"task": "TextClassification", "records": 120}
EVENT = "LogRecordsRequested"
FLOOR_CLOCK = "  same, with time.time() in it"

Call = Callable[[], object]


@dataclass
class Result:
    """Per-call figures of one candidate, in microseconds."""

    name: str
    median: float
    p99: float


# -- keep everything on this machine ---------------------------------------------------------


def _loopback_only() -> None:
    """Make any connection or name look-up to a non-loopback host fail loudly."""

    def check(host: object) -> None:
        if host in ("localhost", None):
            return
        try:
            if ipaddress.ip_address(str(host)).is_loopback:
                return
        except ValueError:
            pass
        raise RuntimeError(f"benchmark refused a connection to {host!r}: loopback only")

    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            check(address[0])
        real_connect(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


# -- timing ------------------------------------------------------------------------------------


def _round_loop(
    fn: Callable[..., object], rounds: int, between: Call | None, shape: str
) -> list[float]:
    """Seconds per call for each round of ROUND calls.

    ``shape`` is the call: ``"args"`` ``fn(EVENT, PROPERTIES)``; ``"tuple"``
    ``fn((EVENT, PROPERTIES, stamp))``, a queue's ``put`` of a ready tuple; ``"clock"``
    ``fn((EVENT, PROPERTIES, time.time()))``, the same with the event's time read.
    """
    timer = time.perf_counter
    event, props, stamp, clock = EVENT, PROPERTIES, time.time(), time.time
    chunk = range(ROUND)
    samples = []
    for _ in range(rounds):
        if between is not None:
            between()
        start = timer()
        if shape == "tuple":
            for _ in chunk:
                fn((event, props, stamp))
        elif shape == "clock":
            for _ in chunk:
                fn((event, props, clock()))
        else:
            for _ in chunk:
                fn(event, props)
        samples.append((timer() - start) / ROUND)
    return samples


def _single_calls(
    fn: Callable[..., object], count: int, between: Call | None, shape: str
) -> list[float]:
    """Seconds of each call timed alone (timer overhead included)."""
    timer = time.perf_counter_ns
    event, props, stamp, clock = EVENT, PROPERTIES, time.time(), time.time
    samples = []
    for start_index in range(0, count, ROUND):
        if between is not None:
            between()
        for _ in range(min(ROUND, count - start_index)):
            if shape == "tuple":
                t0 = timer()
                fn((event, props, stamp))
            elif shape == "clock":
                t0 = timer()
                fn((event, props, clock()))
            else:
                t0 = timer()
                fn(event, props)
            samples.append((timer() - t0) * 1e-9)
    return samples


def measure(
    name: str,
    fn: Callable[..., object],
    *,
    rounds: int,
    singles: int,
    loop_cost: float,
    timer_cost: float,
    between: Call | None = None,
    shape: str = "args",
) -> Result:
    """Median and p99 per call of ``fn``, in microseconds, overheads subtracted.

    The cost of calling ``fn`` is part of what is measured: a host pays it too.
    """
    gc.collect()
    gc.disable()
    try:
        _round_loop(fn, 1, between, shape)  # warm up: first-call work (thread start, caches)
        rounds_s = _round_loop(fn, rounds, between, shape)
        singles_s = _single_calls(fn, singles, between, shape)
    finally:
        gc.enable()
    median = max(0.0, statistics.median(rounds_s) - loop_cost)
    p99 = max(0.0, statistics.quantiles(singles_s, n=100)[98] - timer_cost)
    return Result(name, median * 1e6, p99 * 1e6)


def overheads(rounds: int, singles: int) -> tuple[float, float]:
    """The cost of one iteration of an empty loop, and of one pair of timer reads."""
    timer = time.perf_counter
    chunk = range(ROUND)
    loops = []
    for _ in range(rounds):
        start = timer()
        for _ in chunk:
            pass
        loops.append((timer() - start) / ROUND)
    timer_ns = time.perf_counter_ns
    pairs = []
    for _ in range(singles):
        t0 = timer_ns()
        pairs.append(timer_ns() - t0)
    return statistics.median(loops), statistics.median(pairs) * 1e-9


# -- candidates ---------------------------------------------------------------------------------


def floor_call() -> tuple[Callable[..., object], Call]:
    """``SimpleQueue.put`` (a bound C method) and a function that empties the queue."""
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    return q.put, lambda: _drain_simple(q)


def _drain_simple(q: queue.SimpleQueue[Any]) -> None:
    while not q.empty():
        q.get_nowait()


def pigeon_clients(home: str) -> tuple[Any, Any, Any]:
    import pigeon
    from pigeon.testing import MemoryTransport

    transport = MemoryTransport()
    enabled = pigeon.Client("argilla", "1.29.0", transport=transport, home=home, environ={})
    disabled = pigeon.Client("argilla", "1.29.0", environ={"DO_NOT_TRACK": "1"})
    assert enabled.enabled
    assert not disabled.enabled
    return enabled, disabled, transport


def posthog_capture(port: int) -> tuple[Callable[..., object], Call] | None:
    try:
        from posthog import Posthog
    except ImportError:
        return None
    client = Posthog(
        "phc_benchmark",
        host=f"http://127.0.0.1:{port}",
        thread=0,  # no consumer thread: measure the call path only
        max_queue_size=10**6,
        flush_at=10**6,
        enable_local_evaluation=False,
    )
    lane = client._analytics_lane

    def capture(event: str, properties: object) -> None:
        client.capture(event, distinct_id="install-1", properties=properties)

    def drain() -> None:
        while True:
            try:
                lane.queue.get_nowait()
            except queue.Empty:
                return
            lane.queue.task_done()

    return capture, drain


def segment_track(port: int) -> tuple[Callable[..., object], Call] | None:
    try:
        from segment.analytics import Client as SegmentClient
    except ImportError:
        return None
    client = SegmentClient("benchmark-key", host=f"http://127.0.0.1:{port}", thread=0)
    client.consumers = []  # thread=0 leaves it unset; its exit hook iterates it

    def track(event: str, properties: object) -> None:
        client.track(anonymous_id="install-1", event=event, properties=properties)

    def drain() -> None:
        while True:
            try:
                client.queue.get_nowait()
            except queue.Empty:
                return
            client.queue.task_done()

    return track, drain


# -- import time -----------------------------------------------------------------------------------


def import_time(runs: int) -> tuple[float, float, float, list[str]]:
    """``import pigeon`` in a fresh interpreter, minus a bare interpreter, in ms.

    Returns the median of paired differences (bare and importing runs alternate,
    so load from elsewhere hits both alike), the difference of the fastest runs,
    the median of ``-X importtime``'s own figure, and the modules imported.
    """
    bare: list[float] = []
    imported: list[float] = []
    self_reported: list[float] = []
    for _ in range(runs):
        for code, sink in (("pass", bare), ("import pigeon", imported)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            sink.append(time.perf_counter() - start)
        report = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import pigeon"],
            check=True,
            capture_output=True,
            text=True,
        ).stderr
        line = [x for x in report.splitlines() if x.rstrip().endswith("| pigeon")][-1]
        self_reported.append(int(line.split("|")[1]) / 1000)
    modules = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; before = set(sys.modules); import pigeon; "
            "new = sorted(set(sys.modules) - before); import json; print(json.dumps(new))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    paired = statistics.median(i - b for i, b in zip(imported, bare, strict=True)) * 1000
    fastest = (min(imported) - min(bare)) * 1000
    return paired, fastest, statistics.median(self_reported), json.loads(modules)


_PIGEON_CLIENT = (
    "import pigeon, sys; pigeon.Client('argilla', '1.0', endpoint='http://127.0.0.1:9', "
    "write_key='k', home=sys.argv[1], environ={})"
)
_POSTHOG_CLIENT = (
    "from posthog import Posthog; Posthog('k', host='http://127.0.0.1:9', sync_mode=False)"
)


def paired_ms(code: str, baseline: str, runs: int, *args: str) -> float:
    """Median of paired differences, in ms, between fresh interpreters running each code."""
    diffs = []
    for _ in range(runs):
        times = []
        for snippet in (baseline, code):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", snippet, *args], check=True)
            times.append(time.perf_counter() - start)
        diffs.append(times[1] - times[0])
    return statistics.median(diffs) * 1000


def client_time(runs: int, home: str) -> tuple[float, float | None]:
    """An enabled client's construction (minus ``import pigeon``), and PostHog's (minus bare)."""
    pigeon_ms = paired_ms(_PIGEON_CLIENT, "import pigeon", runs, home)
    try:
        import posthog  # noqa: F401
    except ImportError:
        return pigeon_ms, None
    return pigeon_ms, paired_ms(_POSTHOG_CLIENT, "pass", runs)


# -- main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, rougher figures")
    args = parser.parse_args()
    rounds, singles, sdk_rounds, import_runs = (
        (30, 5_000, 3, 5) if args.quick else (1_000, 100_000, 20, 25)
    )
    _loopback_only()
    port = _closed_port()
    loop_cost, timer_cost = overheads(rounds, singles)

    results: list[Result] = []
    put, empty = floor_call()
    for label, shape in (("floor: SimpleQueue.put(tuple)", "tuple"), (FLOOR_CLOCK, "clock")):
        results.append(
            measure(
                label,
                put,
                rounds=rounds,
                singles=singles,
                loop_cost=loop_cost,
                timer_cost=timer_cost,
                between=empty,
                shape=shape,
            )
        )
    with tempfile.TemporaryDirectory() as home:
        enabled, disabled, transport = pigeon_clients(home)

        def settle() -> None:  # not timed: let the sender drain, keep memory flat
            enabled.flush(timeout=30)
            transport.batches.clear()

        results.append(
            measure(
                "pigeon track() enabled",
                enabled.track,
                rounds=rounds,
                singles=singles,
                loop_cost=loop_cost,
                timer_cost=timer_cost,
                between=settle,
            )
        )
        settle()
        counters = dict(enabled.counters)
        enabled.shutdown()
        results.append(
            measure(
                "pigeon track() disabled",
                disabled.track,
                rounds=rounds,
                singles=singles,
                loop_cost=loop_cost,
                timer_cost=timer_cost,
            )
        )
    for label, factory in (
        ("PostHog capture()", posthog_capture),
        ("Segment track()", segment_track),
    ):
        made = factory(port)
        if made is None:
            print(f"{label}: not installed, skipped")
            continue
        call, drain = made
        results.append(
            measure(
                label,
                call,
                rounds=sdk_rounds,
                singles=sdk_rounds * ROUND,
                loop_cost=loop_cost,
                timer_cost=timer_cost,
                between=drain,
            )
        )
        drain()

    delta_ms, fastest_ms, importtime_ms, modules = import_time(import_runs)
    with tempfile.TemporaryDirectory() as home:
        client_ms, posthog_ms = client_time(import_runs, home)

    base = results[0].median
    print(f"\nper call, this machine, Python {sys.version.split()[0]}")
    print(
        f"(loop overhead {loop_cost * 1e9:.1f} ns and timer overhead "
        f"{timer_cost * 1e9:.1f} ns subtracted)"
    )
    print(f"{'':34} {'median':>10} {'p99':>10} {'x floor':>9}")
    for r in results:
        print(f"{r.name:34} {r.median * 1000:8.1f}ns {r.p99 * 1000:8.1f}ns {r.median / base:8.2f}x")
    print(f"\npigeon sender counters after the enabled run: {counters}")
    print(
        f"\nimport pigeon: {delta_ms:.2f} ms (fresh interpreter minus bare, median of "
        f"{import_runs} pairs; fastest minus fastest {fastest_ms:.2f} ms); "
        f"-X importtime: {importtime_ms:.2f} ms"
    )
    print(f"modules it imports: {', '.join(modules)}")
    print(
        f"enabled Client(): {client_ms:.2f} ms more than import pigeon (median of "
        f"{import_runs} pairs; the sender thread's modules are imported here)"
    )
    if posthog_ms is not None:
        print(
            f"PostHog import + Posthog(): {posthog_ms:.2f} ms more than a bare interpreter; "
            f"pigeon import + Client() is {(delta_ms + client_ms) / posthog_ms:.2f}x that"
        )

    by_name = {r.name: r for r in results}
    enabled_r = by_name["pigeon track() enabled"]
    disabled_r = by_name["pigeon track() disabled"]
    heavy = sorted(
        set(modules)
        & {"http", "http.client", "ssl", "socket", "tomllib", "json", "gzip", "platform"}
    )
    goals = [
        ("enabled median <= 1 us", enabled_r.median <= 1.0),
        ("enabled median <= 4x floor", enabled_r.median <= 4 * base),
        (
            "enabled median <= 4x floor with the clock read",
            enabled_r.median <= 4 * by_name[FLOOR_CLOCK].median,
        ),
        ("disabled median <= 0.1 us", disabled_r.median <= 0.1),
        ("import pigeon <= 10 ms", delta_ms <= 10.0),
        ("no HTTP/SSL/TOML/json/gzip/socket/platform on import", not heavy),
    ]
    if posthog_ms is not None:  # a peer's import and construction, measured in this run
        goals.append(
            (
                "import pigeon + enabled Client() <= 0.5x PostHog's",
                delta_ms + client_ms <= 0.5 * posthog_ms,
            )
        )
    print()
    for goal, met in goals:
        print(f"{'met   ' if met else 'MISSED'} {goal}")
    for r in results[4:]:
        print(f"pigeon enabled is {r.median / enabled_r.median:,.0f}x faster than {r.name}")
    return 0 if all(met for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
