"""Ingestion throughput: two collectors on ClickHouse against one collector on SQLite.

Run: ``python benchmarks/bench_ingest_clickhouse.py`` (about a minute; ``--quick`` for a
few seconds). With ``--store clickhouse://USER:PASSWORD@HOST:PORT/DATABASE`` it uses
that server (``DATABASE`` and ``DATABASE_store`` are dropped and recreated: name
scratch ones);
otherwise it starts Debian's ``clickhouse-server`` with ``scripts/clickhouse-server``
in a temporary directory and stops it at the end.

Both runs happen in this one process tree, with the same pre-encoded Segment batches
(unique message ids, every event kind of the argilla catalog), so the ratio holds on
any machine:

- HTTP: real ``pigeon serve`` processes. SQLite: one collector. ClickHouse: two
  collectors on one database, requests spread round-robin between them as a load
  balancer would. Senders are separate processes keeping many requests in flight
  (asyncio, HTTP/1.1 keep-alive); every answer must be a 200 and every event must be
  in the store afterwards, or the run fails.
- store: ``Store.write`` called directly by many concurrent tasks (no HTTP, no
  validation): what each store can absorb.

On one small machine everything shares the same cores (senders, collectors and the
ClickHouse server), so the HTTP figures say little about scale-out; they show that
batching keeps ClickHouse's cost per event low and that nothing is lost. The figure
that carries over to a cluster is events per second per collector core.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from pigeon.collector.storage import Store, StoredEvent, open_store
from pigeon.collector.storage.clickhouse import ClickHouseStore
from pigeon.demo._processes import ChildProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = ROOT / "scripts" / "clickhouse-server"
WRITE_KEY = "bench-key"
TOKEN = "bench-admin-token"
AUTHORIZATION = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


# -- the load ------------------------------------------------------------------------


def _message(rng: random.Random, now: float) -> dict[str, Any]:
    name, properties = rng.choice(
        [
            ("ServerStarted", {}),
            ("ServerErrorFound", {"code": "argilla.api.errors::EntityNotFoundError",
                                  "type": "Dataset"}),
            ("LogRecordsRequested", {"task": "TextClassification",
                                     "records": rng.randrange(1, 1000)}),
            ("TrainerUsage", {"framework": "setfit", "task": "TextClassification"}),
            ("UserInfoRequested", {"user-agent": "Mozilla/5.0 Firefox/126.0",
                                   "accept-language": "de-DE,de;q=0.9"}),
        ]
    )  # fmt: skip
    moment = now - rng.randrange(0, 7 * 86_400)
    return {
        "type": "track",
        "event": name,
        "messageId": str(uuid.uuid4()),
        "anonymousId": str(uuid.UUID(int=rng.randrange(50_000), version=4)),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment)),
        "properties": properties,
        "context": {
            "library": {"name": "pigeon", "version": "0.1.0"},
            "app": {"version": rng.choice(["1.28.0", "1.29.0"])},
            "runtime": {"python_version": "3.11.9", "system": "Linux", "machine": "x86_64"},
        },
    }


def requests(events: int, batch: int, seed: int) -> list[bytes]:
    """Pre-encoded ``POST /v1/batch`` requests (without the Host line), ``batch`` events each."""
    rng = random.Random(seed)
    now = time.time()
    out = []
    for start in range(0, events, batch):
        body = json.dumps(
            {"batch": [_message(rng, now) for _ in range(min(batch, events - start))]}
        ).encode()
        head = (
            "POST /v1/batch HTTP/1.1\r\n"
            f"Authorization: {AUTHORIZATION}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def _connection(host: str, port: int, work: list[bytes], answers: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    host_line = f"Host: {host}:{port}\r\n".encode()
    try:
        while work:
            request = work.pop()
            first_line_end = request.index(b"\r\n") + 2
            writer.write(request[:first_line_end] + host_line + request[first_line_end:])
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            answers.append(int(status_line.split()[1]))
    finally:
        writer.close()


def _sender(urls: Sequence[str], work: list[bytes], connections: int) -> list[int]:
    async def run() -> list[int]:
        answers: list[int] = []
        tasks = []
        for index in range(connections):
            parts = urllib.parse.urlsplit(urls[index % len(urls)])
            assert parts.hostname is not None
            assert parts.port is not None
            tasks.append(_connection(parts.hostname, parts.port, work, answers))
        await asyncio.gather(*tasks)
        return answers

    return asyncio.run(run())


def blast(urls: Sequence[str], work: list[bytes], senders: int, per_collector: int) -> float:
    """Send every request from ``senders`` processes; return the seconds it took.

    Each collector gets ``per_collector`` connections (requests in flight) in all.
    """
    slices = [work[i::senders] for i in range(senders)]
    connections = max(1, per_collector * len(urls) // senders)
    context = multiprocessing.get_context("spawn")
    with context.Pool(senders) as pool:
        started = time.perf_counter()
        results = pool.starmap(_sender, [(urls, part, connections) for part in slices])
        elapsed = time.perf_counter() - started
    statuses = [status for result in results for status in result]
    bad = [s for s in statuses if s != 200]
    if len(statuses) != len(work) or bad:
        raise SystemExit(f"{len(bad)} requests failed (statuses {sorted(set(bad))})")
    return elapsed


# -- processes -------------------------------------------------------------------------


@contextmanager
def clickhouse_server(directory: Path) -> Iterator[str]:
    """Debian's clickhouse-server on 127.0.0.1; yields a base store URL (no database)."""
    done = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "start", "--dir", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"could not start clickhouse-server: {done.stderr.strip()}")
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    try:
        yield f"clickhouse://default:@127.0.0.1:{values['PIGEON_CLICKHOUSE_PORT']}"
    finally:
        subprocess.run([sys.executable, str(SERVER_SCRIPT), "stop", str(directory)], check=False)


