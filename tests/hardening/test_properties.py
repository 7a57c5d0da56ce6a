"""Property tests: the catalog validator and the collector's wire decoder never crash or hang.

Whatever comes in, the validator returns a verdict whose kept values obey the
catalog and whose reasons never quote a value; the decoder (body reader plus
parsers, as a request goes through them) either sorts the events or raises a
4xx :class:`ApiError` with a reason, and keeps only events the catalog allows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from pigeon.catalog import FRAME_PATTERN, Catalog, PropertySpec
from pigeon.collector._body import read_body
from pigeon.collector._errors import ApiError
from pigeon.collector._events import Sorting
from pigeon.collector._parsing import parse_posthog, parse_segment_batch, parse_segment_track
from pigeon.errors import CatalogError
from tests.hardening.conftest import Record

CATALOG = Catalog.load("argilla")
NOW_MS = 1_780_000_000_000
PROPERTIES = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
PARSERS: dict[str, Callable[..., Sorting]] = {
    "/v1/batch": parse_segment_batch,
    "/v1/track": parse_segment_track,
    "/batch/": parse_posthog,
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
property_names = st.sampled_from(
    [*sorted({p for e in CATALOG.events.values() for p in e.properties}), "other", ""]
)


def valid_value(spec: PropertySpec) -> st.SearchStrategy[Any]:
    if spec.type == "enum":
        return st.sampled_from(spec.ordered_values)
    if spec.type == "integer":
        return st.integers(min_value=spec.minimum, max_value=min(spec.maximum, 2**63 - 1))
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "frames":
        name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
        frame = st.builds("{}:{}:{}".format, name, name, st.integers(min_value=0, max_value=99_999))
        return st.lists(frame | st.just("<other>"), max_size=spec.max_frames)
    return st.text(max_size=spec.max_length * 2)


@st.composite
def valid_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event = draw(st.sampled_from(sorted(CATALOG.events)))
    props = {
        name: draw(valid_value(spec))
        for name, spec in CATALOG.events[event].properties.items()
        if draw(st.booleans())
    }
    return event, props


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """A message: mostly well formed, with any field possibly replaced by anything."""
    event, props = draw(valid_events())
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "properties": props,
        "anonymousId": draw(st.text(min_size=1, max_size=20)),
        "messageId": draw(st.uuids()).hex,
        "timestamp": "2026-06-01T12:00:00Z",
    }
    for key in draw(st.lists(st.sampled_from([*message, "context", "userId"]), max_size=3)):
        message[key] = draw(json_values)
    if draw(st.booleans()):
        message["properties"] = draw(st.dictionaries(property_names, json_values, max_size=5))
    return message


def tried(reliability: Record, name: str) -> None:
    reliability.tried("fuzzing", f"hypothesis, {PROPERTIES.max_examples} examples: {name}")
    reliability.figures["examples"] = reliability.figures.get("examples", 0) + 1


def check_verdict(event: str, properties: Any) -> None:
    verdict = CATALOG.validate(event, properties)
    for problem in verdict.problems:
        assert problem.path
        assert problem.reason
    if not verdict.ok:
        return
    spec = CATALOG.events[event]
    for name, value in verdict.properties.items():
        prop = spec.properties[name]
        if value is None:
            continue
        if prop.type == "integer":
            assert type(value) is int
            assert prop.minimum <= value <= prop.maximum
        elif prop.type == "boolean":
            assert type(value) is bool
        elif prop.type == "enum":
            assert value in prop.values or value == prop.fallback
        elif prop.type == "frames":
            assert type(value) is tuple
            assert len(value) <= prop.max_frames
            assert all(type(f) is str and len(f) <= prop.max_length for f in value)
            assert all(f == "<other>" or FRAME_PATTERN.fullmatch(f) for f in value)
        else:
            assert type(value) is str
            assert len(value) <= prop.max_length
            value.encode("utf-8")


@PROPERTIES
@given(
    event=st.sampled_from(sorted(CATALOG.events)) | st.text(max_size=20),
    properties=st.none() | json_values | st.dictionaries(property_names, json_values, max_size=6),
)
def test_the_validator_never_raises_and_keeps_only_what_the_catalog_allows(
    reliability: Record, event: str, properties: Any
) -> None:
    tried(reliability, "validator: any event name and properties")
    check_verdict(event, properties)


@PROPERTIES
@given(valid_events())
def test_valid_events_are_accepted(reliability: Record, drawn: tuple[str, dict[str, Any]]) -> None:
    tried(reliability, "validator: every valid event is accepted")
    event, props = drawn
    assert CATALOG.validate(event, props).ok


@PROPERTIES
@given(canary=st.text(min_size=6, max_size=30).map(lambda s: f"cnry{s}"))
def test_reasons_never_quote_a_value(reliability: Record, canary: str) -> None:
    tried(reliability, "validator: reasons never quote a value")
    for event, spec in CATALOG.events.items():
        bad = dict.fromkeys(spec.properties, canary) | {canary: canary}
        verdict = CATALOG.validate(event, bad)
        for problem in verdict.problems:
            assert canary not in problem.reason
            assert canary not in problem.path


def decode(path: str, body: bytes, headers: dict[str, str] | None = None) -> Sorting:
    """Read ``body`` as the collector reads a request, then parse it as ``path`` does."""
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)] or [b""]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    raw = asyncio.run(read_body(Request(scope, receive)))
    return PARSERS[path](raw, lambda key, where: CATALOG, NOW_MS)


def check_decoding(path: str, body: bytes, headers: dict[str, str] | None = None) -> Sorting | None:
    try:
        sorting = decode(path, body, headers)
    except ApiError as exc:
        refusal: ApiError | None = exc
    else:
        refusal = None
    if refusal is not None:
        assert 400 <= refusal.status < 500
        assert refusal.message
        for where, reason in refusal.details:
            assert where
            assert reason
        return None
    for rejection in sorting.rejected:
        assert rejection.reason
    for stored in sorting.events:
        assert stored.app == "argilla"
        verdict = CATALOG.validate(stored.event, dict(stored.properties))
        assert verdict.ok
        assert verdict.properties == dict(stored.properties)
    return sorting


@PROPERTIES
@given(path=st.sampled_from(sorted(PARSERS)), body=st.binary(max_size=2000))
def test_any_bytes_are_decoded_or_refused_with_a_reason(
    reliability: Record, path: str, body: bytes
) -> None:
    tried(reliability, "decoder: any bytes, plain and as gzip, on 3 parsers")
    check_decoding(path, body)
    check_decoding(path, body, {"Content-Encoding": "gzip"})


@PROPERTIES
@given(
    batch=st.lists(messages(), max_size=8),
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=2),
)
def test_near_valid_batches_keep_only_valid_events(
    reliability: Record, batch: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    tried(reliability, "decoder: near-valid Segment batches")
    body = json.dumps({**extra, "batch": batch}).encode()
    sorting = check_decoding("/v1/batch", body)
    if sorting is not None:
        assert len(sorting.events) + len(sorting.rejected) == len(batch)
        assert {r.index for r in sorting.rejected} <= set(range(len(batch)))


@PROPERTIES
@given(message=messages())
def test_near_valid_posthog_and_track_bodies(reliability: Record, message: dict[str, Any]) -> None:
    tried(reliability, "decoder: near-valid PostHog and track bodies")
    check_decoding("/v1/track", json.dumps(message).encode())
    posthog = {
        "event": message.get("event"),
        "properties": message.get("properties"),
        "distinct_id": message.get("anonymousId"),
        "timestamp": message.get("timestamp"),
    }
    check_decoding("/batch/", json.dumps({"batch": [posthog]}).encode())
    check_decoding("/batch/", json.dumps([posthog]).encode())


@PROPERTIES
@given(
    st.dictionaries(
        st.sampled_from(["catalog", "events", "name", "version", "description", "x"]),
        json_values,
        max_size=4,
    )
    | st.text(max_size=300).map(lambda t: {"text": t})
)
def test_catalog_files_are_parsed_or_refused_with_a_message(
    reliability: Record, data: dict[str, Any]
) -> None:
    tried(reliability, "catalog parser: arbitrary TOML")
    text = data["text"] if set(data) == {"text"} else _to_toml(data)
    message = ""
    try:
        Catalog.from_toml(text, source="fuzz.toml")
    except CatalogError as exc:
        message = str(exc)
    assert not message or message.startswith("fuzz.toml"), message


def _to_toml(data: dict[str, Any]) -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items()
                         if not isinstance(v, dict | list) and v is not None)  # fmt: skip
        elif value is not None and not isinstance(value, list):
            lines.insert(0, f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


@PROPERTIES
@given(
    batch=st.lists(messages(), min_size=1, max_size=4),
    spliced=st.binary(min_size=1, max_size=4),
    where=st.sampled_from([b"track", b"2026-06-01", b'"event"']),
)
def test_bytes_spliced_into_strings_are_decoded_or_refused(
    reliability: Record, batch: list[dict[str, Any]], spliced: bytes, where: bytes
) -> None:
    tried(reliability, "decoder: arbitrary bytes (invalid UTF-8 too) inside strings")
    for path, body in (
        ("/v1/batch", json.dumps({"batch": batch}).encode()),
        ("/v1/track", json.dumps(batch[0]).encode()),
        ("/batch/", json.dumps({"api_key": "k", "batch": batch}).encode()),
    ):
        check_decoding(path, body.replace(where, where[:2] + spliced + where[2:], 1))
