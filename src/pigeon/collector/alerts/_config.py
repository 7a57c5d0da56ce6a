"""The ``[alerts]`` table of ``pigeon serve --config``: webhooks, rules, interval, state file.

:func:`parse_alerts` checks the whole table before anything starts; a mistake
is a :class:`ValueError` whose message starts with the key it is about
(``alerts.rules[1].factor: must be greater than 1``; arrays count from 0).
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pigeon.collector.stats._health import Kind

__all__ = [
    "DEFAULT_INTERVAL",
    "AlertsConfig",
    "Format",
    "Rule",
    "RuleKind",
    "Webhook",
    "parse_alerts",
]

RuleKind = Literal["new", "rate"]
"""``new``: a problem never seen before; ``rate``: the latest version made a problem worse."""
Format = Literal["json", "slack"]
"""A webhook's body: pigeon's generic JSON, or Slack's incoming-webhook message."""

DEFAULT_INTERVAL: Final = 300.0
"""Seconds between two evaluations of the rules."""
DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a webhook has to answer one delivery."""
_DEFAULT_DAYS: Final[Mapping[RuleKind, int]] = {"new": 30, "rate": 14}


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where alerts are POSTed.

    Attributes:
        name: how rules, the history and the metrics name it.
        url: an ``http://`` or ``https://`` URL.
        format: ``json`` or ``slack``.
        timeout: seconds one delivery may take.
    """

    name: str
    url: str
    format: Format = "json"
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule.

    Attributes:
        name: unique among the rules; part of each alert's key.
        kind: ``new`` or ``rate``.
        what: ``error`` (error codes) or ``crash`` (crash signatures).
        app: one app, or ``None`` for every app.
        webhooks: the names of the webhooks its alerts go to.
        days: ``new``: the look-back in which the problem must never have been
            reported; ``rate``: the window the versions' rates are computed over.
        factor: ``rate``: how many times the previous version's rate alerts.
        min_installs: ``rate``: installs each of the two compared versions needs.
    """

    name: str
    kind: RuleKind
    what: Kind
    app: str | None = None
    webhooks: tuple[str, ...] = ()
    days: int = 30
    factor: float = 2.0
    min_installs: int = 5


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Everything the alerting of one collector needs.

    Attributes:
        state: the SQLite file of raised alerts and their deliveries.
        interval: seconds between evaluations.
        webhooks: by name.
        rules: in the file's order.
        evaluate: whether this process evaluates and delivers (with
            ``--workers N`` only worker 0 does; every worker serves the history).
    """

    state: Path
    interval: float = DEFAULT_INTERVAL
    webhooks: Mapping[str, Webhook] = field(default_factory=dict)
    rules: Sequence[Rule] = ()
    evaluate: bool = True


def parse_alerts(
    table: Mapping[str, object], *, min_installs: int, data_dir: Path | None
) -> AlertsConfig:
    """Check the ``[alerts]`` table and build its config.

    Args:
        table: the table as TOML parsed it.
        min_installs: the collector's k-anonymity threshold (``--min-installs``).
        data_dir: the SQLite store's directory (the state's default home), or
            ``None`` for a remote store, which makes ``state`` required.

    Raises:
        ValueError: the first mistake, its message starting with the key.
    """
    _known(table, "alerts", {"interval", "state", "webhooks", "rules"})
    interval = _number(table, "alerts", "interval", DEFAULT_INTERVAL)
    if interval <= 0:
        raise ValueError(f"alerts.interval: must be greater than 0, got {interval:g}")
    state_text = _string(table, "alerts", "state", "")
    if state_text:
        state = Path(state_text)
    elif data_dir is not None:
        state = data_dir / "alerts.db"
    else:
        raise ValueError("alerts.state: required when the store is not SQLite")
    webhooks: dict[str, Webhook] = {}
    for label, item in _tables(table, "webhooks"):
        hook = _webhook(item, label)
        if hook.name in webhooks:
            raise ValueError(f"{label}.name: {hook.name!r} is given twice")
        webhooks[hook.name] = hook
    rules: list[Rule] = []
    for label, item in _tables(table, "rules"):
        rule = _rule(item, label, webhooks, min_installs)
        if any(r.name == rule.name for r in rules):
            raise ValueError(f"{label}.name: {rule.name!r} is given twice")
        rules.append(rule)
    return AlertsConfig(state, interval, webhooks, tuple(rules))


