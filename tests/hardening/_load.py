"""A bounded load run against a real collector: throughput, latency, errors, memory over time."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.collector._running import RunningCollector
from tests.conftest import clean_subprocess_env
from tests.hardening._probe import rss_bytes

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LoadResult:
    """What a load run measured (times in seconds since the run began)."""

    seconds: float
    requests: int
    errors: int
    events: int
    p50_ms: float
    p99_ms: float
    warmup_end: float
    fresh_events: int = 0
    rss: list[tuple[float, int]] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def error_rate(self) -> float:
        return self.errors / max(1, self.requests)

    @property
    def fresh_events_per_s(self) -> float:
        """Throughput of the warm-up, when every event is new to the store."""
        return self.fresh_events / max(self.warmup_end, 1e-9)

    def steady_growth(self) -> tuple[float, int]:
        """RSS growth over the steady phase (least-squares slope x its length), and its samples."""
        steady = [(t, r) for t, r in self.rss if t >= self.warmup_end]
        if len(steady) < 3:
            return 0.0, len(steady)
        times = [t for t, _ in steady]
        sizes = [float(r) for _, r in steady]
        slope = statistics.linear_regression(times, sizes).slope
        return slope * (times[-1] - times[0]), len(steady)

    def steady_events(self) -> int:
        """Events sent in the steady phase (the figure a leak per event is divided by)."""
        return int(self.events * max(0.0, self.seconds - self.warmup_end) / self.seconds)


def run_load(workdir: Path, seconds: float, clients: int = 3, *, fresh: bool = False) -> LoadResult:
    """Run ``clients`` load processes for ``seconds`` against a fresh collector.

    With ``fresh``, every event is new (the store grows all along); else the
    clients resend their pool after the first pass (see ``_load_client``).
    """
    collector = RunningCollector.with_store(
        workdir / "collector", f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    outs = [workdir / f"client-{n}.json" for n in range(clients)]
    began = time.time()
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.hardening._load_client", collector.url,
                 str(seconds), str(n), str(out), *(["fresh"] if fresh else [])],
                cwd=REPO,
                env=clean_subprocess_env(PYTHONPATH=str(REPO)),
            )
            for n, out in enumerate(outs)
        ]  # fmt: skip
        rss: list[tuple[float, int]] = []
        while any(p.poll() is None for p in procs):
            rss.append((time.time() - began, rss_bytes(collector.process.pid)))
            time.sleep(0.5)  # the sampling period of the memory series
        for proc in procs:
            assert proc.wait(timeout=60) == 0
    finally:
        collector.stop()
    latencies: list[float] = []
    errors = requests = events = new = 0
    warmup_end = 0.0
    loaded = [json.loads(out.read_text()) for out in outs]
    for data in loaded:
        warmup_end = max(warmup_end, (data["first_pass_done"] or time.time()) - began)
    for data in loaded:
        for started, took, status in data["results"]:
            requests += 1
            latencies.append(took)
            if status == 200:
                events += data["batch"]
                if started - began < warmup_end:
                    new += data["batch"]
            else:
                errors += 1
    latencies.sort()
    elapsed = time.time() - began
    return LoadResult(
        seconds=elapsed,
        requests=requests,
        errors=errors,
        events=events,
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
        warmup_end=warmup_end,
        fresh_events=new,
        rss=rss,
    )
