"""The catalog's fast path (a type test per property) always gives the full rules' verdict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon.catalog import Catalog, PropertySpec

CATALOG = Catalog.load("argilla")

_ENUM_VALUES = sorted(
    {v for e in CATALOG.events.values() for p in e.properties.values() for v in p.values}
)
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.sampled_from(_ENUM_VALUES)  # accepted as they are: the fast path
    | st.text(alphabet="abcdef", min_size=200, max_size=1100),  # around every max_length
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
_keys = st.sampled_from(
    [
        "task",
        "records",
        "user-agent",
        "accept-language",
        "is_default_user",
        "code",
        "type",
        "framework",
        "other",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    event=st.sampled_from([*CATALOG.events, "Unknown"]),
    properties=st.none() | st.dictionaries(_keys, _values, max_size=5),
)
def test_the_fast_path_gives_the_catalogs_verdict(
    event: str, properties: dict[str, object] | None
) -> None:
    assert CATALOG.validate(event, properties) == CATALOG._judge(event, properties)


def _near(prop: PropertySpec) -> st.SearchStrategy[object]:
    """Values of about the right kind for ``prop``, crowding its bounds."""
    others = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    if prop.type == "integer":
        low, high = prop.minimum, prop.maximum
        return st.integers(low - 2, low + 2) | st.integers(high - 2, high + 2) | others
    if prop.type == "enum":
        return st.sampled_from(sorted(prop.values)) | st.text(max_size=30) | others
    if prop.type == "string":
        size = prop.max_length
        return (
            st.text(alphabet="ab", min_size=size - 2, max_size=size + 2)
            | st.text(alphabet="aé\ud800", min_size=size - 2, max_size=size + 2)
            | st.text(max_size=20)
            | others
        )
    return others


@st.composite
def _declared_event(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    event = draw(st.sampled_from(sorted(CATALOG.events)))
    properties: dict[str, object] = {}
    for name, prop in CATALOG.events[event].properties.items():
        if draw(st.booleans()):
            properties[name] = draw(_near(prop))
    if draw(st.integers(0, 9)) == 0:
        properties["undeclared"] = draw(_values)
    return event, properties


@settings(max_examples=500, deadline=None)
@given(case=_declared_event())
def test_the_fast_path_agrees_at_every_bound(case: tuple[str, dict[str, object]]) -> None:
    event, properties = case
    assert CATALOG.validate(event, properties) == CATALOG._judge(event, properties)


def test_the_fast_path_tells_true_and_1_and_1_0_apart() -> None:
    # Equal and with one hash in Python, but only 1 is an integer to the catalog.
    event = "LogRecordsRequested"
    for records in (1, True, 1.0, 1, 1.0, True):
        properties: dict[str, object] = {"task": "TextClassification", "records": records}
        verdict = CATALOG.validate(event, properties)
        assert verdict == CATALOG._judge(event, properties)
        assert bool(verdict.problems) is (type(records) is not int)
