"""Privacy audit of a full demo run: canaries everywhere user data can appear, found nowhere.

The demo's traffic generator (the runner API ``pigeon.demo.traffic.Traffic``)
plays every simulated install through real reference servers, each embedding
the SDK, to a real collector behind a recording proxy. A random canary is
planted in every install's data path (ids, spools, logs live there) and in
the user name, host name and home of every process; the demo's own user data
(dataset, workspace and user names, record words, metadata, API keys) are
canaries too. Then every byte on the wire, every value and byte of the store,
and every line the collector and the servers logged are searched.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

from pigeon.demo.traffic import Traffic
from tests.conftest import clean_subprocess_env
from tests.demo.processes import WRITE_KEY, every_stored_value, running_collector
from tests.demo.recording_proxy import RecordingProxy
from tests.hardening.conftest import Record

# The demo's own user data (see pigeon.demo._scenario): never telemetry.
DEMO_USER_DATA = (
    "annotator-", "team-a", "no-such-team", "reviews-", "textclassification-",
    "tokenclassification-", "text2text-", "argilla.old-apikey", "argilla.apikey",
    "invoice", "refund", "battery", "pigeon-demo",
)  # fmt: skip


def find(haystacks: dict[str, bytes], needles: list[str]) -> list[str]:
    return [
        f"{needle!r} in {where}"
        for where, data in haystacks.items()
        for needle in needles
        if needle.encode() in data
    ]


def test_a_full_demo_run_leaks_no_canary(tmp_path: Path, reliability: Record) -> None:
    canary = f"cnry{secrets.token_hex(8)}"
    reliability.tried(
        "privacy", "full demo round (4 installs) with canaries in paths, user, host, user data"
    )
    data_dir = tmp_path / f"{canary}-data"
    base_env = clean_subprocess_env(
        USER=f"{canary}-user", LOGNAME=f"{canary}-user", HOSTNAME=f"{canary}-host",
        HOME=str(tmp_path / f"{canary}-home"),
    )  # fmt: skip
    with (
        running_collector(tmp_path / "collector") as collector,
        RecordingProxy(collector.port) as proxy,
    ):
        traffic = Traffic(
            proxy.url, data_dir, installs=4, seed=11, parallel=2,
            write_key=WRITE_KEY, base_env=base_env,
        )  # fmt: skip
        try:
            results = traffic.run_round(threading.Event())
        finally:
            traffic.stop_all()
        wire = proxy.raw
        requests = proxy.requests()
    assert all(r.report is not None for r in results), [r.line() for r in results]
    stored = every_stored_value(collector.db)
    assert stored, "nothing was stored: the audit would prove nothing"
    haystacks = {"the wire (raw)": wire}
    haystacks |= {f"request {n} (decoded)": r.head + r.body for n, r in enumerate(requests)}
    haystacks["the store (values)"] = b"\n".join(stored)
    for path in collector.db.parent.iterdir():
        if path.is_file():
            haystacks[f"store file {path.name}"] = path.read_bytes()
    logs = [*data_dir.rglob("*.log"), collector.process.log_path]
    for log in logs:
        haystacks[f"log {log.name}"] = log.read_bytes()
    leaks = find(haystacks, [canary, *DEMO_USER_DATA])
    reliability.figures.update(
        {
            "wire_bytes": len(wire),
            "requests": len(requests),
            "stored_values": len(stored),
            "log_files": len(logs),
            "canaries": 1 + len(DEMO_USER_DATA),
            "api_calls": sum(r.report.calls for r in results if r.report is not None),
        }
    )
    ids = list(data_dir.rglob("telemetry_id"))
    assert len(ids) == 4  # the canary is in the path of every install's data
    assert all(canary in str(path) for path in ids)
    assert len(requests) >= 4
    assert not leaks, leaks
