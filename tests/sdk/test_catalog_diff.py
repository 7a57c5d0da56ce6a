"""Comparing catalogs: each kind of change is named, and additions need a new version."""

from __future__ import annotations

import pytest

from pigeon._catalog_diff import Change, diff_catalogs, is_version_bump
from pigeon.catalog import Catalog

ARGILLA = Catalog.load("argilla")


def catalog(events: str, version: str = "1") -> Catalog:
    return Catalog.from_toml(f'[catalog]\nname = "t"\nversion = "{version}"\n{events}')


def one_property(body: str) -> Catalog:
    return catalog(f'[events.E]\npurpose = "Why."\n[events.E.properties.p]\npurpose = "x"\n{body}')


def changes(old: Catalog, new: Catalog) -> list[tuple[str, str, str | None, str]]:
    return [(c.kind, c.event, c.prop, c.aspect) for c in diff_catalogs(old, new).changes]


def test_a_catalog_equals_itself() -> None:
    diff = diff_catalogs(ARGILLA, ARGILLA)
    assert diff.changes == ()
    assert diff.compatible


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('type = "string"\nmax_length = 8', 'type = "string"\nmax_length = 9', "widened"),
        ('type = "string"\nmax_length = 9', 'type = "string"\nmax_length = 8', "narrowed"),
        ('type = "integer"\nmin = 0', 'type = "integer"\nmin = -1', "widened"),
        ('type = "integer"\nmin = 0', 'type = "integer"', "widened"),
        ('type = "integer"\nmax = 5', 'type = "integer"\nmax = 4', "narrowed"),
        ('type = "integer"\nmax = 5', 'type = "integer"\nmax = 6', "widened"),
        ('type = "enum"\nvalues = ["a"]', 'type = "enum"\nvalues = ["a", "b"]', "widened"),
        ('type = "enum"\nvalues = ["a", "b"]', 'type = "enum"\nvalues = ["a"]', "narrowed"),
        (
            'type = "enum"\nvalues = ["a", "o"]',
            'type = "enum"\nvalues = ["a", "o"]\nfallback = "o"',
            "widened",
        ),
        (
            'type = "enum"\nvalues = ["a", "o"]\nfallback = "o"',
            'type = "enum"\nvalues = ["a", "o"]',
            "narrowed",
        ),
        ('type = "enum"\nvalues = ["a"]', 'type = "string"\nmax_length = 8', "widened"),
        ('type = "string"\nmax_length = 8', 'type = "enum"\nvalues = ["a"]', "narrowed"),
        ('type = "boolean"', 'type = "integer"', "widened"),
    ],
)
def test_each_bound_is_widened_or_narrowed(old: str, new: str, expected: str) -> None:
    found = diff_catalogs(one_property(old), one_property(new)).changes
    assert [(c.kind, c.event, c.prop) for c in found] == [(expected, "E", "p")]


def test_both_directions_at_once_are_listed_separately() -> None:
    old = one_property('type = "enum"\nvalues = ["a", "b"]')
    new = one_property('type = "enum"\nvalues = ["b", "c"]')
    found = diff_catalogs(old, new).changes
    assert [(c.kind, c.detail) for c in found] == [
        ("widened", "adds values: c"),
        ("narrowed", "drops values: a"),
    ]
    assert found[0].old == ("a", "b")
    assert found[0].new == ("b", "c")


def test_reordered_enum_values_and_new_examples_are_no_change() -> None:
    old = one_property('type = "enum"\nvalues = ["a", "b"]')
    new = one_property('type = "enum"\nvalues = ["b", "a"]\nexample = "a"')
    assert changes(old, new) == []


def test_added_and_removed_events_carry_their_properties() -> None:
    old = catalog(
        '[events.Gone]\npurpose = "Old."\n[events.Gone.properties.g]\n'
        'type = "boolean"\npurpose = "x"\n'
    )
    new = catalog(
        '[events.New]\npurpose = "New."\n[events.New.properties.n]\n'
        'type = "string"\nmax_length = 4\npurpose = "x"\n',
        version="2",
    )
    assert changes(old, new) == [
        ("added", "New", None, "event"),
        ("added", "New", "n", "property"),
        ("removed", "Gone", None, "event"),
        ("removed", "Gone", "g", "property"),
    ]
    added_property = diff_catalogs(old, new).changes[1]
    assert added_property.detail == "new property: string, at most 4 chars"


def test_purpose_and_sent_from_changes_are_wording() -> None:
    old = catalog('[events.E]\npurpose = "Why."\n')
    new = catalog('[events.E]\npurpose = "Because."\nsent_from = "GET /x"\n')
    diff = diff_catalogs(old, new)
    assert [(c.kind, c.old, c.new) for c in diff.changes] == [
        ("purpose", "Why.", "Because."),
        ("sent_from", None, "GET /x"),
    ]
    assert diff.needing_bump == ()
    assert diff.compatible


def test_an_addition_without_a_new_version_is_incompatible() -> None:
    old = catalog('[events.E]\npurpose = "Why."\n')
    new = catalog('[events.E]\npurpose = "Why."\n[events.F]\npurpose = "More."\n')
    diff = diff_catalogs(old, new)
    assert not diff.compatible
    assert [c.where for c in diff.needing_bump] == ["F"]
    bumped = diff_catalogs(old, catalog(new_events(), version="2"))
    assert bumped.version_bumped
    assert bumped.compatible


def new_events() -> str:
    return '[events.E]\npurpose = "Why."\n[events.F]\npurpose = "More."\n'


def test_removals_and_narrowings_need_no_new_version() -> None:
    old = catalog(new_events() + '[events.F.properties.p]\ntype = "integer"\npurpose = "x"\n')
    new = catalog('[events.E]\npurpose = "Why."\n')
    diff = diff_catalogs(old, new)
    assert {c.kind for c in diff.changes} == {"removed"}
    assert diff.compatible


@pytest.mark.parametrize(
    ("old", "new", "bumped"),
    [
        ("1", "1", False),
        ("1", " 1 ", False),
        ("1", "2", True),
        ("9", "10", True),
        ("10", "9", False),
        ("1.2", "1.10", True),
        ("1.10", "1.2", False),
        ("2024-a", "2024-b", True),
        ("1", "1-beta", True),
    ],
)
def test_version_bump(old: str, new: str, bumped: bool) -> None:
    assert is_version_bump(old, new) is bumped


def test_change_where_names_event_and_property() -> None:
    change = Change("added", "E", "p", "property", None, "boolean", "new property: boolean")
    assert change.where == "E.p"
    assert Change("removed", "E", None, "event", "x", None, "").where == "E"
