"""The event catalog: the shipped contract, validation, and loud failures on malformed files."""

from __future__ import annotations

import enum
import json
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon.catalog import FRAME_PATTERN, Catalog, PropertySpec, available_catalogs
from pigeon.errors import CatalogError, UnknownCatalogError

ARGILLA = Catalog.load("argilla")

# -- the shipped catalog is the reference table of DESIGN.md section 2 --------------------


def test_argilla_is_shipped() -> None:
    assert "argilla" in available_catalogs()
    assert ARGILLA.name == "argilla"
    assert ARGILLA.version == "2"
    assert ARGILLA.source.endswith("argilla.toml")


def test_argilla_declares_the_reference_events() -> None:
    declared = {name: dict(spec.properties) for name, spec in ARGILLA.events.items()}
    assert {name: set(props) for name, props in declared.items()} == {
        "UserInfoRequested": {"user-agent", "accept-language", "is_default_user"},
        "LogRecordsRequested": {"task", "records"},
        "ServerErrorFound": {"code", "type", "user-agent", "accept-language"},
        "TrainerUsage": {"framework", "task"},
        "ServerStarted": set(),
        "CrashReported": {"exception", "frames", "signature"},
    }
    types = {
        (event, name): prop.type
        for event, props in declared.items()
        for name, prop in props.items()
    }
    assert types == {
        ("UserInfoRequested", "user-agent"): "string",
        ("UserInfoRequested", "accept-language"): "string",
        ("UserInfoRequested", "is_default_user"): "boolean",
        ("LogRecordsRequested", "task"): "enum",
        ("LogRecordsRequested", "records"): "integer",
        ("ServerErrorFound", "code"): "string",
        ("ServerErrorFound", "type"): "string",
        ("ServerErrorFound", "user-agent"): "string",
        ("ServerErrorFound", "accept-language"): "string",
        ("TrainerUsage", "framework"): "enum",
        ("TrainerUsage", "task"): "enum",
        ("CrashReported", "exception"): "string",
        ("CrashReported", "frames"): "frames",
        ("CrashReported", "signature"): "string",
    }
    task = declared["LogRecordsRequested"]["task"]
    assert task.ordered_values == ("TextClassification", "TokenClassification", "Text2Text")
    assert task.fallback is None
    assert declared["LogRecordsRequested"]["records"].minimum == 0
    assert declared["TrainerUsage"]["framework"].fallback == "other"


def test_argilla_says_where_each_event_is_sent_from() -> None:
    sources = {name: spec.sent_from for name, spec in ARGILLA.events.items()}
    assert set(sources) == set(ARGILLA.events)
    assert "GET /api/me" in sources["UserInfoRequested"]
    assert "POST /api/datasets/{name}/{task}:bulk" in sources["LogRecordsRequested"]
    assert "every raised API error" in sources["ServerErrorFound"]
    assert "trainer" in sources["TrainerUsage"]
    assert sources["ServerStarted"]


def test_sent_from_is_optional_and_stripped() -> None:
    bare = Catalog.from_toml(event(""))
    assert bare.events["Ev"].sent_from == ""
    given = Catalog.from_toml(event('sent_from = "  GET /api/ping  "\n'))
    assert given.events["Ev"].sent_from == "GET /api/ping"


def test_every_event_and_property_has_a_one_line_purpose() -> None:
    for event in ARGILLA.events.values():
        assert event.purpose.strip()
        assert "\n" not in event.purpose
        for prop in event.properties.values():
            assert prop.purpose.strip()
            assert "\n" not in prop.purpose


def test_every_sample_is_valid_and_unchanged() -> None:
    for name, event in ARGILLA.events.items():
        sample = event.sample()
        result = ARGILLA.validate(name, sample)
        assert result.ok, (name, result.problems)
        assert result.properties == sample
        assert result.dropped == 0


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        ARGILLA.events["Injected"] = ARGILLA.events["ServerStarted"]  # type: ignore[index]
    with pytest.raises(TypeError):
        ARGILLA.events["TrainerUsage"].properties["x"] = None  # type: ignore[index]


def test_a_pickled_catalog_is_equal_validates_alike_and_stays_read_only() -> None:
    # Collector worker processes receive their catalogs pickled.
    copy = pickle.loads(pickle.dumps(ARGILLA))
    assert copy == ARGILLA
    assert copy.source == ARGILLA.source
    sample = {"task": "TextClassification", "records": 7, "dataset": "dropped"}
    assert copy.validate("LogRecordsRequested", sample) == ARGILLA.validate(
        "LogRecordsRequested", sample
    )
    with pytest.raises(TypeError):
        copy.events["Injected"] = copy.events["ServerStarted"]
    with pytest.raises(TypeError):
        copy.events["TrainerUsage"].properties["x"] = None


