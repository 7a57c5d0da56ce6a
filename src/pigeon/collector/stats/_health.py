r"""Release health: each version's problems, normalised by that version's active installs.

A *problem* is an error code (``ServerErrorFound``, kind ``"error"``, key
``"code\ttype"``) or a crash signature (``CrashReported``, kind ``"crash"``,
key the 16-hex signature). The stores count them per version in the
``error_version`` and ``crash_version`` dimensions (values ``"version\tkey"``).

A problem's **rate** is its events per 100 active installs per day of that
version: ``100 * events / install_days``, where ``install_days`` sums the
version's distinct active installs of each day of the range (the ``version``
series). A version that twice as many installs run for the same days has twice
the exposure, so rates of an old and a new release can be compared even while
the new one is still rolling out.

This module computes from store rollups only and publishes nothing itself: the
release-health view and the alert rules apply k-anonymity to what they show.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, Literal, Protocol, TypeVar

from pigeon.collector.storage._base import RollupRow, Store

__all__ = [
    "PROBLEM_DIMENSIONS",
    "WORSE_FACTOR",
    "Change",
    "Kind",
    "Problem",
    "Rated",
    "VersionHealth",
    "build_health",
    "compare",
    "health_by_version",
    "latest_pair",
    "rate",
    "version_key",
    "versions_newest_first",
]

Kind = Literal["error", "crash"]

PROBLEM_DIMENSIONS: Final[dict[Kind, str]] = {"error": "error_version", "crash": "crash_version"}
"""The dimension that counts each kind of problem per version."""

WORSE_FACTOR: Final = 1.2
"""A problem got worse (better) when its rate grew (shrank) by more than this factor."""

Status = Literal["new", "gone", "worse", "better", "unchanged"]


def rate(events: int, install_days: int) -> float:
    """Events per 100 active installs per day; 0 when the version had no activity."""
    return 100.0 * events / install_days if install_days else 0.0


@dataclass(frozen=True, slots=True)
class Problem:
    r"""One problem in one version over the range.

    Attributes:
        key: ``"code\ttype"`` for an error, the signature for a crash.
        events: how many times it was reported.
        installs: distinct installs of that version that reported it.
        rate: events per 100 active installs of that version per day.
    """

    key: str
    events: int
    installs: int
    rate: float


@dataclass(frozen=True, slots=True)
class VersionHealth:
    """One version's exposure and problems over the range (raw: not k-anonymised).

    Attributes:
        version: the app version (``"unknown"`` when clients sent none).
        installs: distinct installs active with this version over the range.
        install_days: the sum over the range's days of the day's active installs.
        problems: key -> :class:`Problem`, every problem reported with this version.
    """

    version: str
    installs: int
    install_days: int
    problems: dict[str, Problem]


async def health_by_version(
    store: Store, app: str | None, kind: Kind, first_day: int, last_day: int
) -> dict[str, VersionHealth]:
    """Every version active in ``first_day..last_day`` with its problems of ``kind``."""
    totals, series, problems = await asyncio.gather(
        store.totals(app, "version", first_day, last_day),
        store.series(app, "version", first_day, last_day),
        store.totals(app, PROBLEM_DIMENSIONS[kind], first_day, last_day),
    )
    return build_health(totals, series, problems)


def build_health(
    version_totals: Iterable[RollupRow],
    version_series: Iterable[RollupRow],
    problem_totals: Iterable[RollupRow],
) -> dict[str, VersionHealth]:
    """:func:`health_by_version` from rows already read (``version`` and a problem dimension)."""
    install_days: dict[str, int] = {}
    for row in version_series:
        install_days[row.value] = install_days.get(row.value, 0) + row.installs
    found: dict[str, dict[str, Problem]] = {}
    for row in problem_totals:
        version, _, key = row.value.partition("\t")
        exposure = install_days.get(version, 0)
        found.setdefault(version, {})[key] = Problem(
            key, row.events, row.installs, rate(row.events, exposure)
        )
    return {
        row.value: VersionHealth(
            row.value, row.installs, install_days.get(row.value, 0), found.get(row.value, {})
        )
        for row in version_totals
    }


_RELEASE = re.compile(r"v?(\d+(?:\.\d+)*)(.*)", re.IGNORECASE)


def version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    """A sort key that orders release versions as people read them.

    ``1.9.0 < 1.10.0``, a pre-release before its release (``1.2.0rc1 <
    1.2.0``), a post or local release after it (``1.2.0 < 1.2.0.post1``, ``1.2.0+cu118``),
    and anything that is no version (``"unknown"``) before every version.
    """
    match = _RELEASE.fullmatch(version.strip())
    if match is None:
        return ((), -1, version)
    release = tuple(int(part) for part in match.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:  # 1.2 == 1.2.0
        release = release[:-1]
    rest = match.group(2)
    if not rest:
        return (release, 0, "")
    after = rest.lower().startswith((".post", "post", "+", "-post"))
    return (release, 1 if after else -1, rest)


def latest_pair(installs: Mapping[str, int], min_installs: int) -> tuple[str, str] | None:
    """``(previous, latest)``: the two newest versions with ``min_installs`` installs or more.

    ``installs`` maps each version to its distinct installs over the range.
    ``None`` when fewer than two versions qualify (or every version is unknown).
    """
    eligible = sorted(
        (v for v, n in installs.items() if n >= min_installs and version_key(v)[0]),
        key=version_key,
    )
    return (eligible[-2], eligible[-1]) if len(eligible) >= 2 else None


class Rated(Protocol):
    """What :func:`compare` reads of a problem: its key, events and rate (no installs)."""

    @property
    def key(self) -> str:
        """The problem's key."""
        ...

    @property
    def events(self) -> int:
        """How many times it was reported."""
        ...

    @property
    def rate(self) -> float:
        """Events per 100 active installs of the version per day."""
        ...


