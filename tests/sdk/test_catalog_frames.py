"""The ``frames`` catalog type: declaration, validation (SDK and collector share it), text, diff."""

from __future__ import annotations

import pytest

from pigeon._catalog_diff import diff_catalogs
from pigeon._catalog_text import describe
from pigeon.catalog import FRAME_PATTERN, Catalog
from pigeon.errors import CatalogError

HEAD = '[catalog]\nname = "app"\nversion = "{version}"\n\n[events.Crash]\npurpose = "Crashes."\n'


def catalog(declaration: str, version: str = "1") -> Catalog:
    return Catalog.from_toml(
        HEAD.format(version=version)
        + f'[events.Crash.properties.frames]\ntype = "frames"\npurpose = "Where."\n{declaration}'
    )


SMALL = catalog("max_frames = 3\nmax_length = 30\n")


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("max_length = 20\n", "max_frames: frames need max_frames"),
        ("max_frames = 0\nmax_length = 20\n", "max_frames"),
        ("max_frames = 129\nmax_length = 20\n", "an integer from 1 to 128"),
        ("max_frames = true\nmax_length = 20\n", "max_frames"),
        ("max_frames = 3\n", "max_length: frames need max_length (per frame)"),
        ("max_frames = 3\nmax_length = 257\n", "an integer from 1 to 256"),
        ("max_frames = 3\nmax_length = 20\nvalues = []\n", "unknown field 'values'"),
        ("max_frames = 1\nmax_length = 20\nexample = ['a:b:1', 'c:d:2']\n", "example"),
        ("max_frames = 3\nmax_length = 20\nexample = ['/a/b.py']\n", "example"),
    ],
)
def test_a_bad_declaration_fails_loudly(declaration: str, message: str) -> None:
    with pytest.raises(CatalogError, match="property 'frames'") as error:
        catalog(declaration)
    assert message in str(error.value)


def test_the_sample_without_an_example_is_valid_whatever_the_bounds() -> None:
    for bounds in ("max_frames = 1\nmax_length = 7\n", "max_frames = 2\nmax_length = 8\n"):
        small = catalog(bounds)
        assert small.validate("Crash", small.events["Crash"].sample()).ok


def test_a_declaration_with_an_example_samples_it() -> None:
    spec = catalog("max_frames = 3\nmax_length = 20\nexample = ['<other>', 'a.b:c:1']\n")
    prop = spec.events["Crash"].properties["frames"]
    assert (prop.max_frames, prop.max_length) == (3, 20)
    assert prop.sample() == ("<other>", "a.b:c:1")
    sample = SMALL.events["Crash"].sample()["frames"]
    assert isinstance(sample, tuple)
    assert SMALL.validate("Crash", {"frames": list(sample)}).ok


@pytest.mark.parametrize(
    "frame",
    ["a:b:1", "pkg.mod:Class.method:12", "m:f.<locals>.<lambda>:3", "m:<module>:0", "<other>"],
)
def test_valid_frames_are_accepted_as_a_tuple(frame: str) -> None:
    for value in ([frame], (frame,)):
        result = SMALL.validate("Crash", {"frames": value})
        assert result.ok, result.problems
        assert result.properties == {"frames": (frame,)}


class Text(str):
    pass


def test_string_subclasses_become_plain_strings() -> None:
    frames = SMALL.validate("Crash", {"frames": [Text("a:b:1")]}).properties["frames"]
    assert isinstance(frames, tuple)
    assert [type(frame) for frame in frames] == [str]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a:b:1", "must be a list of frames"),
        ({"a": "b"}, "must be a list of frames"),
        (7, "must be a list of frames"),
        (["a:b:1"] * 4, "at most 3 frames"),
        (["a:b:1", "module.name:function_name:12345"], "frame 1: longer than 30 characters"),
        (["a:b:1", None], "frame 1: must be a string"),
        ([["a:b:1"]], "frame 0: must be a string"),
        (["a:b"], "frame 0: not module:function:line or <other>"),
        (["/x/y.py:f:1"], "frame 0: not module:function:line or <other>"),
        (["a b:f:1"], "frame 0: not module:function:line or <other>"),
        (["a:f:1 "], "frame 0: not module:function:line or <other>"),
        (["a:f:x"], "frame 0: not module:function:line or <other>"),
        (["é:f:1"], "frame 0: not module:function:line or <other>"),
        (["<others>"], "frame 0: not module:function:line or <other>"),
        (["a:'q':1"], "frame 0: not module:function:line or <other>"),
    ],
)
def test_invalid_frames_refuse_the_event_naming_field_and_reason(
    value: object, reason: str
) -> None:
    result = SMALL.validate("Crash", {"frames": value})
    assert not result.ok
    assert [(p.path, p.reason) for p in result.problems] == [("properties.frames", reason)]


def test_the_fast_path_remembers_frames_but_never_a_wrong_tuple() -> None:
    good = ("<other>", "a:b:1")
    assert SMALL.validate("Crash", {"frames": good}).ok
    assert SMALL.validate("Crash", {"frames": good}).ok  # seen: accepted as it is
    assert not SMALL.validate("Crash", {"frames": (*good, "a:b:1", "a:b:1")}).ok  # too many
    assert not SMALL.validate("Crash", {"frames": ("a:b:1", 1)}).ok
    assert not SMALL.validate("Crash", {"frames": ("a:b:1", ["a:b:1"])}).ok  # unhashable item


def test_the_pattern_is_one_constant_matching_whole_frames() -> None:
    assert FRAME_PATTERN.fullmatch("a.b:C.d:1")
    assert not FRAME_PATTERN.fullmatch("a.b:C.d:1\n")


def test_describe_names_the_bounds() -> None:
    text = describe(SMALL.events["Crash"].properties["frames"])
    assert "at most 3" in text
    assert "each at most 30 chars" in text


@pytest.mark.parametrize(
    ("new", "kinds"),
    [
        ("max_frames = 5\nmax_length = 30\n", [("widened", "max_frames", 3, 5)]),
        ("max_frames = 3\nmax_length = 40\n", [("widened", "max_length", 30, 40)]),
        (
            "max_frames = 2\nmax_length = 10\n",
            [("narrowed", "max_frames", 3, 2), ("narrowed", "max_length", 30, 10)],
        ),
        ("max_frames = 3\nmax_length = 30\n", []),
    ],
)
def test_diff_compares_the_frames_bounds(new: str, kinds: list[tuple[str, str, int, int]]) -> None:
    diff = diff_catalogs(SMALL, catalog(new))
    assert [(c.kind, c.aspect, c.old, c.new) for c in diff.changes] == kinds
    assert diff.compatible == (not any(kind == "widened" for kind, *_ in kinds))
    assert diff_catalogs(SMALL, catalog(new, version="2")).compatible
