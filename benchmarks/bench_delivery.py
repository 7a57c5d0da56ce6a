"""Delivery: events/s from ``track()`` to a local sink, ``track()`` p99 while sending, exit time.

Run: ``python benchmarks/bench_delivery.py`` (two to three minutes, mostly the
peers' exits; ``--quick`` for a rough pass without the peers' exit times).

Everything is measured in this one run, on the loopback interface, so the
ratios hold on any machine:

- a sink in a separate process (asyncio, HTTP/1.1 keep-alive) answers every
  POST at once with 200 JSON and keeps the bodies; it counts the events
  (gunzip, JSON) only when asked, after the timed part;
- throughput: N events through ``track()`` as fast as the caller can go, then
  ``flush()``; events per second = N / (time until flush returned), checked
  against the count the sink received;
- ``track()`` latency while the sender is busy: each call timed alone while
  the sender thread validates, encodes, compresses and sends (the caller out-
  runs it, so it is busy throughout); p50, p99, p99.9 in microseconds;
- exit time with a blackholed collector (the sink process also accepts
  connections and never answers): a fresh interpreter tracks 10 events and
  exits; "exit" is the time from its last statement to the end of the process;
- the same for PostHog's ``posthog`` and Segment's ``segment-analytics-python``
  clients when installed, pointed at the same sink (their own paths and
  payloads), printed as ratios;
- gzip: the cost and size of compressing one 100-event batch at levels 1 and 6.

Goals (issue 3): >= 100,000 events/s; track() p99 <= 10 us; exit <= 1.2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EVENT = "LogRecordsRequested"
PROPERTIES = {"task": "TextClassification", "records": 120}


# -- the sink process --------------------------------------------------------------------------


class _SinkServer:
    """Answers every request at once; bodies are parsed only on ``GET /stats``."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bool, bytes]] = []
        self.held: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "GET" and path == "/stats":
                    answer = json.dumps(self.count()).encode()
                elif method == "POST" and path == "/reset":
                    self.bodies.clear()
                    answer = b"{}"
                else:
                    self.bodies.append((headers.get("content-encoding") == "gzip", body))
                    answer = b'{"success":true,"accepted":0,"rejected":[],"status":"Ok"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()

    def count(self) -> dict[str, int]:
        events = 0
        for gzipped, body in self.bodies:
            data = json.loads(gzip.decompress(body) if gzipped else body)
            events += len(data.get("batch", [])) if isinstance(data, dict) else 0
        return {"requests": len(self.bodies), "events": events}

    async def hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.held.append(writer)  # a blackhole: accept, never read, never answer


