"""The client of every process-model scenario, and the record of what each process tracked.

Configured from the environment (``PROBE_ENDPOINT``, ``PROBE_HOME``) so that
processes the test does not start itself (server workers, spawned pool
workers) build the same client. Every event tracked through :func:`track`
is also written as one JSON line on standard output (``os.write``: atomic,
unbuffered, survives ``os._exit``), so the test knows exactly what every
process tracked and can compare it with what the collector acknowledged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pigeon
from pigeon._backoff import BackoffPolicy
from pigeon._sender import Policy

CATALOG = Path(__file__).with_name("probe.toml")
QUICK = Policy(
    interval=0.02,
    timeout=2.0,
    exit_timeout=2.0,
    backoff=BackoffPolicy(base=0.02, cap=0.1, attempts=1000),
)
"""Batches leave within 20 ms; failures retry within 100 ms and never reach the long back-off."""


def make_client() -> pigeon.Client:
    """An enabled client sending to the test's sink."""
    client = pigeon.Client(
        "probe",
        "1.0",
        catalog=str(CATALOG),
        endpoint=os.environ["PROBE_ENDPOINT"],
        write_key="probe-key",
        home=os.environ["PROBE_HOME"],
        environ={},
    )
    assert client._sender is not None, client.disabled_reason
    client._sender.policy = QUICK
    return client


def track(client: pigeon.Client, event: str, n: int | None = None) -> None:
    """Track one event of this process and record it on standard output."""
    properties: dict[str, int] = {"process": os.getpid()}
    if n is not None:
        properties["n"] = n
    client.track(event, properties)
    say({"event": event, "process": os.getpid(), "n": n})


def say(fact: dict[str, object]) -> None:
    """One JSON line on standard output, in a single write."""
    os.write(1, (json.dumps(fact) + "\n").encode())


def report_flush(client: pigeon.Client, timeout: float = 20.0) -> bool:
    """Flush, and record the outcome and the counters of this process."""
    flushed = client.flush(timeout=timeout)
    say({"flushed": flushed, "process": os.getpid(), "counters": client.counters})
    return flushed
