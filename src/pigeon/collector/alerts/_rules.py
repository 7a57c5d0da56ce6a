r"""Evaluating alert rules over the store's rollups (pure reads, no state).

* ``new``: a problem (an error's ``"code\ttype"`` in the ``error`` dimension,
  a crash's signature in ``crash``) that at least the collector's
  ``min_installs`` installs reported in the recent window (yesterday and today,
  UTC, so a problem that starts just before midnight is not missed) and that
  nobody reported in the ``days`` before it.
* ``rate``: of the two newest versions with the rule's ``min_installs``
  installs (:func:`~pigeon.collector.stats._health.latest_pair`), the latest has
  a problem, reported by at least the collector's ``min_installs`` installs,
  whose rate is ``factor`` times the previous version's or more (or that the
  previous version never reported).

k-anonymity: a problem is alerted only when ``min_installs`` installs reported
it, and every number an alert carries (:attr:`Alert.numbers`) stands for at
least that many installs; the previous version's numbers of a problem fewer
installs reported are left out (``None``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from pigeon.collector.alerts._config import Rule
from pigeon.collector.stats._health import (
    Kind,
    Problem,
    health_by_version,
    latest_pair,
)
from pigeon.collector.storage._base import Store

__all__ = ["RECENT_DAYS", "Alert", "evaluate_rule", "problem_of"]

RECENT_DAYS: Final = 2
"""The days (today included) in which a ``new`` problem must have been reported."""

_PROBLEM_DIMENSION: Final[Mapping[Kind, str]] = {"error": "error", "crash": "crash"}
_NumberValue = int | float | str | None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert a rule raised.

    Attributes:
        key: stable across evaluations and processes: the state stores each key once.
        rule: the rule's name.
        kind: the rule's kind (``new`` or ``rate``).
        what: ``error`` or ``crash``.
        app: the app it is about.
        problem: ``{"code", "type"}`` of an error, ``{"signature", "exception"}`` of a crash.
        version: the version that made a ``rate`` problem worse (``None`` for ``new``).
        numbers: the k-anonymous counts behind it (events, installs, rates...).
    """

    key: str
    rule: str
    kind: str
    what: str
    app: str
    problem: Mapping[str, str]
    version: str | None
    numbers: Mapping[str, _NumberValue] = field(default_factory=dict)

    def fields(self) -> dict[str, object]:
        """What a webhook body and the history say of the alert (its key aside)."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "what": self.what,
            "app": self.app,
            "problem": dict(self.problem),
            "version": self.version,
            "numbers": dict(self.numbers),
        }


def problem_of(what: str, key: str) -> dict[str, str]:
    r"""A problem's key as named fields: ``"code\ttype"`` or ``"signature\texception"``."""
    first, _, second = key.partition("\t")
    if what == "crash":
        return {"signature": first, "exception": second}
    return {"code": first, "type": second}


async def evaluate_rule(
    store: Store, rule: Rule, apps: list[str], min_installs: int, today: int
) -> list[Alert]:
    """Every alert ``rule`` raises on ``today`` (a UTC day number), over ``apps``.

    ``apps`` is every app the store knows; a rule for one app looks at that app
    only (and raises nothing while it has no data).
    """
    targets = [rule.app] if rule.app is not None else apps
    found: list[Alert] = []
    for app in targets:
        if app not in apps:
            continue
        if rule.kind == "new":
            found += await _new(store, rule, app, min_installs, today)
        else:
            found += await _rate(store, rule, app, min_installs, today)
    return found


async def _new(store: Store, rule: Rule, app: str, min_installs: int, today: int) -> list[Alert]:
    dimension = _PROBLEM_DIMENSION[rule.what]
    first_recent = today - RECENT_DAYS + 1
    recent, before = await asyncio.gather(
        store.totals(app, dimension, first_recent, today),
        store.totals(app, dimension, first_recent - rule.days, first_recent - 1),
    )
    seen = {_identity(rule.what, row.value) for row in before if row.events}
    alerts = []
    for row in recent:
        identity = _identity(rule.what, row.value)
        if row.installs < min_installs or identity in seen:
            continue
        numbers: dict[str, _NumberValue] = {
            "events": row.events,
            "installs": row.installs,
            "days": RECENT_DAYS,
            "look_back_days": rule.days,
        }
        alerts.append(
            Alert(
                f"{rule.name}|{app}|{identity}",
                rule.name,
                rule.kind,
                rule.what,
                app,
                problem_of(rule.what, row.value),
                None,
                numbers,
            )
        )
    return alerts


def _identity(what: str, value: str) -> str:
    # A crash is its signature; its exception class is a description of it.
    return value.partition("\t")[0] if what == "crash" else value


async def _rate(store: Store, rule: Rule, app: str, min_installs: int, today: int) -> list[Alert]:
    first = today - rule.days + 1
    versions = await health_by_version(store, app, rule.what, first, today)
    pair = latest_pair({v: h.installs for v, h in versions.items()}, rule.min_installs)
    if pair is None:
        return []
    previous, latest = versions[pair[0]], versions[pair[1]]
    exceptions: dict[str, str] = {}
    if rule.what == "crash":
        for row in await store.totals(app, "crash", first, today):
            signature, _, exception = row.value.partition("\t")
            exceptions.setdefault(signature, exception)
    alerts = []
    for key, problem in latest.problems.items():
        before = previous.problems.get(key)
        if problem.installs < min_installs or not _worse(problem, before, rule.factor):
            continue
        shown = before if before is not None and before.installs >= min_installs else None
        numbers: dict[str, _NumberValue] = {
            "events": problem.events,
            "installs": problem.installs,
            "rate": round(problem.rate, 4),
            "version_installs": latest.installs,
            "previous_version": previous.version,
            "previous_rate": round(shown.rate, 4) if shown is not None else None,
            "ratio": round(problem.rate / shown.rate, 2) if shown and shown.rate else None,
            "factor": rule.factor,
            "days": rule.days,
        }
        name = f"{key}\t{exceptions.get(key, '')}" if rule.what == "crash" else key
        alerts.append(
            Alert(
                f"{rule.name}|{app}|{key}|{latest.version}",
                rule.name,
                rule.kind,
                rule.what,
                app,
                problem_of(rule.what, name),
                latest.version,
                numbers,
            )
        )
    return alerts


def _worse(latest: Problem, previous: Problem | None, factor: float) -> bool:
    if previous is None or previous.rate == 0:
        return latest.rate > 0
    return latest.rate >= factor * previous.rate