async def _serve() -> None:
    sink = _SinkServer()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0, backlog=256)
    blackhole = await asyncio.start_server(sink.hold, "127.0.0.1", 0)
    ports = (server.sockets[0].getsockname()[1], blackhole.sockets[0].getsockname()[1])
    print(*ports, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # serve until the parent closes stdin
    os._exit(0)  # connections may still be open: no need to wind them down


class Sink:
    """The sink process, seen from the benchmark."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        port, blackhole = self._process.stdout.readline().split()
        self.url = f"http://127.0.0.1:{port}"
        self.blackhole_url = f"http://127.0.0.1:{blackhole}"
        self._port = int(port)

    def _call(self, method: str, path: str) -> dict[str, int]:
        with socket.create_connection(("127.0.0.1", self._port), timeout=60) as conn:
            conn.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
            )
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += conn.recv(65536)
        result: dict[str, int] = json.loads(body)
        return result

    def stats(self) -> dict[str, int]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


# -- candidates --------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One SDK: how to build a client, call it, flush it, stop it."""

    name: str
    setup: str  # Python code defining `client` for a URL in `url` and a home in `home`
    call: str  # the per-event call, with `props`
    flush: str

    def build(self, url: str, home: str, capacity: int) -> tuple[Callable[..., Any], Any]:
        _quiet_first_run(home)
        scope: dict[str, Any] = {"url": url, "home": home, "capacity": capacity}
        exec(self.setup, scope)  # our own fixed snippets
        client = scope["client"]
        exec(f"def call(event, props):\n    {self.call}", scope)
        return scope["call"], client


PIGEON = Candidate(
    "pigeon",
    "import pigeon\n"
    "client = pigeon.Client('argilla', '1.29.0', endpoint=url, write_key='bench', home=home,"
    " capacity=capacity, environ={})",
    "client.track(event, props)",
    "client.flush(timeout=120)",
)
POSTHOG = Candidate(
    "posthog",
    "from posthog import Posthog\n"
    "client = Posthog('phc_bench', host=url, max_queue_size=capacity, flush_at=100,"
    " enable_local_evaluation=False)",
    "client.capture(event, distinct_id='install-1', properties=props)",
    "client.flush()",
)
SEGMENT = Candidate(
    "segment",
    "from segment.analytics import Client\n"
    "client = Client('bench-key', host=url, max_queue_size=capacity, upload_size=100)",
    "client.track(anonymous_id='install-1', event=event, properties=props)",
    "client.flush()",
)


def _quiet_first_run(home: str) -> None:
    """Give pigeon an install id in ``home`` so that it skips its first-run notice."""
    path = os.path.join(home, "telemetry_id")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as file:
            file.write(f"{uuid.uuid4()}\n")


def installed(candidate: Candidate) -> bool:
    module = {"pigeon": "pigeon", "posthog": "posthog", "segment": "segment.analytics"}
    try:
        __import__(module[candidate.name])
    except ImportError:
        return False
    return True


def flush(candidate: Candidate, client: Any) -> None:
    exec(candidate.flush, {"client": client})


def shutdown(candidate: Candidate, client: Any) -> None:
    stop = getattr(client, "shutdown", None)
    if stop is not None:
        stop()


# -- measurements ------------------------------------------------------------------------------


def throughput(candidate: Candidate, sink: Sink, count: int, home: str) -> tuple[float, int]:
    """Events per second from the first track() until flush() returned; events received."""
    call, client = candidate.build(sink.url, home, count + 10_000)
    for _ in range(200):  # warm up: threads, imports, connection, catalog
        call(EVENT, PROPERTIES)
    flush(candidate, client)
    sink.reset()
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        call(EVENT, PROPERTIES)
    flush(candidate, client)
    elapsed = time.perf_counter() - start
    received = sink.stats()["events"]
    shutdown(candidate, client)
    return count / elapsed, received


def busy_latency(candidate: Candidate, sink: Sink, count: int, home: str) -> list[float]:
    """Microseconds of each track() call, timed alone, while the sender works."""
    call, client = candidate.build(sink.url, home, count + 10_000)
    for _ in range(200):
        call(EVENT, PROPERTIES)
    flush(candidate, client)
    timer = time.perf_counter_ns
    samples = []
    event, props = EVENT, PROPERTIES
    for _ in range(count):
        t0 = timer()
        call(event, props)
        samples.append(timer() - t0)
    flush(candidate, client)
    shutdown(candidate, client)
    return [s / 1000 for s in samples]


_EXIT_SCRIPT = """
import sys, time
url, home, capacity = sys.argv[1], sys.argv[2], 10_000
{setup}
def call(event, props):
    {call}
for _ in range(10):
    call({event!r}, {props!r})
sys.stdout.write(repr(time.time()))
sys.stdout.flush()
"""


def exit_time(candidate: Candidate, url: str, home: str, limit: float) -> tuple[float, float]:
    """Seconds from the script's last statement to the process's end, and the whole run."""
    script = _EXIT_SCRIPT.format(
        setup=candidate.setup, call=candidate.call, event=EVENT, props=PROPERTIES
    )
    start = time.time()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, url, home],
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return float("inf"), float("inf")
    end = time.time()
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"{candidate.name} exit script failed: {done.stderr[-2000:]}")
    return end - float(done.stdout), end - start


def gzip_levels() -> list[tuple[int, float, int, int]]:
    """Per level: microseconds per event to compress a 100-event batch, its size, raw size."""
    from pigeon._pipeline import Pipeline
    from pigeon._wire import encode_batch

    pipeline = Pipeline(
        app="argilla",
        app_version="1.29.0",
        catalog="argilla",
        anonymous_id="0" * 8 + "-0000-4000-8000-" + "0" * 12,
    )
    batch = encode_batch(
        [
            pipeline.prepare((EVENT, {"task": "Text2Text", "records": i}, time.time())) or ""
            for i in range(100)
        ]
    )
    rows = []
    for level in (1, 6):
        runs = 300
        start = time.perf_counter()
        for _ in range(runs):
            body = zlib.compress(batch, level, wbits=31)
        rows.append(
            (level, (time.perf_counter() - start) / runs / 100 * 1e6, len(body), len(batch))
        )
    return rows


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- main -----------------------------------------------------------------------------------------