def reset_database(url: str) -> None:
    """Drop the database of ``url`` so that a run starts empty."""
    from clickhouse_driver import Client

    parts = urllib.parse.urlsplit(url)
    database = parts.path.strip("/") or "pigeon"
    client = Client(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 9000,
        user=urllib.parse.unquote(parts.username or "default"),
        password=urllib.parse.unquote(parts.password or ""),
    )
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        client.disconnect()


@contextmanager
def collector(store_url: str, log: Path) -> Iterator[str]:
    """``python -m pigeon serve`` on a free port; yields its base URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "pigeon", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--store", store_url, "--write-key", WRITE_KEY, "--admin-token", TOKEN,
        "--rate-limit", "0", "--retention-days", "0",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TELEMETRY") and k != "CI"}
    env["DO_NOT_TRACK"] = "1"
    process = ChildProcess("collector", argv, env, log)
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(base, "/healthz", 60.0)
        yield base
    finally:
        process.stop()


def count(store_url: str) -> int:
    """Events in the store (distinct message ids)."""

    async def run() -> int:
        store = open_store(store_url)
        try:
            return await store.count_events()
        finally:
            await store.close()

    return asyncio.run(run())


# -- the store alone ---------------------------------------------------------------------


def stored_events(total: int, seed: int) -> list[StoredEvent]:
    """Events as ingestion hands them to a store."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    names = ("ServerStarted", "ServerErrorFound", "LogRecordsRequested", "TrainerUsage")
    return [
        StoredEvent(
            message_id=str(uuid.uuid4()),
            app="argilla",
            event=name,
            anonymous_id=str(uuid.UUID(int=rng.randrange(50_000), version=4)),
            timestamp_ms=now_ms - rng.randrange(7 * 86_400_000),
            received_ms=now_ms,
            app_version=rng.choice(["1.28.0", "1.29.0"]),
            python_version="3.11.9",
            system="Linux",
            machine="x86_64",
            library="pigeon/0.1.0",
            catalog_version="1",
            properties={"task": "TextClassification", "records": 10} if name[0] == "L" else {},
        )
        for name in (rng.choice(names) for _ in range(total))
    ]


def store_rate(store: Store, events: list[StoredEvent], batch: int, tasks: int) -> float:
    """Events per second through ``store.write`` from ``tasks`` concurrent writers."""

    async def run() -> float:
        chunks = [events[i : i + batch] for i in range(0, len(events), batch)]

        async def writer(mine: list[list[StoredEvent]]) -> None:
            for chunk in mine:
                await store.write(chunk)

        started = time.perf_counter()
        await asyncio.gather(*(writer(chunks[k::tasks]) for k in range(tasks)))
        elapsed = time.perf_counter() - started
        stored = await store.count_events()
        await store.close()
        if stored != len(events):
            raise SystemExit(f"the store holds {stored} events, expected {len(events)}")
        return len(events) / elapsed

    return asyncio.run(run())


