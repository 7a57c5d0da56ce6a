"""``TrainerUsage`` from ML training wrappers: which framework, which task type.

Example::

    from pigeon.integrations.trainer import report_trainer, reports_training

    report_trainer(telemetry, framework="setfit", task="TextClassification")

    class Trainer:
        @reports_training(telemetry, framework=lambda self, *a, **k: self.framework,
                          task=lambda self, *a, **k: self.task)
        def train(self, output_dir: str) -> None: ...

Frameworks are normalised (case, ``_``/``-`` spellings of the known names); a
framework or task the catalog does not list is sent as ``other`` by the
catalog's enum fallback, so an in-house framework's name never leaves the
process. Reporting never raises into the training code.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

if TYPE_CHECKING:
    from pigeon import Client

__all__ = ["FRAMEWORK_ALIASES", "normalize_framework", "report_trainer", "reports_training"]

logger = logging.getLogger("pigeon")

FuncT = TypeVar("FuncT", bound=Callable[..., Any])
Choice = str | Callable[..., str]
"""A literal value, or a function of the wrapped call's arguments that returns it."""

FRAMEWORK_ALIASES: Final = {
    "sentence_transformers": "sentence-transformers",
    "sentencetransformers": "sentence-transformers",
    "spacy_transformers": "spacy-transformers",
    "span-marker": "span_marker",
    "spanmarker": "span_marker",
    "huggingface": "transformers",
    "hf": "transformers",
}
"""Other spellings of the catalog's framework names (import names, old names)."""

_EVENT: Final = "TrainerUsage"


def normalize_framework(framework: object) -> str:
    """The catalog spelling of a framework name (``SetFit`` → ``setfit``); others pass through.

    Non-strings become ``other``. Unknown names are left for the catalog's enum
    fallback to turn into ``other``.
    """
    if not isinstance(framework, str):
        return "other"
    name = str.lower(framework).strip()
    return FRAMEWORK_ALIASES.get(name, name)


def report_trainer(client: Client, *, framework: object, task: object) -> None:
    """Track one ``TrainerUsage``; never raises.

    Args:
        client: the host's :class:`pigeon.Client`.
        framework: the training framework (``setfit``, ``transformers``...).
        task: the task type (``TextClassification``...); unknown ones become ``other``.
    """
    try:
        client.track(
            _EVENT,
            {
                "framework": normalize_framework(framework),
                # str.__str__: the value of a str-based Enum, not its repr-like str().
                "task": str.__str__(task) if isinstance(task, str) else "other",
            },
        )
    except Exception:
        logger.debug("pigeon: could not report trainer usage", exc_info=True)


def reports_training(
    client: Client, *, framework: Choice, task: Choice
) -> Callable[[FuncT], FuncT]:
    """Decorate a training entry point: each call reports one ``TrainerUsage`` first.

    Args:
        client: the host's :class:`pigeon.Client`.
        framework: the framework, or a function called with the wrapped call's
            arguments that returns it.
        task: the task type, or such a function.

    Returns:
        A decorator for sync or async functions (methods included).
    """

    def report(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            chosen_framework = framework(*args, **kwargs) if callable(framework) else framework
            chosen_task = task(*args, **kwargs) if callable(task) else task
        except Exception:
            logger.debug("pigeon: could not read the trainer's framework or task", exc_info=True)
            chosen_framework, chosen_task = "other", "other"
        report_trainer(client, framework=chosen_framework, task=chosen_task)

    def decorate(func: FuncT) -> FuncT:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                report(args, kwargs)
                return await func(*args, **kwargs)

            return cast(FuncT, wrapped_async)

        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            report(args, kwargs)
            return func(*args, **kwargs)

        return cast(FuncT, wrapped)

    return decorate
