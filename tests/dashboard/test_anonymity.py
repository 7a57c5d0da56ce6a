"""The k-anonymity rules, on rollup rows: what is named, merged, hidden."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pigeon.collector.stats._anonymity import (
    OTHER,
    ZERO,
    Count,
    hide_small,
    merge_series,
    merge_totals,
)
from pigeon.collector.storage._base import RollupRow


def total(value: str, events: int, installs: int, amount: int = 0) -> RollupRow:
    return RollupRow(None, value, events, amount, installs)


def cell(day: int, value: str, events: int, installs: int, amount: int = 0) -> RollupRow:
    return RollupRow(day, value, events, amount, installs)


def test_values_under_the_threshold_are_merged() -> None:
    named, other = merge_totals(
        [total("a", 50, 9), total("b", 7, 3), total("c", 4, 2), total("d", 1, 1)], 5
    )
    assert named == {"a": Count(50, 0, 9)}
    assert other == Count(12, 0, 6)


def test_other_under_the_threshold_is_dropped() -> None:
    named, other = merge_totals([total("a", 50, 9), total("b", 7, 3)], 5)
    assert named == {"a": Count(50, 0, 9)}
    assert other is None


def test_nothing_merged_means_no_other() -> None:
    assert merge_totals([total("a", 5, 5)], 5) == ({"a": Count(5, 0, 5)}, None)
    assert merge_totals([], 5) == ({}, None)


def test_a_real_other_value_joins_the_merged_bucket() -> None:
    named, other = merge_totals([total("other", 40, 20), total("x", 2, 1)], 5)
    assert named == {}
    assert other == Count(42, 0, 21)


def test_amounts_are_summed_too() -> None:
    _, other = merge_totals([total("a", 3, 3, amount=100), total("b", 2, 2, amount=7)], 5)
    assert other == Count(5, 107, 5)


def test_k_of_one_names_everything() -> None:
    named, other = merge_totals([total("a", 1, 1), total("b", 1, 1)], 1)
    assert set(named) == {"a", "b"}
    assert other is None


def test_hide_small() -> None:
    assert hide_small(Count(10, 0, 4), 5) is None
    assert hide_small(Count(10, 0, 5), 5) == Count(10, 0, 5)
    assert hide_small(ZERO, 5) == ZERO


def test_series_hide_small_cells_and_merge_them() -> None:
    rows = [
        cell(1, "a", 10, 6),
        cell(2, "a", 3, 2),  # a named value, but a small day: hidden, moved to other
        cell(2, "b", 4, 4),  # not shown: to other
        cell(3, "b", 1, 1),
        cell(9, "a", 99, 99),  # outside the days: ignored
    ]
    cells = merge_series(rows, ["a"], [1, 2, 3], 5)
    assert cells == {
        "a": [Count(10, 0, 6), None, ZERO],
        OTHER: [ZERO, Count(7, 0, 6), None],
    }


def test_series_without_merges_has_no_other() -> None:
    cells = merge_series([cell(1, "a", 10, 6)], ["a"], [1, 2], 5)
    assert cells == {"a": [Count(10, 0, 6), ZERO]}


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.sampled_from(["a", "b", "c", "d", "other"]),
        st.integers(1, 50),
        st.integers(1, 12),
    ),
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
)


@given(rows_strategy, st.integers(1, 8))
def test_no_published_number_stands_for_fewer_than_k(
    raw: list[tuple[int, str, int, int]], k: int
) -> None:
    per_day = [
        cell(day, value, events, min(installs, events)) for day, value, events, installs in raw
    ]
    totals: dict[str, list[int]] = {}
    for row in per_day:
        entry = totals.setdefault(row.value, [0, 0])
        entry[0] += row.events
        entry[1] = max(entry[1], row.installs)  # a lower bound of distinct installs
    rows = [total(v, e, n) for v, (e, n) in totals.items()]
    named, other = merge_totals(rows, k)
    assert all(c.installs >= k for c in named.values())
    assert other is None or other.installs >= k
    assert OTHER not in named
    shown = sum(c.events for c in named.values()) + (other.events if other else 0)
    assert shown <= sum(r.events for r in rows)
    cells = merge_series(per_day, list(named), list(range(5)), k)
    for series in cells.values():
        for count in series:
            assert count is None or count == ZERO or count.installs >= k
    # Nothing is lost: on a day where no cell is hidden, the cells add up to the day.
    for day in range(5):
        column = [series[day] for series in cells.values()]
        day_total = sum(r.events for r in per_day if r.day == day)
        visible = sum(c.events for c in column if c is not None)
        if None in column:
            assert visible <= day_total
        else:
            assert visible == day_total