@dataclass
class Results:
    """Everything measured in one run."""

    candidates: list[Candidate]
    repeats: int
    sizes: tuple[int, int, int]  # events for pigeon, for the peers, latency samples
    rates: dict[str, float]
    latencies: dict[str, list[float]]
    exits: dict[str, tuple[float, float]]
    levels: list[tuple[int, float, int, int]]


def measure(candidates: list[Candidate], quick: bool) -> Results:
    sizes = (50_000, 5_000, 20_000) if quick else (300_000, 20_000, 100_000)
    pigeon_n, peer_n, latency_n = sizes
    repeats = 1 if quick else 3
    results = Results(candidates, repeats, sizes, {}, {}, {}, [])
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as home:
            for c in candidates:
                n = pigeon_n if c is PIGEON else peer_n
                runs = []
                for _ in range(repeats):
                    rate, received = throughput(c, sink, n, home)
                    if received != n:
                        raise RuntimeError(f"{c.name}: the sink received {received} of {n} events")
                    runs.append(rate)
                results.rates[c.name] = statistics.median(runs)
                results.latencies[c.name] = busy_latency(
                    c, sink, latency_n if c is PIGEON else peer_n, home
                )
            for c in candidates:
                if quick and c is not PIGEON:
                    continue  # the peers' exits take up to a minute
                runs_exit = [
                    exit_time(c, sink.blackhole_url, home, limit=90.0)
                    for _ in range(repeats if c is PIGEON else 1)
                ]
                results.exits[c.name] = max(runs_exit)
            results.levels = gzip_levels()
    finally:
        sink.close()
    return results


def report(r: Results) -> None:
    pigeon_n, peer_n, _ = r.sizes
    print(f"\ndelivery over loopback, this machine, Python {sys.version.split()[0]}")
    print(
        f"(events/s: median of {r.repeats} runs of {pigeon_n:,} events for pigeon, "
        f"{peer_n:,} for peers; track() timed alone, timer included; exit: worst of "
        f"{r.repeats} for pigeon)"
    )
    columns = ("events/s", "p50 us", "p99 us", "p99.9 us", "exit s", "run s")
    widths = (12, 9, 9, 9, 8, 8)
    print(f"{'':10} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for c in r.candidates:
        lat = r.latencies[c.name]
        exit_s, run_s = r.exits.get(c.name, (float("nan"), float("nan")))
        print(
            f"{c.name:10} {r.rates[c.name]:12,.0f} {percentile(lat, 0.5):9.2f} "
            f"{percentile(lat, 0.99):9.2f} {percentile(lat, 0.999):9.2f} "
            f"{exit_s:8.2f} {run_s:8.2f}"
        )
    for c in (POSTHOG, SEGMENT):
        if c not in r.candidates:
            print(f"{c.name:10} not installed, skipped")

    p99 = percentile(r.latencies["pigeon"], 0.99)
    print("\nratios (pigeon against each peer; > 1 means pigeon is better):")
    for c in r.candidates[1:]:
        line = (
            f"  vs {c.name:8} events/s x{r.rates['pigeon'] / r.rates[c.name]:.1f}, "
            f"track() p99 x{percentile(r.latencies[c.name], 0.99) / p99:.1f}"
        )
        if c.name in r.exits:
            line += f", exit x{r.exits[c.name][0] / r.exits['pigeon'][0]:.1f}"
        print(line)

    print("\ngzip of one 100-event batch:")
    for level, us, size, raw in r.levels:
        print(f"  level {level}: {us:.2f} us/event, {raw:,} -> {size:,} bytes")

    rate, exit_s = r.rates["pigeon"], r.exits["pigeon"][0]
    goals = [
        ("events/s >= 100,000", rate >= 100_000, f"{rate:,.0f}"),
        ("track() p99 <= 10 us", p99 <= 10, f"{p99:.2f} us"),
        ("exit <= 1.2 s", exit_s <= 1.2, f"{exit_s:.2f} s"),
    ]
    print("\ngoals:")
    for label, met, value in goals:
        print(f"  {'met   ' if met else 'MISSED'} {label:24} {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="rough figures in seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return 0
    report(measure([c for c in (PIGEON, POSTHOG, SEGMENT) if installed(c)], args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