def _webhook(item: Mapping[str, object], label: str) -> Webhook:
    _known(item, label, {"name", "url", "format", "timeout"})
    name = _name(item, label)
    url = _string(item, label, "url", "")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{label}.url: expected an http:// or https:// URL, got {url!r}")
    form = _choice(item, label, "format", ("json", "slack"), "json")
    timeout = _number(item, label, "timeout", DEFAULT_TIMEOUT)
    if timeout <= 0:
        raise ValueError(f"{label}.timeout: must be greater than 0, got {timeout:g}")
    return Webhook(name, url, "slack" if form == "slack" else "json", timeout)


def _rule(
    item: Mapping[str, object], label: str, webhooks: Mapping[str, Webhook], min_installs: int
) -> Rule:
    kind = _choice(item, label, "kind", ("new", "rate"), None)
    extra = {"factor", "min_installs"} if kind == "rate" else set()
    _known(item, label, {"name", "kind", "what", "app", "webhooks", "days", *extra})
    name = _name(item, label)
    what = _choice(item, label, "what", ("error", "crash"), None)
    app = _string(item, label, "app", "") or None
    hooks = item.get("webhooks")
    if not isinstance(hooks, list) or not hooks or not all(isinstance(h, str) for h in hooks):
        raise ValueError(f"{label}.webhooks: expected a non-empty array of webhook names")
    for hook in hooks:
        if hook not in webhooks:
            known = ", ".join(sorted(webhooks)) or "none is configured"
            raise ValueError(f"{label}.webhooks: no webhook named {hook!r} (known: {known})")
    rule_kind: RuleKind = "rate" if kind == "rate" else "new"
    days = _integer(item, label, "days", _DEFAULT_DAYS[rule_kind])
    if days < 1:
        raise ValueError(f"{label}.days: must be at least 1, got {days}")
    factor, least = 2.0, min_installs
    if rule_kind == "rate":
        if "factor" not in item:
            raise ValueError(f"{label}.factor: required for a rate rule")
        factor = _number(item, label, "factor", 2.0)
        if not factor > 1:
            raise ValueError(f"{label}.factor: must be greater than 1, got {factor:g}")
        least = _integer(item, label, "min_installs", min_installs)
        if least < min_installs:
            raise ValueError(
                f"{label}.min_installs: must be at least the collector's min_installs "
                f"({min_installs}), got {least}"
            )
    return Rule(
        name,
        rule_kind,
        "crash" if what == "crash" else "error",
        app,
        tuple(hooks),
        days,
        factor,
        least,
    )


def _tables(table: Mapping[str, object], key: str) -> list[tuple[str, Mapping[str, object]]]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"alerts.{key}: expected an array of tables ([[alerts.{key}]])")
    found: list[tuple[str, Mapping[str, object]]] = []
    for index, item in enumerate(value):
        label = f"alerts.{key}[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{label}: expected a table")
        found.append((label, item))
    return found


def _known(table: Mapping[str, object], label: str, keys: set[str]) -> None:
    for key in table:
        if key not in keys:
            raise ValueError(f"{label}.{key}: unknown key (known keys: {', '.join(sorted(keys))})")


def _name(item: Mapping[str, object], label: str) -> str:
    name = _string(item, label, "name", "").strip()
    if not name:
        raise ValueError(f"{label}.name: required, a non-empty string")
    return name


def _string(item: Mapping[str, object], label: str, key: str, default: str) -> str:
    value = item.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{label}.{key}: expected a string")
    return value


def _choice(
    item: Mapping[str, object], label: str, key: str, choices: tuple[str, ...], default: str | None
) -> str:
    value = item.get(key, default)
    if value is None:
        raise ValueError(f"{label}.{key}: required, one of {', '.join(choices)}")
    if value not in choices:
        raise ValueError(f"{label}.{key}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _integer(item: Mapping[str, object], label: str, key: str, default: int) -> int:
    value = item.get(key, default)
    # bool is an int in Python; `days = true` is still the wrong type.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{label}.{key}: expected an integer")
    return value


def _number(item: Mapping[str, object], label: str, key: str, default: float) -> float:
    value = item.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{label}.{key}: expected a number")
    return float(value)
