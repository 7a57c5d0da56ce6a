"""What the ASGI telemetry costs the reference server per request.

Calls the reference server's ``GET /api/me`` and a bulk upload in-process,
straight through its ASGI interface (no HTTP client in the measurement),
many times, in three configurations measured in the same run, interleaved in
small blocks so that machine noise hits them alike:

- ``without``: the app built with ``instrument=False`` (no middleware at all);
- ``with``: the middleware and an enabled client (events are validated and
  encoded on the SDK's sender thread, delivered to an in-memory transport);
- ``disabled``: the middleware with a disabled client (``ARGILLA_ENABLE_TELEMETRY=0``).

Prints the median latency of each and the ratio with/without; the goal is an
added median latency of at most 5 %.

A failing request (the demo's deliberate bug, ``GET .../records?sort=annotation``,
a 500) is measured the same way through the middleware with
``report_crashes=True`` against ``report_crashes=False``: what capturing the
crash signature adds (``CrashReported`` besides ``ServerErrorFound``); the goal
is a ratio of at most 1.05 too.

Run: ``python benchmarks/bench_middleware.py [--calls N] [--records N]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

import pigeon
from pigeon.demo._app import create_app
from pigeon.demo._errors import describe_api_error
from pigeon.demo._settings import DemoSettings
from pigeon.integrations.asgi import TelemetryMiddleware
from pigeon.testing import MemoryTransport

GOAL = 1.05
BLOCK = 25
HEADERS = [
    (b"x-argilla-api-key", b"argilla.apikey"),
    (b"user-agent", b"argilla/1.29.0 python/3.11.7"),
    (b"accept-language", b"en-US,en;q=0.9"),
]

Call = Callable[[], Coroutine[Any, Any, int]]


def asgi_call(app: FastAPI, method: str, path: str, body: bytes = b"") -> Call:
    """A zero-argument coroutine function that sends one request and returns its status."""
    headers = [*HEADERS]
    path, _, query = path.partition("?")
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    base_scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def call() -> int:
        status = 0
        started = False
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True

        try:
            await app(dict(base_scope), receive, send)
        except Exception:
            # Starlette re-raises an unhandled error after its 500 (for the server's log).
            if not started:
                raise
        return status

    return call


def bulk_body(records: int) -> bytes:
    rng = random.Random(0)
    words = ("the", "service", "was", "quick", "and", "friendly", "but", "invoice", "late")
    return json.dumps(
        {
            "records": [
                {
                    "text": " ".join(rng.choices(words, k=12)),
                    "annotation": rng.choice(["positive", "negative"]),
                    "metadata": {"source": "bench", "i": i},
                }
                for i in range(records)
            ],
            "tags": {},
            "metadata": {},
        }
    ).encode()


async def measure(
    calls: dict[str, Call], total: int, expected: int = 200
) -> dict[str, list[float]]:
    """Interleave blocks of each configuration until each has ``total`` timings (µs)."""
    timings: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    rng = random.Random(1)
    for call in calls.values():  # warm-up: first-call costs (imports, caches) are not measured
        for _ in range(BLOCK):
            assert await call() == expected
    while min(len(t) for t in timings.values()) < total:
        rng.shuffle(order)
        for name in order:
            call = calls[name]
            for _ in range(BLOCK):
                start = time.perf_counter_ns()
                status = await call()
                timings[name].append((time.perf_counter_ns() - start) / 1000)
                assert status == expected, f"{name} answered {status}"
    return timings


def build_apps(home: Path) -> tuple[dict[str, FastAPI], pigeon.Client]:
    settings = DemoSettings(max_records_per_dataset=10**9)
    enabled = pigeon.Client(
        "argilla",
        "1.29.0",
        transport=MemoryTransport(),
        home=home / "on",
        app_package="pigeon.demo",
    )
    disabled = pigeon.Client("argilla", "1.29.0", enabled=False, home=home / "off")
    assert enabled.enabled
    assert not disabled.enabled
    apps = {
        "without": create_app(enabled, settings=settings, instrument=False, banner=io.StringIO()),
        "with": create_app(enabled, settings=settings, banner=io.StringIO()),
        "disabled": create_app(disabled, settings=settings, banner=io.StringIO()),
    }
    return apps, enabled


def build_crash_apps(client: pigeon.Client) -> dict[str, FastAPI]:
    """The server with the middleware reporting crashes (``on``) and not (``off``)."""
    settings = DemoSettings(max_records_per_dataset=10**9)
    apps = {}
    for name, report in (("on", True), ("off", False)):
        app = create_app(client, settings=settings, instrument=False, banner=io.StringIO())
        app.add_middleware(
            TelemetryMiddleware,
            client=client,
            describe_error=describe_api_error,
            report_crashes=report,
        )
        apps[name] = app
    return apps


async def crash_timings(client: pigeon.Client, total: int) -> dict[str, list[float]]:
    """Timings of the failing request, crash reporting on and off."""
    records = [{"text": "a", "annotation": "positive"}, {"text": "b", "annotation": None}]
    body = json.dumps({"records": records, "tags": {}, "metadata": {}}).encode()
    calls = {}
    for name, app in build_crash_apps(client).items():
        upload = asgi_call(app, "POST", "/api/datasets/mixed/TextClassification:bulk", body)
        assert await upload() == 200  # a dataset the bug can trip on
        calls[name] = asgi_call(app, "GET", "/api/datasets/mixed/records?sort=annotation")
    return await measure(calls, total, expected=500)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per configuration")
    parser.add_argument("--records", type=int, default=50, help="records per bulk upload")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as home:
        apps, client = build_apps(Path(home))
        body = bulk_body(args.records)
        endpoints: dict[str, Callable[[FastAPI], Call]] = {
            "GET /api/me": lambda app: asgi_call(app, "GET", "/api/me"),
            f"POST bulk ({args.records} records)": lambda app: asgi_call(
                app, "POST", "/api/datasets/bench/TextClassification:bulk", body
            ),
        }
        print(f"{args.calls} timed calls per configuration, interleaved in blocks of {BLOCK}")
        worst = 0.0
        for endpoint, make in endpoints.items():
            calls = {name: make(app) for name, app in apps.items()}
            timings = asyncio.run(measure(calls, args.calls))
            medians = {name: statistics.median(t) for name, t in timings.items()}
            ratio = medians["with"] / medians["without"]
            worst = max(worst, ratio)
            print(
                f"{endpoint:28s} median µs: without {medians['without']:8.1f}  "
                f"with {medians['with']:8.1f}  disabled {medians['disabled']:8.1f}  "
                f"ratio with/without {ratio:.3f}  disabled/without "
                f"{medians['disabled'] / medians['without']:.3f}"
            )
        timings = asyncio.run(crash_timings(client, args.calls))
        medians = {name: statistics.median(t) for name, t in timings.items()}
        ratio = medians["on"] / medians["off"]
        worst = max(worst, ratio)
        print(
            f"{'GET records (500, crash)':28s} median µs: report_crashes=False "
            f"{medians['off']:8.1f}  True {medians['on']:8.1f}  ratio on/off {ratio:.3f}"
        )
        delivered = client.flush(timeout=10)
        print(f"events sent by the enabled client: {client.counters.get('sent', 0)} "
              f"(all delivered: {delivered})")  # fmt: skip
        client.shutdown()
    verdict = "met" if worst <= GOAL else "NOT met"
    print(f"goal: added median latency <= {GOAL - 1:.0%}: {verdict} (worst ratio {worst:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
