"""Ingestion throughput of the collector over HTTP, against the store's raw floor.

The collector runs in its own process (``python -m pigeon serve``); several
client processes send gzip batches of 100 events (encoded by pigeon's own SDK
encoder, Segment format) over keep-alive HTTP connections on 127.0.0.1.
Sustained events/s are measured when the store holds ~1M and ~--events
events; the store is prefilled in bulk between the two runs. Beside each
figure, the *floor*: the same rows (same columns, same kind of keys) inserted
straight into SQLite with ``executemany`` in transactions of 1,000 rows, in
the same file, in the same run. After each run the store must hold every
event the clients saw acknowledged.

Usage::

    python benchmarks/bench_ingest.py                 # 1M and 10M, about 5-8 minutes
    python benchmarks/bench_ingest.py --events 2000000 --seconds 10   # quicker

Goals: >= 50,000 events/s, >= 0.5 of the floor, flat from 1M to 10M. The
collector's CPU time per event (comparable on a busy machine, where events/s
are not) and its peak RSS are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import http.client
import itertools
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pigeon._system import build_context
from pigeon._wire import MessageEncoder, encode_batch, uuid7
from pigeon.catalog import PropertyValue
from pigeon.collector.storage import StoredEvent, open_store
from pigeon.collector.storage._sqlite_schema import EVENT_COLUMNS, parse_sqlite_url
from pigeon.collector.storage._sqlite_statements import row_of

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the test helpers live beside benchmarks/
    sys.path.insert(0, str(ROOT))

from tests.collector._running import process_tree  # noqa: E402

MS_PER_DAY = 86_400_000
WRITE_KEY = "bench-key"
_TASKS = ("TextClassification", "TokenClassification", "Text2Text")
_AGENTS = tuple(f"Mozilla/5.0 (X11; Linux) Chrome/{v}.0" for v in range(110, 130)) + tuple(
    f"argilla/1.{v}.0 python-requests/2.31" for v in range(20)
)
_LANGUAGES = ("en-US,en;q=0.9", "de-DE,de;q=0.8", "fr-FR", "es", "ja-JP")


def _install_id(number: int) -> str:
    return f"{number:08x}-1111-4222-8333-{number:012x}"


def _body(install: int, version: str, rng: random.Random) -> bytes:
    """One SDK-encoded gzip batch of 100 events from one install."""
    context = build_context("argilla", version, "argilla", "1")
    encoder = MessageEncoder(_install_id(install), context)
    now = time.time()
    messages = []
    for _ in range(100):
        kind = rng.random()
        if kind < 0.4:
            props: dict[str, object] = {"task": rng.choice(_TASKS), "records": rng.randint(1, 5000)}
            messages.append(encoder.encode("LogRecordsRequested", props, now))
        elif kind < 0.7:
            props = {"user-agent": rng.choice(_AGENTS), "accept-language": rng.choice(_LANGUAGES),
                     "is_default_user": rng.random() < 0.2}  # fmt: skip
            messages.append(encoder.encode("UserInfoRequested", props, now))
        elif kind < 0.9:
            props = {"code": f"argilla.api.errors::Error{rng.randint(0, 9)}", "type": "Dataset"}
            messages.append(encoder.encode("ServerErrorFound", props, now))
        elif kind < 0.97:
            props = {"framework": "setfit", "task": "TextClassification"}
            messages.append(encoder.encode("TrainerUsage", props, now))
        else:
            messages.append(encoder.encode("ServerStarted", {}, now))
    return gzip.compress(encode_batch(messages), 6)


def _client_main(
    port: int, number: int, options: tuple[int, float, int], barrier: Any, results: Any
) -> None:
    clients, seconds, connections = options
    results.put(run_client(port, number, (clients, seconds, connections), barrier))


def run_client(
    port: int, number: int, options: tuple[int, float, int], barrier: Any
) -> tuple[int, float, float]:
    """Send pre-built batches for ``seconds`` over keep-alive connections.

    Returns (events acknowledged, seconds elapsed, CPU seconds this load generator used).
    """
    clients, seconds, connections = options
    rng = random.Random(number)
    per_client = int(seconds * 250_000 / clients / 100) + 10
    bodies = [
        _body(number * 1000 + rng.randrange(1000), f"1.{rng.randrange(30)}.0", rng)
        for _ in range(per_client)
    ]
    headers = {
        "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    next_body = itertools.count()
    acked = [0] * connections
    barrier.wait(timeout=300)
    began = time.perf_counter()
    cpu_began = time.process_time()
    stop = began + seconds

    def send(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < stop:
            index = next(next_body)
            if index >= len(bodies):
                break
            conn.request("POST", "/v1/batch", body=bodies[index], headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status == 200:
                acked[slot] += json.loads(payload)["accepted"]
        conn.close()

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(acked), time.perf_counter() - began, time.process_time() - cpu_began


@dataclass
class Stage:
    stored: int
    rate: float
    floor: float | None
    rss_mb: float
    acked: int
    verified: bool
    cpu_us: float  # the collector's CPU time per acknowledged event
    collector_cores: float  # CPU cores the collector kept busy, on average
    load_cores: float  # ... and the load generators


def prefill(path: Path, target: int) -> float:
    """Bulk-insert past-dated raw events until the store holds ``target``; return rows/s."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    have = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    missing = target - have
    if missing <= 0:
        conn.close()
        return 0.0
    now = int(time.time() * 1000)
    start_ms = now - 60 * MS_PER_DAY
    step = max(1, (59 * MS_PER_DAY) // target)
    # UUIDv7-shaped ids, time ordered, all older than the live traffic's ids.
    sql = f"""
        WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
        INSERT OR IGNORE INTO events ({", ".join(EVENT_COLUMNS)})
        SELECT printf('%08x-%04x-7%03x-%04x-%012x', ms >> 16, ms & 65535, i & 4095,
                      32768 | ((i >> 12) & 16383), abs(random()) % 281474976710656),
               'argilla',
               CASE i % 5 WHEN 0 THEN 'LogRecordsRequested' WHEN 1 THEN 'UserInfoRequested'
                          WHEN 2 THEN 'ServerErrorFound' WHEN 3 THEN 'TrainerUsage'
                          ELSE 'ServerStarted' END,
               printf('%08x-0000-4000-8000-%012x', i % 5000, i % 5000),
               ms, ms, ms / {MS_PER_DAY},
               printf('1.%d.0', i % 30), '3.11.7', 'Linux', '5.15.0', 'x86_64',
               'Linux-5.15.0-x86_64-with-glibc2.35', 'pigeon/0.1.0', '1',
               CASE i % 5
                    WHEN 0 THEN '{{"task":"TextClassification","records":' || (i % 5000) || '}}'
                    WHEN 2 THEN '{{"code":"argilla.api.errors::Error' || (i % 10) || '"}}'
                    ELSE '{{}}' END
        FROM (SELECT i, ? + i * ? AS ms FROM seq)
    """
    began = time.perf_counter()
    chunk = 1_000_000
    first = have
    while first < target:
        last = min(target, first + chunk) - 1
        conn.execute("BEGIN")
        conn.execute(sql, (first, last, start_ms, step))
        conn.execute("COMMIT")
        first = last + 1
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return missing / (time.perf_counter() - began)


def floor(path: Path, rows: int) -> float:
    """Rows/s of the same rows inserted straight into SQLite (executemany, 1,000 per commit).

    Like the live traffic, rows come in runs of 100 from one install (an SDK
    batch), with the same id formats (UUIDv7 message ids, install ids).
    """
    rng = random.Random(7)
    now = int(time.time() * 1000)
    context = (
        "1.29.0",
        "3.11.7",
        "Linux",
        "5.15.0",
        "x86_64",
        "Linux-5.15.0-x86_64",
        "pigeon/0.1.0",
        "1",
    )
    props: dict[str, PropertyValue] = {"task": "TextClassification", "records": 120}
    prepared: list[tuple[object, ...]] = []
    for start in range(0, rows, 100):
        install = _install_id(rng.randrange(3000))
        prepared.extend(
            row_of(
                StoredEvent(
                    uuid7(), "argilla", "LogRecordsRequested", install, now, now, *context, props
                )
            )
            for _ in range(min(100, rows - start))
        )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -131072")
    marks = ", ".join("?" * len(EVENT_COLUMNS))
    sql = f"INSERT OR IGNORE INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"
    began = time.perf_counter()
    for start in range(0, rows, 1000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, prepared[start : start + 1000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return rows / elapsed


def start_collector(
    store_url: str, workdir: Path, workers: int = 1
) -> tuple[subprocess.Popen[str], int]:
    command = [
        sys.executable, "-m", "pigeon", "serve", "--port", "0", "--store", store_url,
        "--write-key", WRITE_KEY, "--rate-limit", "0", "--retention-days", "0",
        "--admin-token", "bench-admin", "--workers", str(workers),
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on http://" in line:
            return proc, int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
    proc.kill()
    raise RuntimeError("the collector did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its descendants used so far."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def peak_rss_mb(pid: int) -> float:
    """The peak RSS of a process and its descendants, summed (each one's own peak)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


async def count(store_url: str) -> int:
    store = open_store(store_url)
    try:
        return await store.count_events()
    finally:
        await store.close()


def run_stage(args: argparse.Namespace, store_url: str, target: int, workdir: Path) -> Stage:
    sqlite_path = parse_sqlite_url(store_url).path if store_url.startswith("sqlite:") else None
    if sqlite_path is not None:
        rate = prefill(sqlite_path, target)
        print(f"  prefilled to {target:,} events ({rate:,.0f} rows/s)", flush=True)
        floor_rate: float | None = floor(sqlite_path, args.floor_rows)
        print(f"  floor: {floor_rate:,.0f} rows/s", flush=True)
    else:
        floor_rate = None
    before = asyncio.run(count(store_url))
    proc, port = start_collector(store_url, workdir, args.workers)
    try:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(args.clients + 1)
        results = ctx.Queue()
        workers = [
            ctx.Process(
                target=_client_main,
                args=(port, n, (args.clients, args.seconds, args.connections), barrier, results),
            )
            for n in range(args.clients)
        ]
        for worker in workers:
            worker.start()
        barrier.wait(timeout=300)  # every client has its bodies ready
        cpu_before = cpu_seconds(proc.pid)
        outcomes = [results.get(timeout=args.seconds + 120) for _ in workers]
        cpu = cpu_seconds(proc.pid) - cpu_before
        for worker in workers:
            worker.join(timeout=60)
        acked = sum(r[0] for r in outcomes)
        elapsed = max(r[1] for r in outcomes)
        load_cores = sum(r[2] for r in outcomes) / elapsed
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    after = asyncio.run(count(store_url))
    cpu_us = cpu / acked * 1e6 if acked else float("nan")
    complete = after == before + acked
    rate = acked / elapsed
    return Stage(after, rate, floor_rate, rss, acked, complete, cpu_us, cpu / elapsed, load_cores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=None, help="store URL (default: SQLite in a temp dir)")
    parser.add_argument("--events", type=int, default=10_000_000, help="the second checkpoint")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measurement")
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent connections per client process"
    )
    parser.add_argument("--floor-rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2, help="collector worker processes")
    args = parser.parse_args()
    if args.store and args.store.startswith("clickhouse:"):
        # Two collectors into ClickHouse against one into SQLite, in one run.
        script = Path(__file__).with_name("bench_ingest_clickhouse.py")
        return subprocess.call([sys.executable, str(script), "--store", args.store])
    workdir = Path(tempfile.mkdtemp(prefix="pigeon-bench-"))
    store_url = args.store or f"sqlite:///{workdir / 'bench.db'}"
    asyncio.run(count(store_url))  # creates the layout
    stages = []
    try:
        for target in sorted({min(1_000_000, args.events), args.events}):
            print(f"store at ~{target:,} events:", flush=True)
            stage = run_stage(args, store_url, target, workdir)
            stages.append(stage)
            print(
                f"  collector: {stage.rate:,.0f} events/s ({stage.acked:,} acknowledged), "
                f"{stage.cpu_us:.1f} µs CPU/event, peak RSS {stage.rss_mb:.0f} MB, "
                f"store complete: {stage.verified}; cores busy: collector "
                f"{stage.collector_cores:.2f}, load generators {stage.load_cores:.2f}",
                flush=True,
            )
    finally:
        if args.store is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    head = f"{'stored (end)':>12} {'collector ev/s':>15} {'floor rows/s':>13} {'ratio':>6}"
    print(f"{head} {'CPU µs/ev':>10} {'peak RSS':>9}  lost")
    for s in stages:
        ratio = f"{s.rate / s.floor:.2f}" if s.floor else "n/a"
        floor_text = f"{s.floor:,.0f}" if s.floor else "n/a"
        print(f"{s.stored:>12,} {s.rate:>15,.0f} {floor_text:>13} {ratio:>6} {s.cpu_us:>10.1f} "
              f"{s.rss_mb:>7.0f}MB  "
              f"{'none' if s.verified else 'MISMATCH'}")  # fmt: skip
    if len(stages) == 2:
        print(f"flatness (rate at {stages[1].stored:,} / rate at {stages[0].stored:,}): "
              f"{stages[1].rate / stages[0].rate:.2f}")  # fmt: skip
    print("goals: >= 50,000 events/s, >= 0.5 of the floor, flat from 1M to 10M")
    print(f"cpus: {os.cpu_count()}, load average at end: {os.getloadavg()[0]:.1f}")
    return 0 if all(s.verified for s in stages) else 1


if __name__ == "__main__":
    random.seed(0)
    sys.exit(main())
