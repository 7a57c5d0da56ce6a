"""What a stats request asks for: an app (or all apps) and a range of whole UTC days.

Every reader (the stats API, the export, ``pigeon report``) parses its
parameters here, so a bad ``days``, ``from``, ``to`` or ``app`` gets the same
one-line reason everywhere, naming the parameter.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from pigeon.collector.storage._base import MS_PER_DAY

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "DayRange",
    "StatsQuery",
    "StatsQueryError",
    "day_to_iso",
    "parse_query",
    "today_utc",
]

DEFAULT_DAYS = 30
"""The range a request covers when it names none: the last 30 days, today included."""

MAX_DAYS = 3660
"""The longest range a request may ask for (ten years): bounds the work per request."""

_APP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_EPOCH = dt.date(1970, 1, 1)


class StatsQueryError(ValueError):
    """A stats parameter is malformed; ``parameter`` names it, ``reason`` says why."""

    def __init__(self, parameter: str, reason: str) -> None:
        """Record the parameter and the reason."""
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


def today_utc() -> int:
    """Today's UTC day number."""
    return int(time.time() * 1000) // MS_PER_DAY


def day_to_iso(day: int) -> str:
    """``2024-05-01`` for a UTC day number."""
    return (_EPOCH + dt.timedelta(days=day)).isoformat()


def iso_to_day(text: str, parameter: str) -> int:
    """The day number of an ISO date ``YYYY-MM-DD``, or :class:`StatsQueryError`."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise StatsQueryError(parameter, f"expected a date as YYYY-MM-DD, got {text!r}") from None
    return (date - _EPOCH).days


@dataclass(frozen=True, slots=True)
class DayRange:
    """Whole UTC days ``first..last``, both included."""

    first: int
    last: int

    @property
    def days(self) -> int:
        """How many days the range covers."""
        return self.last - self.first + 1

    def day_list(self) -> list[int]:
        """Every day of the range, oldest first."""
        return list(range(self.first, self.last + 1))

    def ending(self, days: int) -> DayRange:
        """The last ``days`` days of this range (a window ending on the same day)."""
        return DayRange(self.last - days + 1, self.last)

    def as_dict(self) -> dict[str, object]:
        """The range as JSON: ISO dates and a day count."""
        return {"from": day_to_iso(self.first), "to": day_to_iso(self.last), "days": self.days}


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """One request: ``app`` (``None`` for all apps) over ``range``."""

    app: str | None
    range: DayRange


def _parse_days(text: str) -> int:
    if not text.isdigit() or len(text) > 5:
        raise StatsQueryError("days", f"expected a whole number of days, got {text!r}")
    days = int(text)
    if not 1 <= days <= MAX_DAYS:
        raise StatsQueryError("days", f"must be between 1 and {MAX_DAYS}, got {days}")
    return days


def parse_app(text: str | None) -> str | None:
    """``None`` for all apps, else a well-formed app name, or :class:`StatsQueryError`."""
    if text is None or text == "":
        return None
    if not _APP_NAME.fullmatch(text):
        raise StatsQueryError(
            "app", "expected an app name (letters, digits, '.', '_', '-'; at most 64)"
        )
    return text


def parse_query(
    *,
    days: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    app: str | None = None,
    today: int | None = None,
) -> StatsQuery:
    """Build a query from request parameters (strings as they came, ``None`` when absent).

    ``days=N`` means the last N days, today included. ``from``/``to`` (ISO dates,
    both included) pick a range instead: ``to`` defaults to today and ``from`` to
    ``DEFAULT_DAYS`` days before ``to``. ``days`` and ``from``/``to`` exclude each other.

    Raises:
        StatsQueryError: a parameter is malformed; the error names it.
    """
    today = today_utc() if today is None else today
    parsed_app = parse_app(app)
    if date_from is None and date_to is None:
        count = DEFAULT_DAYS if days is None or days == "" else _parse_days(days)
        return StatsQuery(parsed_app, DayRange(today - count + 1, today))
    if days is not None and days != "":
        raise StatsQueryError("days", "give either days or from/to, not both")
    last = today if not date_to else iso_to_day(date_to, "to")
    first = last - DEFAULT_DAYS + 1 if not date_from else iso_to_day(date_from, "from")
    if first > last:
        raise StatsQueryError("from", f"must not be after to ({day_to_iso(last)})")
    if last - first + 1 > MAX_DAYS:
        raise StatsQueryError("from", f"the range may cover at most {MAX_DAYS} days")
    return StatsQuery(parsed_app, DayRange(first, last))