# -- loading ---------------------------------------------------------------------------


def test_load_by_path_equals_load_by_name() -> None:
    assert Catalog.load(Path(ARGILLA.source)) == ARGILLA
    assert Catalog.load(ARGILLA.source) == ARGILLA


@pytest.mark.parametrize("name", ["nope", "argila", "../argilla", "", "argilla.json"])
def test_unknown_catalog_names_the_shipped_ones(name: str) -> None:
    with pytest.raises(UnknownCatalogError) as info:
        Catalog.load(name)
    message = str(info.value)
    assert name in message
    assert "\n" not in message


def test_unknown_name_lists_the_shipped_catalogs() -> None:
    with pytest.raises(UnknownCatalogError, match=r"shipped catalogs: .*argilla"):
        Catalog.load("nope")


def test_missing_path_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(UnknownCatalogError, match="no catalog file"):
        Catalog.load(tmp_path / "missing.toml")


def test_non_utf8_file_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[catalog]\nname = "caf\xe9"\n')
    with pytest.raises(CatalogError, match=r"latin1\.toml.*UTF-8"):
        Catalog.load(path)


def test_a_directory_is_not_a_catalog(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(UnknownCatalogError):
        Catalog.load(tmp_path / "dir.toml")


# -- malformed catalogs fail at load, naming file, event and field --------------------------

VALID_HEAD = '[catalog]\nname = "t"\nversion = "1"\n'


def event(body: str, name: str = "Ev", purpose: str | None = "Why.") -> str:
    head = f"[events.{name}]\n" + (f'purpose = "{purpose}"\n' if purpose is not None else "")
    return VALID_HEAD + head + textwrap.dedent(body)


def prop(body: str, name: str = "p") -> str:
    return event(f"[events.Ev.properties.{name}]\n" + textwrap.dedent(body))


MALFORMED: list[tuple[str, str, list[str]]] = [
    ("not toml", "[catalog\nname=", ["not valid TOML"]),
    ("no catalog table", '[events.E]\npurpose = "x"\n', ["[catalog] is required"]),
    ("catalog not a table", 'catalog = "x"\n', ["[catalog] must be a table"]),
    ("no name", '[catalog]\nversion = "1"\n', ["[catalog] name", "required"]),
    ("blank name", '[catalog]\nname = " "\nversion = "1"\n', ["[catalog] name"]),
    ("integer version", '[catalog]\nname = "t"\nversion = 1\n', ["[catalog] version"]),
    ("unknown catalog key", VALID_HEAD + 'owner = "me"\n', ["[catalog]", "'owner'"]),
    ("bad description", VALID_HEAD + "description = 3\n", ["description"]),
    ("unknown top-level key", "extra = 1\n" + VALID_HEAD, ["top level", "'extra'"]),
    ("no events", VALID_HEAD, ["[events] is required"]),
    ("empty events", VALID_HEAD + "[events]\n", ["[events] declares no event"]),
    ("event not a table", VALID_HEAD + "[events]\nEv = 3\n", ["event 'Ev'", "table"]),
    ("event without purpose", event("", purpose=None), ["event 'Ev'", "purpose", "required"]),
    ("event blank purpose", event("", purpose=" "), ["event 'Ev'", "purpose"]),
    (
        "event multi-line purpose",
        event("", purpose="one\\ntwo"),
        ["event 'Ev'", "purpose must be one line"],
    ),
    ("event unknown key", event("porpoise = 'x'\n"), ["event 'Ev'", "'porpoise'"]),
    ("sent_from not text", event("sent_from = 3\n"), ["event 'Ev'", "sent_from", "string"]),
    ("sent_from blank", event("sent_from = ' '\n"), ["event 'Ev'", "sent_from", "non-empty"]),
    (
        "sent_from multi-line",
        event('sent_from = "GET /a\\nGET /b"\n'),
        ["event 'Ev'", "sent_from must be one line"],
    ),
    ("event bad name", event("", name='"bad name"'), ["event 'bad name'", "name"]),
    ("properties not a table", event("properties = 3\n"), ["event 'Ev'", "properties"]),
    (
        "property not a table",
        event("[events.Ev.properties]\np = 3\n"),
        ["event 'Ev', property 'p'", "table"],
    ),
    (
        "property without purpose",
        prop('type = "boolean"\n'),
        ["event 'Ev', property 'p'", "purpose"],
    ),
    (
        "property bad name",
        prop('type = "boolean"\npurpose = "x"\n', name='"a/b"'),
        ["property 'a/b'"],
    ),
    ("missing type", prop('purpose = "x"\n'), ["property 'p'", "type", "(missing)"]),
    ("unknown type", prop('type = "float"\npurpose = "x"\n'), ["property 'p'", "'float'"]),
    (
        "string without max_length",
        prop('type = "string"\npurpose = "x"\n'),
        ["property 'p'", "max_length"],
    ),
    (
        "string max_length zero",
        prop('type = "string"\npurpose = "x"\nmax_length = 0\n'),
        ["property 'p'", "max_length"],
    ),
    (
        "string max_length huge",
        prop('type = "string"\npurpose = "x"\nmax_length = 100000\n'),
        ["property 'p'", "max_length"],
    ),
    (
        "string max_length bool",
        prop('type = "string"\npurpose = "x"\nmax_length = true\n'),
        ["property 'p'", "max_length"],
    ),
    (
        "string with integer bounds",
        prop('type = "string"\npurpose = "x"\nmax_length = 3\nmin = 1\n'),
        ["property 'p'", "'min'"],
    ),
    ("enum without values", prop('type = "enum"\npurpose = "x"\n'), ["property 'p'", "values"]),
    (
        "enum empty values",
        prop('type = "enum"\npurpose = "x"\nvalues = []\n'),
        ["property 'p'", "values"],
    ),
    (
        "enum non-string values",
        prop('type = "enum"\npurpose = "x"\nvalues = ["a", 2]\n'),
        ["property 'p'", "values"],
    ),
    (
        "enum duplicate values",
        prop('type = "enum"\npurpose = "x"\nvalues = ["a", "a"]\n'),
        ["property 'p'", "values"],
    ),
    (
        "enum bad fallback",
        prop('type = "enum"\npurpose = "x"\nvalues = ["a"]\nfallback = "b"\n'),
        ["property 'p'", "fallback"],
    ),
    (
        "integer min above max",
        prop('type = "integer"\npurpose = "x"\nmin = 5\nmax = 1\n'),
        ["property 'p'", "min"],
    ),
    (
        "integer float bound",
        prop('type = "integer"\npurpose = "x"\nmin = 0.5\n'),
        ["property 'p'", "min"],
    ),
    (
        "integer beyond 64 bits",
        prop('type = "integer"\npurpose = "x"\nmax = 9223372036854775808\n'),
        ["property 'p'", "max"],
    ),
    (
        "example of the wrong type",
        prop('type = "integer"\npurpose = "x"\nexample = "3"\n'),
        ["property 'p'", "example"],
    ),
    (
        "example too long",
        prop('type = "string"\npurpose = "x"\nmax_length = 2\nexample = "abc"\n'),
        ["property 'p'", "example"],
    ),
    (
        "example outside the enum",
        prop('type = "enum"\npurpose = "x"\nvalues = ["a", "b"]\nfallback = "b"\nexample = "c"\n'),
        ["property 'p'", "example"],
    ),
    (
        "boolean with max_length",
        prop('type = "boolean"\npurpose = "x"\nmax_length = 3\n'),
        ["property 'p'", "'max_length'"],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_malformed_catalog_fails_at_load(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(CatalogError) as info:
        Catalog.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message
    assert not isinstance(info.value, UnknownCatalogError)


def test_from_toml_names_its_source() -> None:
    with pytest.raises(CatalogError, match=r"^inline: \[events\] is required"):
        Catalog.from_toml(VALID_HEAD, source="inline")


def test_minimal_catalog_loads() -> None:
    catalog = Catalog.from_toml(event(""))
    assert list(catalog.events) == ["Ev"]
    assert catalog.description == ""
    assert catalog.source == "<memory>"


# -- validation ------------------------------------------------------------------------------


def test_undeclared_properties_are_dropped_and_counted_not_named() -> None:
    result = ARGILLA.validate(
        "LogRecordsRequested",
        {"task": "Text2Text", "records": 5, "dataset": "secret-ds", "secret-ds": 1, 3: "x"},  # type: ignore[dict-item]
    )
    assert result.ok
    assert result.properties == {"task": "Text2Text", "records": 5}
    assert result.dropped == 3
    assert "secret-ds" not in repr(result)


def test_over_long_strings_are_truncated() -> None:
    result = ARGILLA.validate(
        "UserInfoRequested", {"user-agent": "x" * 1000, "accept-language": "é" * 65}
    )
    assert result.ok
    assert result.properties == {"user-agent": "x" * 256, "accept-language": "é" * 64}


def test_strings_at_the_limit_are_kept_whole() -> None:
    result = ARGILLA.validate("UserInfoRequested", {"accept-language": "y" * 64})
    assert result.properties == {"accept-language": "y" * 64}


WRONG_TYPES: list[tuple[str, str, object]] = [
    ("LogRecordsRequested", "records", True),
    ("LogRecordsRequested", "records", False),
    ("LogRecordsRequested", "records", "12"),
    ("LogRecordsRequested", "records", 12.0),
    ("LogRecordsRequested", "records", [12]),
    ("LogRecordsRequested", "task", 1),
    ("LogRecordsRequested", "task", ["Text2Text"]),
    ("UserInfoRequested", "user-agent", 5),
    ("UserInfoRequested", "user-agent", b"bytes"),
    ("UserInfoRequested", "user-agent", {"nested": "x"}),
    ("UserInfoRequested", "is_default_user", 1),
    ("UserInfoRequested", "is_default_user", "true"),
    ("ServerErrorFound", "code", 3.5),
]


@pytest.mark.parametrize(("event_name", "key", "value"), WRONG_TYPES)
def test_wrong_types_refuse_the_event(event_name: str, key: str, value: object) -> None:
    result = ARGILLA.validate(event_name, {key: value})
    assert not result.ok
    assert [p.path for p in result.problems] == [f"properties.{key}"]
    assert "must be" in result.problems[0].reason


@pytest.mark.parametrize("records", [-1, 10_000_001, 2**64])
def test_out_of_range_integers_refuse_the_event(records: int) -> None:
    result = ARGILLA.validate("LogRecordsRequested", {"records": records})
    assert not result.ok
    assert result.problems[0].reason == "must be between 0 and 10000000"


@pytest.mark.parametrize("records", [0, 1, 10_000_000])
def test_integers_at_the_bounds_are_accepted(records: int) -> None:
    assert ARGILLA.validate("LogRecordsRequested", {"records": records}).ok


def test_unknown_enum_value_without_fallback_refuses_the_event() -> None:
    result = ARGILLA.validate("LogRecordsRequested", {"task": "my-secret-task"})
    assert not result.ok
    assert result.problems[0].reason == "not one of the declared values"
    assert "my-secret-task" not in repr(result.problems)


@pytest.mark.parametrize("framework", ["jax", "my-private-fork", "", "TRANSFORMERS"])
def test_unknown_trainer_frameworks_become_other(framework: str) -> None:
    result = ARGILLA.validate("TrainerUsage", {"framework": framework, "task": "DPO"})
    assert result.ok
    assert result.properties == {"framework": "other", "task": "DPO"}


def test_known_trainer_frameworks_are_kept() -> None:
    spec = ARGILLA.events["TrainerUsage"].properties["framework"]
    for framework in spec.ordered_values:
        assert ARGILLA.validate("TrainerUsage", {"framework": framework}).properties == {
            "framework": framework
        }


def test_null_values_are_kept_as_null() -> None:
    result = ARGILLA.validate("UserInfoRequested", {"accept-language": None})
    assert result.ok
    assert result.properties == {"accept-language": None}


@pytest.mark.parametrize("properties", [None, {}, [], ()])
def test_no_properties_is_fine(properties: Any) -> None:
    result = ARGILLA.validate("ServerStarted", properties)
    assert result.ok
    assert result.properties == {}


@pytest.mark.parametrize("properties", ["text", [("task", "Text2Text")], 5, 0, "", {1, 2}])
def test_properties_must_be_an_object(properties: Any) -> None:
    result = ARGILLA.validate("LogRecordsRequested", properties)
    assert not result.ok
    assert result.problems[0].path == "properties"


@pytest.mark.parametrize("name", ["Unknown", "", None, 5, "serverstarted"])
def test_undeclared_events_are_refused(name: Any) -> None:
    result = ARGILLA.validate(name, {})
    assert not result.ok
    assert result.problems[0].path == "event"


def test_a_broken_mapping_refuses_the_event() -> None:
    class Broken(dict[str, object]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    result = ARGILLA.validate("LogRecordsRequested", Broken(task="Text2Text"))
    assert not result.ok
    assert result.problems[0].path == "properties"


def test_an_ambiguous_truth_value_is_not_evaluated() -> None:
    class NoTruth:
        def __bool__(self) -> bool:
            raise ValueError("truth value is ambiguous")

    result = ARGILLA.validate("LogRecordsRequested", NoTruth())  # type: ignore[arg-type]
    assert result.problems[0].path == "properties"


def test_str_and_int_enums_become_plain_values() -> None:
    class Task(str, enum.Enum):  # noqa: UP042  # the style of the reference server
        TEXT2TEXT = "Text2Text"

    class Count(enum.IntEnum):
        FEW = 3

    class Agent(enum.StrEnum):
        CLI = "argilla-cli/1.0"

    result = ARGILLA.validate("LogRecordsRequested", {"task": Task.TEXT2TEXT, "records": Count.FEW})
    assert result.properties == {"task": "Text2Text", "records": 3}
    assert type(result.properties["task"]) is str
    assert type(result.properties["records"]) is int
    agent = ARGILLA.validate("UserInfoRequested", {"user-agent": Agent.CLI}).properties[
        "user-agent"
    ]
    assert (agent, type(agent)) == ("argilla-cli/1.0", str)


def test_lone_surrogates_are_replaced_so_the_payload_encodes() -> None:
    result = ARGILLA.validate("UserInfoRequested", {"user-agent": "a\ud800b"})
    value = result.properties["user-agent"]
    assert isinstance(value, str)
    value.encode("utf-8")
    assert value == "a?b"


# -- properties of the validator (hypothesis) --------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300)
json_like = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
declared_keys = st.sampled_from(sorted({k for e in ARGILLA.events.values() for k in e.properties}))
property_maps = st.dictionaries(declared_keys | st.text(max_size=12), json_like, max_size=8)
event_names = st.sampled_from(sorted(ARGILLA.events)) | st.text(max_size=20)


@settings(max_examples=400, deadline=None)
@given(event_name=event_names, properties=property_maps | json_like)
def test_validate_never_raises_and_keeps_its_promises(event_name: str, properties: Any) -> None:
    result = ARGILLA.validate(event_name, properties)
    spec = ARGILLA.events.get(event_name)
    if spec is None:
        assert not result.ok
        return
    assert set(result.properties) <= set(spec.properties)
    for key, value in result.properties.items():
        declared: PropertySpec = spec.properties[key]
        if value is None:
            continue
        if declared.type == "string":
            assert isinstance(value, str)
            assert len(value) <= declared.max_length
        elif declared.type == "enum":
            assert value in declared.values
        elif declared.type == "integer":
            assert type(value) is int
            assert declared.minimum <= value <= declared.maximum
        elif declared.type == "frames":
            assert type(value) is tuple
            assert len(value) <= declared.max_frames
            assert all(f == "<other>" or FRAME_PATTERN.fullmatch(f) for f in value)
        else:
            assert type(value) is bool
    # Whatever was accepted encodes as UTF-8 JSON (what the sender will do with it).
    json.dumps(result.properties, ensure_ascii=False, allow_nan=False).encode("utf-8")
    if isinstance(properties, dict):
        undeclared = [k for k in properties if k not in spec.properties]
        assert result.dropped == len(undeclared)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=2000))
def test_declared_strings_are_prefixes_capped_at_max_length(text: str) -> None:
    value = ARGILLA.validate("ServerErrorFound", {"code": text}).properties["code"]
    assert isinstance(value, str)
    assert len(value) == min(len(text), 128)
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert text.startswith(value)


# -- the format reference is true -----------------------------------------------------------


def test_the_documented_example_catalog_loads() -> None:
    docs = Path(__file__).parents[2] / "docs" / "catalog.md"
    example = docs.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    catalog = Catalog.from_toml(example, source="docs/catalog.md")
    assert list(catalog.events) == ["ServerStarted", "LogRecordsRequested", "TrainerUsage"]
    sent_from = catalog.events["LogRecordsRequested"].sent_from
    assert sent_from == "POST /api/datasets/{name}/{task}:bulk"
    assert catalog.validate("TrainerUsage", {"framework": "jax"}).properties == {
        "framework": "other"
    }


def test_the_documented_error_messages_are_real() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "catalog.md").read_text()
    cases = {
        '[events.Upload]\npurpose = "x"\n[events.Upload.properties.name]\n'
        'type = "string"\npurpose = "y"\n': "property 'name': max_length",
        "[events.Upload]\n": "event 'Upload': purpose is required",
    }
    for body, needle in cases.items():
        with pytest.raises(CatalogError) as info:
            Catalog.from_toml(VALID_HEAD + body, source="myapp.toml")
        assert needle in str(info.value)
        assert str(info.value) in docs
