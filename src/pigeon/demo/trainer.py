"""A tiny training wrapper, as a labelling tool's client library ships one.

``python -m pigeon.demo.trainer --server URL --dataset NAME --framework setfit
--task TextClassification`` fetches a dataset's records from a reference server,
"trains" a majority-class model on their annotations, and reports
``TrainerUsage`` through :mod:`pigeon.integrations.trainer`, with a telemetry
client built from the environment like the server's (same data directory, same
install id). The traffic generator runs it as a separate process, the way a
user's training script runs beside the server.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pigeon
from pigeon.demo._http import request
from pigeon.demo._settings import DEFAULT_API_KEY, DEFAULT_WORKSPACE, DemoSettings
from pigeon.demo._telemetry import build_client
from pigeon.integrations.trainer import report_trainer

__all__ = ["MajorityTrainer", "main"]

_FLUSH_SECONDS = 5.0


class MajorityTrainer:
    """Learns the most frequent label: the smallest model that still needs labelled data."""

    def __init__(self, telemetry: pigeon.Client, framework: str, task: str) -> None:
        """Choose the framework and task type (reported, as names only)."""
        self.telemetry = telemetry
        self.framework = framework
        self.task = task

    def train(self, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Fit on ``records``; reports one ``TrainerUsage``."""
        report_trainer(self.telemetry, framework=self.framework, task=self.task)
        labels = Counter(
            str(r["annotation"]) for r in records if isinstance(r.get("annotation"), str)
        )
        majority = labels.most_common(1)[0][0] if labels else None
        return {"records": len(records), "labels": len(labels), "majority_label": majority}


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch, train, report: exit 0, or 1 when the server gives no records, or 2 on bad settings."""
    parser = argparse.ArgumentParser(prog="python -m pigeon.demo.trainer")
    parser.add_argument("--server", required=True, help="the reference server's base URL")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    parser.add_argument("--framework", required=True, help="e.g. setfit, transformers, spacy")
    parser.add_argument("--task", required=True, help="e.g. TextClassification")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)

    query = urllib.parse.urlencode({"workspace": args.workspace, "limit": 1000})
    path = f"/api/datasets/{urllib.parse.quote(args.dataset)}/records?{query}"
    try:
        reply = request(args.server, "GET", path, headers={"X-Argilla-Api-Key": args.api_key})
    except OSError as exc:
        sys.stderr.write(f"trainer: cannot reach {args.server}: {exc}\n")
        return 1
    if reply.status != 200 or not isinstance(reply.body, dict):
        sys.stderr.write(f"trainer: the server answered {reply.status}: {reply.body}\n")
        return 1
    try:
        settings = DemoSettings.from_env()
    except ValueError as exc:
        sys.stderr.write(f"trainer: {exc}\n")
        return 2
    telemetry = build_client(settings)
    trainer = MajorityTrainer(telemetry, args.framework, args.task)
    result = trainer.train(reply.body.get("records", []))
    telemetry.flush(_FLUSH_SECONDS)
    print(json.dumps({"framework": args.framework, "task": args.task, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
