"""Schemathesis against every operation of the collector's ``/openapi.json``, on a real process.

Each operation is fuzzed twice: as an anonymous client and with valid
credentials (the write key for ingestion, the admin token for the stats
API), so that generation reaches past the auth checks. Every answer must be
below 500, and every error must be a JSON body with a ``code`` and a
``message`` (the reason). Generation is derandomized: a run is repeatable.
Inputs that ever made it fail are replayed from ``regressions.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from pigeon.catalog import Catalog
from pigeon.collector import CollectorConfig, create_app
from tests.collector._running import ADMIN_TOKEN, WRITE_KEY, RunningCollector, basic
from tests.hardening.conftest import Record

EXAMPLES = 100
SCHEMA = schemathesis.openapi.from_dict(
    create_app(
        CollectorConfig(write_keys={WRITE_KEY: Catalog.load("argilla")}, admin_token=ADMIN_TOKEN)
    ).openapi()
)
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}  # type: ignore[union-attr]
REGRESSIONS = json.loads((Path(__file__).with_name("regressions.json")).read_text())


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("fuzz")
    running = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    yield running
    running.stop()


def credentials(label: str) -> dict[str, str]:
    if "/api/v1/" in label or label.endswith(" /metrics"):
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return basic(WRITE_KEY)


def judge(status: int, content_type: str, body: bytes) -> str | None:
    """What is wrong with one answer, or None."""
    if status >= 500:
        return f"server error {status}: {body[:200]!r}"
    if "json" not in content_type:
        prometheus = content_type.startswith("text/plain; version=0.0.4")  # GET /metrics
        ok = status < 400 and ("csv" in content_type or prometheus)
        return None if ok else f"not JSON: {content_type}"
    try:
        data: Any = json.loads(body)
    except ValueError:
        return f"invalid JSON body: {body[:200]!r}"
    if status >= 400 and not (isinstance(data, dict) and data.get("code") and data.get("message")):
        return f"{status} without code and message: {data!r}"
    return None


@pytest.mark.parametrize("authorized", [False, True], ids=["anonymous", "authorized"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_operation_answers_5xx_or_a_non_json_error(
    collector: RunningCollector, reliability: Record, label: str, authorized: bool
) -> None:
    who = "with credentials" if authorized else "anonymous"
    reliability.tried("fuzzing", f"schemathesis, {EXAMPLES} cases: {label} ({who})")
    operation = OPERATIONS[label]
    statuses: dict[int, int] = {}
    problems: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case[Any]) -> None:
        headers = dict(case.headers or {})
        if authorized:
            headers.update(credentials(label))
        response = case.call(base_url=collector.url, headers=headers, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        problem = judge(
            response.status_code, response.headers.get("content-type", [""])[0], response.content
        )
        if problem is not None:
            problems.append(f"{case.method} {case.formatted_path}: {problem}")

    run()
    reliability.figures.update({f"http_{s}": n for s, n in sorted(statuses.items())})
    assert not problems, problems[:5]
    assert collector.request("GET", "/healthz").status == 200


@pytest.mark.parametrize("case", REGRESSIONS, ids=[c["name"] for c in REGRESSIONS])
def test_regressions_stay_fixed(
    collector: RunningCollector, reliability: Record, case: dict[str, Any]
) -> None:
    reliability.tried("fuzzing", f"regression replay: {case['name']}")
    body = bytes.fromhex(case["body_hex"]) if "body_hex" in case else case["body"].encode()
    headers = dict(case.get("headers", {}))
    if case.get("write_key"):
        headers.update(basic(WRITE_KEY))
    reply = collector.request(case["method"], case["path"], body, headers)
    reliability.figures["status"] = reply.status
    assert reply.status == case["expect_status"], reply.body
    assert judge(reply.status, reply.headers.get("content-type", ""), reply.body) is None
