"""Parsing a stats request's range and app, and the errors that name the parameter."""

from __future__ import annotations

import pytest

from pigeon.collector.stats import (
    DEFAULT_DAYS,
    MAX_DAYS,
    DayRange,
    StatsQueryError,
    day_to_iso,
    parse_query,
)
from pigeon.collector.stats._query import iso_to_day

TODAY = iso_to_day("2024-06-30", "to")


def test_default_is_the_last_thirty_days() -> None:
    query = parse_query(today=TODAY)
    assert query.app is None
    assert query.range == DayRange(TODAY - DEFAULT_DAYS + 1, TODAY)
    assert query.range.days == 30


def test_days() -> None:
    assert parse_query(days="1", today=TODAY).range == DayRange(TODAY, TODAY)
    assert parse_query(days="7", today=TODAY).range.as_dict() == {
        "from": "2024-06-24",
        "to": "2024-06-30",
        "days": 7,
    }
    assert parse_query(days=str(MAX_DAYS), today=TODAY).range.days == MAX_DAYS
    assert parse_query(days="", today=TODAY).range.days == DEFAULT_DAYS


def test_from_and_to() -> None:
    query = parse_query(date_from="2024-02-28", date_to="2024-03-01", today=TODAY)
    assert [day_to_iso(d) for d in query.range.day_list()] == [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert parse_query(date_from="2024-06-25", today=TODAY).range == DayRange(TODAY - 5, TODAY)
    assert parse_query(date_to="2024-06-10", today=TODAY).range.days == DEFAULT_DAYS


def test_ending_windows() -> None:
    span = DayRange(100, 129)
    assert span.ending(7) == DayRange(123, 129)
    assert span.ending(60) == DayRange(70, 129)


def test_app() -> None:
    assert parse_query(app="argilla", today=TODAY).app == "argilla"
    assert parse_query(app="", today=TODAY).app is None
    assert parse_query(app="my-app_2.x", today=TODAY).app == "my-app_2.x"


@pytest.mark.parametrize(
    ("kwargs", "parameter", "reason"),
    [
        ({"days": "0"}, "days", "must be between 1 and 3660, got 0"),
        ({"days": "3661"}, "days", "must be between 1 and 3660, got 3661"),
        ({"days": "1.5"}, "days", "expected a whole number of days, got '1.5'"),
        ({"days": " 7"}, "days", "expected a whole number of days, got ' 7'"),
        ({"days": "7", "date_to": "2024-06-01"}, "days", "give either days or from/to, not both"),
        ({"date_from": "2024-6-1"}, "from", "expected a date as YYYY-MM-DD, got '2024-6-1'"),
        ({"date_to": "20240601"}, "to", "expected a date as YYYY-MM-DD, got '20240601'"),
        ({"date_from": "2024-02-30"}, "from", "expected a date as YYYY-MM-DD, got '2024-02-30'"),
        ({"date_from": "2024-06-02", "date_to": "2024-06-01"}, "from", "must not be after to"),
        ({"date_from": "2000-01-01"}, "from", "the range may cover at most 3660 days"),
        ({"app": "a b"}, "app", "expected an app name"),
        ({"app": "-x"}, "app", "expected an app name"),
        ({"app": "x" * 65}, "app", "expected an app name"),
    ],
)
def test_errors_name_the_parameter(kwargs: dict[str, str], parameter: str, reason: str) -> None:
    with pytest.raises(StatsQueryError) as caught:
        parse_query(today=TODAY, **kwargs)
    assert caught.value.parameter == parameter
    assert caught.value.reason.startswith(reason)
    assert str(caught.value).startswith(f"{parameter}: {reason}")
