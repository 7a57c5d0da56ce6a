"""Stats API latency at 1M and 10M events in the SQLite store, in one run.

Builds (once, cached under ``.benchmarks/dashboard/``, git-ignored) SQLite
stores of plausible traffic: 20,000 installs over 90 days that arrive, churn,
upgrade through a release train and differ in how busy they are, with
long-tailed error codes, clients and languages (so k-anonymity merges real
buckets), and crashes: a few dozen signatures with their stacks, more of them
(and some new ones) on the newest release, which also brings a new error code.
Events go in through the store's own write path. Then it starts a
real ``pigeon serve`` on each store and times every stats view over HTTP:

    python benchmarks/bench_dashboard.py                 # 1M and 10M (first build: long)
    python benchmarks/bench_dashboard.py --sizes 100000,1000000 --requests 20

Goals: p95 <= 100 ms at 10M for the overview and every view, and a 10M/1M
p95 ratio <= 1.5 (reads come from rollups, so raw volume must barely matter).
A collector runs on each store at once and the sizes take turns request by
request, so the ratio compares like with like on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import math
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from pigeon.catalog import PropertyValue
from pigeon.collector.stats import VIEWS, today_utc
from pigeon.collector.storage import StoredEvent, WriteResult, open_store
from pigeon.collector.storage._base import MS_PER_DAY

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".benchmarks" / "dashboard"
TOKEN = "bench-admin-token"
GENERATOR_VERSION = 4  # 4: crashes and a release regression; older caches are rebuilt
CHUNK = 20_000
IN_FLIGHT = 4

RELEASE_EVERY = 21  # a minor release every three weeks
PYTHONS = [("3.11.9", 38), ("3.10.14", 24), ("3.12.4", 20), ("3.9.19", 10), ("3.8.18", 5)]
PYTHONS += [("3.13.0", 3)]
PLATFORMS = [
    ("Linux", "x86_64", 62),
    ("Linux", "aarch64", 9),
    ("Darwin", "arm64", 16),
    ("Darwin", "x86_64", 4),
    ("Windows", "AMD64", 8),
    ("FreeBSD", "amd64", 1),
]
EVENTS = [
    ("UserInfoRequested", 40),
    ("LogRecordsRequested", 33),
    ("ServerErrorFound", 12),
    ("ServerStarted", 8),
    ("TrainerUsage", 7),
]
TASKS = [("TextClassification", 55), ("TokenClassification", 30), ("Text2Text", 15)]
FRAMEWORKS = ["transformers", "setfit", "spacy", "peft", "trl", "openai", "span_marker", "other"]
TRAIN_TASKS = ["TextClassification", "TokenClassification", "Text2Text", "SupervisedFineTuning"]
ENTITY_TYPES = ["Dataset", "Workspace", "Record", "User", ""]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Edg/126.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605",
    "argilla/1.29.0 python-httpx/0.27.0",
    "python-requests/2.32.3",
    "aiohttp/3.9.5",
    "curl/8.8.0",
    "Python/3.11 urllib",
    "SomeInternalTool/0.1",
]
LANGUAGES = "en de es fr zh ja pt it ru ko nl pl tr sv uk cs ar he fi da no hu ro el id vi th"
EXCEPTIONS = ["KeyError", "ValueError", "TypeError", "AttributeError", "sqlite3.OperationalError"]
EXCEPTIONS += ["httpx.ReadTimeout", "IndexError", "pydantic.ValidationError"]
MODULES = ["argilla.server.apis.v1.handlers.datasets", "argilla.server.contexts.search"]
MODULES += ["argilla.server.models.records", "argilla.server.search_engine.elasticsearch"]
CRASH_SHARE = 0.004  # crashes per event on every release but the newest...
NEWEST_CRASH_SHARE = 0.012  # ...which crashes three times as often
NEWEST_ONLY_SIGNATURES = 6  # signatures the newest release brings
REGRESSION_SHARE = 0.01  # the error code only the newest release raises
REGRESSION = "argilla.api.errors::RegressionError"


CrashPool = tuple[list[dict[str, PropertyValue]], list[float]]
"""Crash properties and their cumulative weights (for ``random.choices``)."""


def zipf_weights(count: int, s: float = 1.2) -> list[float]:
    return [1 / (rank**s) for rank in range(1, count + 1)]


@dataclass(frozen=True, slots=True)
class Install:
    """One simulated install: when it reports, how busy it is, what it runs on."""

    id: str
    first: int
    last: int
    activity: float  # chance of reporting on a day of its lifetime
    busy: float  # how many events it sends on an active day, relative to others
    lag: int  # days it waits before upgrading to a new release
    python: str
    system: str
    machine: str
    library: str


class Traffic:
    """Plausible events for ``installs`` installs over ``days`` days ending ``today``."""

    def __init__(self, target: int, installs: int, days: int, today: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.first_day = today - days + 1
        self.installs = [self._install(n) for n in range(installs)]
        expected = sum(i.activity * i.busy * (i.last - i.first + 1) for i in self.installs)
        # Events per active day scale with the target: same community, busier or not.
        self.per_weight = target / expected
        self.props = self._property_pool()
        self.crashes, self.old_crashes = self._crash_pool()
        self.newest = self.version(today, 0)
        self.target = target

    def _install(self, n: int) -> Install:
        rng = self.rng
        first = self.first_day - 30 + rng.randrange(self.today - self.first_day + 31)
        last = min(self.today, first + int(rng.expovariate(1 / 80)) + 1)
        first = max(first, self.first_day)
        if first > last:
            first = last = self.first_day + rng.randrange(self.today - self.first_day + 1)
        activity = rng.uniform(0.15, 0.9)
        busy = rng.lognormvariate(0, 1.0)
        system, machine, _ = rng.choices(PLATFORMS, [w for *_, w in PLATFORMS])[0]
        return Install(
            id=f"{rng.getrandbits(128):032x}",
            first=first,
            last=last,
            activity=activity,
            busy=busy,
            lag=rng.randrange(0, 40),
            python=rng.choices([p for p, _ in PYTHONS], [w for _, w in PYTHONS])[0],
            system=system,
            machine=machine,
            library="pigeon/0.1.0" if rng.random() < 0.8 else "analytics-python/2.3.0",
        )

    def _property_pool(self) -> list[tuple[str, dict[str, PropertyValue]]]:
        rng = self.rng
        errors = [
            (f"argilla.api.errors::{name}Error", kind)
            for name in [f"Code{n:02d}" for n in range(40)]
            for kind in ENTITY_TYPES
        ]
        error_weights = zipf_weights(len(errors), 1.1)
        languages = LANGUAGES.split()
        language_weights = zipf_weights(len(languages), 1.4)
        agent_weights = zipf_weights(len(AGENTS), 0.9)
        pool: list[tuple[str, dict[str, PropertyValue]]] = []
        for _ in range(50_000):
            name = rng.choices([e for e, _ in EVENTS], [w for _, w in EVENTS])[0]
            props: dict[str, PropertyValue] = {}
            if name == "UserInfoRequested":
                props["user-agent"] = rng.choices(AGENTS, agent_weights)[0]
                lang = rng.choices(languages, language_weights)[0]
                props["accept-language"] = f"{lang}-{lang.upper()},{lang};q=0.9"
            elif name == "LogRecordsRequested":
                props["task"] = rng.choices([t for t, _ in TASKS], [w for _, w in TASKS])[0]
                props["records"] = min(10_000_000, int(rng.lognormvariate(4.5, 1.6)))
            elif name == "ServerErrorFound":
                code, kind = rng.choices(errors, error_weights)[0]
                props["code"] = code
                if kind:
                    props["type"] = kind
            elif name == "TrainerUsage":
                props["framework"] = rng.choices(FRAMEWORKS, zipf_weights(len(FRAMEWORKS)))[0]
                props["task"] = rng.choice(TRAIN_TASKS)
            pool.append((name, props))
        return pool

    def _crash_pool(self, count: int = 36) -> tuple[CrashPool, CrashPool]:
        """Crash properties of every release, and of all but the newest (zipf-weighted).

        ``count`` signatures, each with one to three stacks that differ only in line
        numbers, as the SDK's do; the last :data:`NEWEST_ONLY_SIGNATURES` are raised
        by the newest release only.
        """
        rng = self.rng
        pool: list[dict[str, PropertyValue]] = []
        weights: list[float] = []
        old = 0
        for n in range(count):
            old_signatures = count - NEWEST_ONLY_SIGNATURES
            if n == old_signatures:
                old = len(pool)
            depth = rng.randrange(1, 5)
            frames = [
                (rng.choice(MODULES), f"handler_{n:02d}_{level}", rng.randrange(20, 900))
                for level in range(depth)
            ]
            signature = hashlib.sha256(repr([(m, f) for m, f, _ in frames]).encode()).hexdigest()
            exception = EXCEPTIONS[n % len(EXCEPTIONS)]
            for variant in range(rng.randrange(1, 4)):
                stack = ("<other>", *(f"{m}:{f}:{line + variant * 3}" for m, f, line in frames))
                pool.append({"exception": exception, "frames": stack, "signature": signature[:16]})
                # The newest release's own signatures are among its most frequent.
                rank = n + 1 if not old else n - old_signatures + 2
                weights.append(1 / rank**1.1)
        cumulative = list(itertools.accumulate(weights))
        return (pool, cumulative), (pool[:old], cumulative[:old])

    def version(self, day: int, lag: int) -> str:
        # Release 1.(20 + k) on day first_day + k * RELEASE_EVERY; installs upgrade after a lag.
        release = (day - lag - self.first_day) // RELEASE_EVERY
        return f"1.{max(15, 24 + release)}.0"

    def events(self) -> Iterator[list[StoredEvent]]:
        """Chunks of events in time order (ids grow with time, like UUIDv7)."""
        rng = self.rng
        pool = self.props
        serial = 0
        chunk: list[StoredEvent] = []

        def emit(
            install: Install,
            version: str,
            name: str,
            props: dict[str, PropertyValue],
            ts: int,
        ) -> None:
            nonlocal serial
            serial += 1
            day = ts // MS_PER_DAY  # every event falls inside its day
            platform = f"{install.system}-{install.machine}"
            chunk.append(
                StoredEvent(
                    f"{day:05d}-{serial:012d}", "argilla", name, install.id, ts, ts, version,
                    install.python, install.system, "6.1", install.machine, platform,
                    install.library, "1", props,
                )
            )  # fmt: skip

        for day in range(self.first_day, self.today + 1):
            base_ms = day * MS_PER_DAY
            for install in self.installs:
                if not install.first <= day <= install.last or rng.random() > install.activity:
                    continue
                count = _poisson(rng, self.per_weight * install.busy)
                if count == 0:
                    continue
                version = self.version(day, install.lag)
                start = rng.randrange(len(pool))
                for k in range(count):
                    name, props = pool[(start + k * 7919) % len(pool)]
                    if k == 0:
                        name, props = "ServerStarted", {}
                    emit(install, version, name, props, base_ms + (k * 86_399_000) // count)
                for name, props in self._problems(version, count):
                    emit(install, version, name, props, base_ms + rng.randrange(86_399_000))
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _problems(self, version: str, count: int) -> list[tuple[str, dict[str, PropertyValue]]]:
        """The crashes (and the newest release's new error) of an install-day of ``count``."""
        rng = self.rng
        newest = version == self.newest
        share = NEWEST_CRASH_SHARE if newest else CRASH_SHARE
        pool, weights = self.crashes if newest else self.old_crashes
        crashes = _poisson(rng, count * share)
        out: list[tuple[str, dict[str, PropertyValue]]] = [
            ("CrashReported", props) for props in rng.choices(pool, cum_weights=weights, k=crashes)
        ]
        if newest:
            regressions = _poisson(rng, count * REGRESSION_SHARE)
            out += [("ServerErrorFound", {"code": REGRESSION, "type": "Record"})] * regressions
        return out


def _poisson(rng: random.Random, mean: float) -> int:
    if mean < 30:
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def build(path: Path, target: int, installs: int, days: int, today: int) -> dict[str, object]:
    """Build (or reuse) a store of about ``target`` events; return its description."""
    meta_path = path.with_suffix(".json")
    wanted = {"target": target, "installs": installs, "days": days, "v": GENERATOR_VERSION}
    if meta_path.exists() and path.exists():
        meta: dict[str, object] = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted:
            return meta
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {path.name}: about {target:,} events (cached for later runs)...", flush=True)
    started = time.perf_counter()
    traffic = Traffic(target, installs, days, today, seed=target)

    async def fill() -> int:
        store = open_store(f"sqlite:///{path}")
        stored = 0
        pending: set[asyncio.Future[WriteResult]] = set()
        try:
            for chunk in traffic.events():
                pending.add(asyncio.ensure_future(store.write(chunk)))
                if len(pending) >= IN_FLIGHT:
                    done, pending = await asyncio.wait(pending, return_when="FIRST_COMPLETED")
                    stored += sum(t.result().stored for t in done)
            for task in pending:
                stored += (await task).stored
        finally:
            await store.close()
        return stored

    stored = asyncio.run(fill())
    meta = {**wanted, "events": stored, "today": today, "built_s": time.perf_counter() - started}
    meta_path.write_text(json.dumps(meta))
    print(f"  {stored:,} events in {meta['built_s']:.0f} s", flush=True)
    return meta


class Collector:
    """A real ``pigeon serve`` process on 127.0.0.1 over one store."""

    def __init__(self, path: Path) -> None:
        command = [sys.executable, "-m", "pigeon.cli", "serve", "--store", f"sqlite:///{path}"]
        command += ["--port", "0", "--admin-token", TOKEN, "--retention-days", "0"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = ""
        found = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                match = re.search(r"listening on (http://\S+)", line)
                if match:
                    self.url = match.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(60):
            self.process.kill()
            raise SystemExit("the collector did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def measure(
    urls: dict[int, str], requests: int, days: str
) -> dict[int, dict[str, tuple[float, float]]]:
    """p50 and p95 (ms) of every view, and of a whole dashboard load, per store size.

    The sizes take turns request by request (1M, 10M, 1M, 10M, ...): a slow
    spell of a shared machine then lands on both sides of the ratio, instead
    of on whichever size happened to be measured during it.
    """
    headers = {"Authorization": f"Bearer {TOKEN}"}
    samples: dict[int, dict[str, list[float]]] = {size: {} for size in urls}
    clients = {
        size: httpx.Client(base_url=url, headers=headers, timeout=60) for size, url in urls.items()
    }
    try:
        for view in VIEWS:
            for client in clients.values():  # warm up: the first request reads cold pages
                client.get(f"/api/v1/stats/{view}", params={"days": days}).raise_for_status()
            for _ in range(requests):
                for size, client in clients.items():
                    start = time.perf_counter()
                    reply = client.get(f"/api/v1/stats/{view}", params={"days": days})
                    reply.raise_for_status()
                    elapsed = (time.perf_counter() - start) * 1000
                    samples[size].setdefault(view, []).append(elapsed)
    finally:
        for client in clients.values():
            client.close()

    # One shared client per store (its connection pool), as a browser keeps its
    # connections: a client per request would time connection set-up instead.
    limits = httpx.Limits(max_connections=len(VIEWS))
    shared = {
        size: httpx.Client(base_url=url, headers=headers, timeout=60, limits=limits)
        for size, url in urls.items()
    }
    try:
        with ThreadPoolExecutor(len(VIEWS)) as pool:
            for _ in range(max(3, requests // 4)):
                for size, client in shared.items():

                    def one(view: str, client: httpx.Client = client) -> None:
                        reply = client.get(f"/api/v1/stats/{view}", params={"days": days})
                        reply.raise_for_status()

                    start = time.perf_counter()
                    list(pool.map(one, VIEWS))
                    elapsed = (time.perf_counter() - start) * 1000
                    samples[size].setdefault("(whole dashboard)", []).append(elapsed)
    finally:
        for client in shared.values():
            client.close()
    return {
        size: {
            view: (statistics.median(values), percentile(values, 0.95))
            for view, values in by_view.items()
        }
        for size, by_view in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="event counts, comma-separated")
    parser.add_argument("--installs", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90, help="days of traffic in each store")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per view and size")
    parser.add_argument("--ranges", default="30,90", help="the days= of the timed requests")
    parser.add_argument("--build-only", action="store_true", help="build the stores and stop")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    today = today_utc()
    results: dict[tuple[int, str], dict[str, tuple[float, float]]] = {}
    paths = {}
    for size in sizes:
        path = CACHE / f"store-{size}-{args.installs}-{args.days}.db"
        meta = build(path, size, args.installs, args.days, today)
        if meta.get("today") != today:
            print(f"  note: built on day {meta.get('today')}, today is {today}: ranges shift")
        paths[size] = path
    if args.build_only:
        return 0
    collectors: dict[int, Collector] = {}
    try:
        for size, path in paths.items():
            collectors[size] = Collector(path)
        urls = {size: collector.url for size, collector in collectors.items()}
        for days in args.ranges.split(","):
            for size, by_view in measure(urls, args.requests, days).items():
                results[(size, days)] = by_view
    finally:
        for collector in collectors.values():
            collector.close()

    report(results, sizes, args.ranges.split(","), args.requests)
    return 0


def report(
    results: dict[tuple[int, str], dict[str, tuple[float, float]]],
    sizes: list[int],
    ranges: list[str],
    requests: int,
) -> None:
    """Print each range's table: p50 / p95 per view and size, the ratios, the goals."""
    print(f"\nstats API over HTTP, {requests} requests per view and size (ms, p50 / p95)")
    for days in ranges:
        print(f"\n?days={days}")
        header = f"{'view':<20}" + "".join(f"{f'{s:,} events':>22}" for s in sizes)
        if len(sizes) > 1:
            header += f"{'p95 ratio':>12}"
        print(header)
        worst = 0.0
        for view in [*VIEWS, "(whole dashboard)"]:
            cells = [results[(s, days)][view] for s in sizes]
            line = f"{view:<20}" + "".join(f"{p50:>12.1f} / {p95:>6.1f}" for p50, p95 in cells)
            if len(sizes) > 1:
                ratio = cells[-1][1] / cells[0][1]
                line += f"{ratio:>12.2f}"
                if view != "(whole dashboard)":
                    worst = max(worst, ratio)
            print(line)
        views_p95 = max(results[(sizes[-1], days)][v][1] for v in VIEWS)
        goal = "met" if views_p95 <= 100 else "MISSED"
        print(f"worst view p95 at {sizes[-1]:,}: {views_p95:.1f} ms (goal <= 100 ms: {goal})")
        if len(sizes) > 1:
            goal = "met" if worst <= 1.5 else "MISSED"
            print(f"worst p95 ratio {sizes[-1]:,}/{sizes[0]:,}: {worst:.2f} (goal <= 1.5: {goal})")


if __name__ == "__main__":
    sys.exit(main())