R = TypeVar("R", bound=Rated)


@dataclass(frozen=True, slots=True)
class Change(Generic[R]):
    """How one problem changed from one version to the next.

    Attributes:
        key: the problem's key.
        status: ``new`` (not reported at all by the previous version), ``gone``
            (not reported by the latest), ``worse``/``better`` (its rate changed by
            more than the factor), else ``unchanged``.
        previous, latest: the problem in each version, ``None`` when not reported.
        ratio: latest rate / previous rate, ``None`` when either is zero.
    """

    key: str
    status: Status
    previous: R | None
    latest: R | None
    ratio: float | None


def compare(
    previous: Mapping[str, R], latest: Mapping[str, R], factor: float = WORSE_FACTOR
) -> list[Change[R]]:
    """Every problem of either version, most worsened first (new ones first of all).

    The order reads events and rates only, never installs: a view can walk it
    and count installs only of the changes it publishes.
    """
    changes = [
        _change(key, previous.get(key), latest.get(key), factor) for key in {**previous, **latest}
    ]
    return sorted(changes, key=_severity)


def _change(key: str, before: R | None, after: R | None, factor: float) -> Change[R]:
    if before is None:
        return Change(key, "new", None, after, None)
    if after is None:
        return Change(key, "gone", before, None, None)
    ratio = after.rate / before.rate if before.rate and after.rate else None
    status: Status = "unchanged"
    if ratio is not None and ratio > factor:
        status = "worse"
    elif ratio is not None and ratio < 1 / factor:
        status = "better"
    return Change(key, status, before, after, ratio)


_ORDER: Final[dict[Status, int]] = {"new": 0, "worse": 1, "unchanged": 2, "better": 3, "gone": 4}


def _severity(change: Change[R]) -> tuple[int, float, int, str]:
    latest = change.latest
    return (
        _ORDER[change.status],
        -(change.ratio or 0.0),
        -(latest.events if latest is not None else 0),
        change.key,
    )


def versions_newest_first(versions: Sequence[str]) -> list[str]:
    """``versions`` ordered newest first (see :func:`version_key`)."""
    return sorted(versions, key=version_key, reverse=True)
