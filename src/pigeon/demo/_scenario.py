"""What one simulated install does in one round: its users' API calls, errors and trainings.

Everything goes through real HTTP to the install's own reference server
process; trainings run as separate processes (``python -m pigeon.demo.trainer``)
with the install's environment. The amounts are small and bounded, so a round
takes seconds.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pigeon.demo._http import ApiClient
from pigeon.demo._profiles import InstallProfile
from pigeon.demo._settings import DEFAULT_API_KEY

__all__ = ["RoundReport", "play_round"]

_TASKS: Final = ("TextClassification", "TokenClassification", "Text2Text")
_FRAMEWORKS: Final = {
    "TextClassification": ("setfit", "transformers", "spacy", "openai", "my-lab-trainer"),
    "TokenClassification": ("span_marker", "spacy", "transformers", "spacy-transformers"),
    "Text2Text": ("trl", "openai", "peft", "transformers"),
}
_WORDS: Final = (
    "the",
    "service",
    "was",
    "quick",
    "and",
    "friendly",
    "but",
    "the",
    "invoice",
    "arrived",
    "late",
    "again",
    "please",
    "refund",
    "my",
    "order",
    "the",
    "package",
    "never",
    "came",
    "great",
    "support",
    "team",
    "thanks",
    "battery",
    "drains",
    "fast",
    "after",
    "the",
    "update",
    "app",
    "crashes",
    "on",
    "start",
    "love",
    "the",
    "new",
    "design",
)
_LABELS: Final = ("positive", "negative", "neutral")
_TRAINER_TIMEOUT: Final = 60.0


@dataclass(slots=True)
class RoundReport:
    """What one install did in one round."""

    calls: int = 0
    errors: int = 0
    bulk_uploads: int = 0
    records: int = 0
    trainings: int = 0

    def summary(self) -> str:
        """One line for the demo's output."""
        return (
            f"{_count(self.calls, 'API call')} ({_count(self.errors, 'error')}), "
            f"{_count(self.bulk_uploads, 'bulk upload')} ({_count(self.records, 'record')}), "
            f"{_count(self.trainings, 'trainer run')}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def play_round(
    profile: InstallProfile,
    server_url: str,
    env: Mapping[str, str],
    rng: random.Random,
    stop: threading.Event,
) -> RoundReport:
    """Play one round of ``profile``'s traffic against its server at ``server_url``."""
    browser, python_client = profile.user_agents
    owner = ApiClient(server_url, DEFAULT_API_KEY, browser, profile.language)
    sdk = owner.as_user(DEFAULT_API_KEY, python_client)
    report = RoundReport()

    for _ in range(rng.randint(1, 3)):
        owner.call("GET", "/api/me")
    annotator_name = f"annotator-{rng.randint(1, 5)}"
    created = owner.call("POST", "/api/users", {"username": annotator_name})
    if created.status == 200 and isinstance(created.body, dict):
        annotator = owner.as_user(str(created.body["api_key"]))
        annotator.call("GET", "/api/me")
    owner.call("POST", "/api/workspaces", {"name": "team-a"})
    if rng.random() < 0.4:
        owner.call("POST", "/api/workspaces", {"name": "team-a"})  # already exists

    datasets: list[tuple[str, str]] = []
    for task in rng.sample(_TASKS, k=rng.randint(1, 3)):
        if stop.is_set():
            break
        name = f"{task.lower()}-{rng.randint(1, 3)}"
        datasets.append((name, task))
        for _ in range(rng.randint(1, 3)):
            count = rng.randint(5, 150)
            reply = sdk.call("POST", f"/api/datasets/{name}/{task}:bulk", _bulk(task, count, rng))
            if reply.status == 200:
                report.bulk_uploads += 1
                report.records += count

    _play_errors(owner, sdk, datasets, rng)
    for name, task in datasets[: rng.randint(0, 2)]:
        if stop.is_set():
            break
        framework = rng.choice(_FRAMEWORKS[task])
        if _train(server_url, env, name, framework, task):
            report.trainings += 1

    report.calls = owner.tally.calls
    report.errors = owner.tally.errors
    return report


def _play_errors(
    owner: ApiClient, sdk: ApiClient, datasets: list[tuple[str, str]], rng: random.Random
) -> None:
    """The errors real users hit: typos in names, stale keys, wrong payloads."""
    if rng.random() < 0.7:
        sdk.call("GET", f"/api/datasets/reviews-{rng.randint(100, 999)}")
    if rng.random() < 0.4:
        sdk.call("GET", "/api/datasets?workspace=no-such-team")
    if rng.random() < 0.4:
        owner.as_user("argilla.old-apikey").call("GET", "/api/me")
    if rng.random() < 0.5:
        sdk.call("POST", "/api/datasets/broken/TextClassification:bulk", {"records": [{"id": 1}]})
    if datasets and rng.random() < 0.3:
        # The server's deliberate bug: records without annotation cannot be sorted by it.
        owner.call("GET", f"/api/datasets/{datasets[0][0]}/records?sort=annotation")
    if datasets and rng.random() < 0.3:
        name, task = datasets[0]
        other = next(t for t in _TASKS if t != task)
        sdk.call("POST", f"/api/datasets/{name}/{other}:bulk", _bulk(other, 3, rng))


def _bulk(task: str, count: int, rng: random.Random) -> dict[str, Any]:
    records = []
    for i in range(count):
        words = rng.choices(_WORDS, k=rng.randint(4, 14))
        record: dict[str, Any] = {"id": i, "metadata": {"source": "demo", "batch": i // 50}}
        if task == "TokenClassification":
            record["tokens"] = words
            record["annotation"] = [["PRODUCT", 0, len(words[0])]] if rng.random() < 0.5 else None
        else:
            record["text"] = " ".join(words)
            record["annotation"] = rng.choice(_LABELS) if rng.random() < 0.6 else None
        records.append(record)
    return {"records": records, "tags": {"origin": "pigeon-demo"}, "metadata": {}}


def _train(
    server_url: str, env: Mapping[str, str], dataset: str, framework: str, task: str
) -> bool:
    argv = [
        sys.executable,
        "-m",
        "pigeon.demo.trainer",
        "--server",
        server_url,
        "--dataset",
        dataset,
        "--framework",
        framework,
        "--task",
        task,
    ]
    try:
        done = subprocess.run(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TRAINER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0
