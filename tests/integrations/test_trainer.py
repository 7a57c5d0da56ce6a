"""``TrainerUsage`` from training wrappers: exact properties, unknown values become ``other``."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

import pigeon
from pigeon.integrations.trainer import normalize_framework, report_trainer, reports_training
from pigeon.testing import capture_events


def test_report_trainer_sends_framework_and_task(telemetry: pigeon.Client) -> None:
    with capture_events() as events:
        report_trainer(telemetry, framework="setfit", task="TextClassification")
    assert events.properties("TrainerUsage") == [
        {"framework": "setfit", "task": "TextClassification"}
    ]


@pytest.mark.parametrize(
    ("framework", "expected"),
    [
        ("SetFit", "setfit"),
        (" transformers ", "transformers"),
        ("sentence_transformers", "sentence-transformers"),
        ("span-marker", "span_marker"),
        ("spacy_transformers", "spacy-transformers"),
        ("my-private-lab-trainer", "other"),
        ("", "other"),
        (None, "other"),
        (42, "other"),
    ],
)
def test_frameworks_are_normalised_and_unknown_ones_become_other(
    telemetry: pigeon.Client, framework: object, expected: str
) -> None:
    with capture_events() as events:
        report_trainer(telemetry, framework=framework, task="Text2Text")
    assert events.properties("TrainerUsage") == [{"framework": expected, "task": "Text2Text"}]
    assert "private-lab" not in json.dumps(events)


@pytest.mark.parametrize("task", ["MyOwnTask", "", None, 3.5])
def test_unknown_tasks_become_other(telemetry: pigeon.Client, task: object) -> None:
    with capture_events() as events:
        report_trainer(telemetry, framework="peft", task=task)
    assert events.properties("TrainerUsage") == [{"framework": "peft", "task": "other"}]


def test_str_enums_report_their_values(telemetry: pigeon.Client) -> None:
    # The (str, Enum) pattern host apps use for their names is what is tested here.
    class Framework(str, enum.Enum):  # noqa: UP042
        TRL = "trl"

    class Task(str, enum.Enum):  # noqa: UP042
        DPO = "DPO"

    with capture_events() as events:
        report_trainer(telemetry, framework=Framework.TRL, task=Task.DPO)
    assert events.properties("TrainerUsage") == [{"framework": "trl", "task": "DPO"}]


def test_normalize_framework_leaves_unknown_names_to_the_catalog() -> None:
    assert normalize_framework("In-House") == "in-house"
    assert normalize_framework(object()) == "other"


def test_decorator_reports_each_call_from_the_call_arguments(telemetry: pigeon.Client) -> None:
    class Trainer:
        def __init__(self, framework: str, task: str) -> None:
            self.framework = framework
            self.task = task

        @reports_training(
            telemetry,
            framework=lambda self, *args, **kwargs: self.framework,
            task=lambda self, *args, **kwargs: self.task,
        )
        def train(self, epochs: int) -> int:
            return epochs * 2

    with capture_events() as events:
        assert Trainer("spacy", "TokenClassification").train(3) == 6
        assert Trainer("openai", "ChatCompletion").train(epochs=1) == 2
    assert events.properties("TrainerUsage") == [
        {"framework": "spacy", "task": "TokenClassification"},
        {"framework": "openai", "task": "ChatCompletion"},
    ]


def test_decorator_works_on_coroutines_with_literal_values(telemetry: pigeon.Client) -> None:
    @reports_training(telemetry, framework="trl", task="PPO")
    async def train(steps: int) -> str:
        return f"trained {steps}"

    with capture_events() as events:
        assert anyio.run(train, 5) == "trained 5"
    assert events.properties("TrainerUsage") == [{"framework": "trl", "task": "PPO"}]


def test_reporting_never_breaks_training(
    telemetry: pigeon.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_track(event: str, properties: Any = None) -> None:
        raise RuntimeError("telemetry is broken")

    def broken_choice(*args: Any, **kwargs: Any) -> str:
        raise KeyError("no framework attribute")

    @reports_training(telemetry, framework=broken_choice, task="DPO")
    def train() -> str:
        return "done"

    with capture_events() as events:
        assert train() == "done"
    assert events.properties("TrainerUsage") == [{"framework": "other", "task": "other"}]

    monkeypatch.setattr(telemetry, "track", broken_track)
    report_trainer(telemetry, framework="setfit", task="TextClassification")
    assert train() == "done"


def test_disabled_client_reports_nothing(tmp_path: Path) -> None:
    client = pigeon.Client("argilla", "1", enabled=False, home=tmp_path / "off")
    with capture_events() as events:
        report_trainer(client, framework="setfit", task="TextClassification")
    assert events == []
    assert not (tmp_path / "off").exists()