# -- main ----------------------------------------------------------------------------


def run_http(base_url: str, scratch: Path, args: argparse.Namespace) -> tuple[float, float]:
    """Events per second over HTTP: SQLite (one collector), ClickHouse (two)."""
    work = requests(args.events, args.batch, seed=1)
    sqlite_url = f"sqlite:///{scratch / 'sqlite' / 'pigeon.db'}"
    with collector(sqlite_url, scratch / "sqlite.log") as url:
        sqlite_seconds = blast([url], list(work), args.senders, args.in_flight)
    if count(sqlite_url) != args.events:
        raise SystemExit("SQLite lost events")
    ch_url = f"{base_url}/{args.database}?flush_interval={args.flush_interval}"
    reset_database(ch_url)
    work = requests(args.events, args.batch, seed=2)
    with ExitStack() as stack:
        urls = [stack.enter_context(collector(ch_url, scratch / f"ch{n}.log")) for n in (1, 2)]
        ch_seconds = blast(urls, list(work), args.senders, args.in_flight)
    if count(ch_url) != args.events:
        raise SystemExit("ClickHouse lost events")
    return args.events / sqlite_seconds, args.events / ch_seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Run both comparisons; ``argv`` as on the command line (default: ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--store",
        help="clickhouse://USER:PASSWORD@HOST:PORT/DATABASE: DATABASE and DATABASE_store "
        "are dropped and recreated (default: a throwaway local server)",
    )
    parser.add_argument("--events", type=int, default=200_000, help="events per HTTP run")
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    parser.add_argument("--senders", type=int, default=2, help="sender processes")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=60,
        help="requests in flight per collector (pigeon serve answers 503 beyond 64)",
    )
    parser.add_argument("--flush-interval", type=float, default=1.0, help="ClickHouse inserts")
    parser.add_argument("--store-events", type=int, default=200_000, help="events per store run")
    parser.add_argument("--writers", type=int, default=256, help="concurrent store.write tasks")
    parser.add_argument("--quick", action="store_true", help="a few seconds, rough figures")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.store_events = 20_000, 20_000
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        args.database = "pigeon_bench"
        if args.store:
            parts = urllib.parse.urlsplit(args.store)
            base_url = f"{parts.scheme}://{parts.netloc}"
            args.database = parts.path.strip("/") or args.database
        else:
            base_url = stack.enter_context(clickhouse_server(scratch / "clickhouse"))
        print(
            f"{args.events:,} events in batches of {args.batch}, {args.in_flight} requests "
            f"in flight per collector; ClickHouse flush_interval {args.flush_interval} s"
        )
        sqlite_http, ch_http = run_http(base_url, scratch, args)
        print("\nHTTP (pigeon serve, every event validated and stored)")
        print(f"  SQLite, 1 collector:      {sqlite_http:>10,.0f} events/s")
        print(f"  ClickHouse, 2 collectors: {ch_http:>10,.0f} events/s")
        print(f"  ratio ClickHouse/SQLite:  {ch_http / sqlite_http:>10.2f}")

        events = stored_events(args.store_events, seed=3)
        sqlite_store = open_store(f"sqlite:///{scratch / 'store' / 'pigeon.db'}")
        sqlite_rate = store_rate(sqlite_store, events, batch=args.batch, tasks=args.writers)
        ch_url = f"{base_url}/{args.database}_store?flush_interval={args.flush_interval}"
        reset_database(ch_url)
        ch_store = ClickHouseStore.from_url(ch_url)
        ch_rate = store_rate(ch_store, events, batch=args.batch, tasks=args.writers)
        print(f"\nstore.write alone ({args.store_events:,} events, batches of {args.batch}, "
              f"{args.writers} concurrent writers)")  # fmt: skip
        print(f"  SQLiteStore:              {sqlite_rate:>10,.0f} events/s")
        print(f"  ClickHouseStore:          {ch_rate:>10,.0f} events/s")
        print(f"  ratio ClickHouse/SQLite:  {ch_rate / sqlite_rate:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
