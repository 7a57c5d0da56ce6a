"""Loading a catalog: the checks that make a malformed catalog fail loudly.

Every error names the file, the event and the field. Imported only when a
catalog is parsed (on the SDK's sender thread, or by the CLI and collector).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pigeon.catalog import (
    _INT_MAX,
    _INT_MIN,
    Catalog,
    EventSpec,
    Problem,
    PropertySpec,
    _check,
)
from pigeon.errors import CatalogError

__all__ = ["parse_catalog"]

_TYPES: Final = ("string", "integer", "boolean", "enum", "frames")
_CATALOG_KEYS: Final = frozenset({"name", "version", "description"})
_EVENT_KEYS: Final = frozenset({"purpose", "properties", "sent_from"})
_PROPERTY_KEYS: Final = {
    "string": frozenset({"type", "purpose", "max_length", "example"}),
    "integer": frozenset({"type", "purpose", "min", "max", "example"}),
    "boolean": frozenset({"type", "purpose", "example"}),
    "enum": frozenset({"type", "purpose", "values", "fallback", "example"}),
    "frames": frozenset({"type", "purpose", "max_frames", "max_length", "example"}),
}
# A longer string is free text, which has no place in telemetry.
_MAX_STRING_LENGTH: Final = 1024
# Bounds of a stack: enough for any app's own frames, small enough for a 32 KB event.
_MAX_FRAMES: Final = 128
_MAX_FRAME_LENGTH: Final = 256
# Event and property names: what Segment, PostHog and SQL column aliases all accept.
_NAME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:$"
)
_MAX_NAME_LENGTH: Final = 64


def parse_catalog(data: Mapping[str, object], source: str) -> Catalog:
    _only(data, frozenset({"catalog", "events"}), source, "top level")
    head = _table(data.get("catalog"), source, "[catalog]")
    _only(head, _CATALOG_KEYS, source, "[catalog]")
    name = _text(head.get("name"), source, "[catalog] name")
    version = _text(head.get("version"), source, "[catalog] version")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise CatalogError(f"{source}: [catalog] description must be a string")
    raw_events = _table(data.get("events"), source, "[events]")
    if not raw_events:
        raise CatalogError(f"{source}: [events] declares no event")
    events: dict[str, EventSpec] = {}
    for event_name, raw in raw_events.items():
        where = f"event {event_name!r}"
        _name(event_name, source, where)
        table = _table(raw, source, where)
        _only(table, _EVENT_KEYS, source, where)
        purpose = _purpose(table.get("purpose"), source, where)
        raw_sent_from = table.get("sent_from")
        sent_from = (
            "" if raw_sent_from is None else _one_line(raw_sent_from, source, f"{where}: sent_from")
        )
        props_raw = _table(table.get("properties", {}), source, f"{where}: properties")
        props = {
            prop_name: _parse_property(prop_name, prop_raw, source, where)
            for prop_name, prop_raw in props_raw.items()
        }
        events[event_name] = EventSpec(event_name, purpose, MappingProxyType(props), sent_from)
    return Catalog(
        name=name,
        version=version,
        description=description,
        events=MappingProxyType(events),
        source=source,
    )


def _parse_property(name: str, raw: object, source: str, event_where: str) -> PropertySpec:
    where = f"{event_where}, property {name!r}"
    _name(name, source, where)
    table = _table(raw, source, where)
    kind = table.get("type")
    if kind not in _TYPES:
        got = "missing" if kind is None else repr(kind)
        raise CatalogError(f"{source}: {where}: type must be one of {', '.join(_TYPES)} ({got})")
    _only(table, _PROPERTY_KEYS[str(kind)], source, where)
    purpose = _purpose(table.get("purpose"), source, where)
    if kind == "string":
        max_length = table.get("max_length")
        if type(max_length) is not int or not 1 <= max_length <= _MAX_STRING_LENGTH:
            raise CatalogError(
                f"{source}: {where}: max_length: a string needs max_length, "
                f"an integer from 1 to {_MAX_STRING_LENGTH}"
            )
        spec = PropertySpec(name, "string", purpose, max_length=max_length)
    elif kind == "integer":
        low, high = table.get("min", _INT_MIN), table.get("max", _INT_MAX)
        if type(low) is not int or type(high) is not int or not _INT_MIN <= low <= high <= _INT_MAX:
            raise CatalogError(
                f"{source}: {where}: min/max: must be 64-bit integers with min <= max"
            )
        spec = PropertySpec(name, "integer", purpose, minimum=low, maximum=high)
    elif kind == "enum":
        spec = _parse_enum(name, purpose, table, source, where)
    elif kind == "frames":
        spec = _parse_frames(name, purpose, table, source, where)
    else:
        spec = PropertySpec(name, "boolean", purpose)
    example = table.get("example")
    if example is not None:
        checked = _check(spec, example)
        expected = tuple(example) if isinstance(example, list) else example
        if isinstance(checked, Problem) or checked != expected:
            raise CatalogError(f"{source}: {where}: example does not satisfy the declaration")
        spec = dataclasses.replace(spec, example=checked)
    return spec


def _parse_enum(
    name: str, purpose: str, table: Mapping[str, object], source: str, where: str
) -> PropertySpec:
    values = table.get("values")
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v for v in values)
    ):
        raise CatalogError(
            f"{source}: {where}: values: an enum needs values, a non-empty list of strings"
        )
    if len(set(values)) != len(values):
        raise CatalogError(f"{source}: {where}: values: each value must appear once")
    fallback = table.get("fallback")
    if fallback is not None and (not isinstance(fallback, str) or fallback not in values):
        raise CatalogError(f"{source}: {where}: fallback: must be one of the values")
    return PropertySpec(
        name,
        "enum",
        purpose,
        values=frozenset(values),
        ordered_values=tuple(values),
        fallback=fallback,
    )


def _parse_frames(
    name: str, purpose: str, table: Mapping[str, object], source: str, where: str
) -> PropertySpec:
    most, longest = table.get("max_frames"), table.get("max_length")
    if type(most) is not int or not 1 <= most <= _MAX_FRAMES:
        raise CatalogError(
            f"{source}: {where}: max_frames: frames need max_frames, "
            f"an integer from 1 to {_MAX_FRAMES}"
        )
    if type(longest) is not int or not 1 <= longest <= _MAX_FRAME_LENGTH:
        raise CatalogError(
            f"{source}: {where}: max_length: frames need max_length (per frame), "
            f"an integer from 1 to {_MAX_FRAME_LENGTH}"
        )
    return PropertySpec(name, "frames", purpose, max_length=longest, max_frames=most)


def _table(value: object, source: str, where: str) -> dict[str, object]:
    if value is None:
        raise CatalogError(f"{source}: {where} is required")
    if not isinstance(value, dict):
        raise CatalogError(f"{source}: {where} must be a table")
    return value


def _text(value: object, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{source}: {where} is required and must be a non-empty string")
    return value


def _purpose(value: object, source: str, where: str) -> str:
    return _one_line(value, source, f"{where}: purpose")


def _one_line(value: object, source: str, where: str) -> str:
    """A required one-line text (a purpose, a ``sent_from``), stripped."""
    text = _text(value, source, where).strip()
    if "\n" in text:
        raise CatalogError(f"{source}: {where} must be one line")
    return text


def _name(name: str, source: str, where: str) -> None:
    if not name or len(name) > _MAX_NAME_LENGTH or not set(name) <= _NAME_CHARS:
        raise CatalogError(
            f"{source}: {where}: a name has 1 to {_MAX_NAME_LENGTH} characters among "
            "letters, digits and _ - . : $"
        )


def _only(table: Mapping[str, object], allowed: frozenset[str], source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CatalogError(
            f"{source}: {where}: unknown field {unknown[0]!r} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
