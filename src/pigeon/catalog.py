"""The event catalog: the contract between a host app, its users and its collector.

A catalog is one TOML file per app. It declares every event the app may send
and every property each event may carry, with a type, bounds and a one-line
``purpose``. The SDK validates against it before anything leaves the process
and the collector validates against it again on arrival: anything undeclared
is dropped, anything of the wrong type is rejected.

Example::

    [catalog]
    name = "argilla"
    version = "1"
    description = "Anonymous usage of the Argilla server."

    [events.LogRecordsRequested]
    purpose = "How much data flows through bulk uploads, per task."

    [events.LogRecordsRequested.properties.task]
    type = "enum"
    values = ["TextClassification", "TokenClassification", "Text2Text"]
    purpose = "Which labelling task the records belong to."

Free text (messages, names, paths, ids of user data) has no place in a
catalog: a string property must declare a ``max_length`` and a purpose that a
reviewer can check.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from pigeon.errors import CatalogError, UnknownCatalogError

__all__ = [
    "Catalog",
    "EventSpec",
    "Problem",
    "PropertySpec",
    "PropertyType",
    "PropertyValue",
    "Validation",
    "available_catalogs",
]

PropertyType = Literal["string", "integer", "boolean", "enum"]
"""The types a catalog property may declare."""

PropertyValue = str | int | bool | None
"""A property value after validation (``None`` only where a client sent ``null``)."""

_TYPES: Final = ("string", "integer", "boolean", "enum")
_CATALOG_KEYS: Final = frozenset({"name", "version", "description"})
_EVENT_KEYS: Final = frozenset({"purpose", "properties"})
_PROPERTY_KEYS: Final = {
    "string": frozenset({"type", "purpose", "max_length", "example"}),
    "integer": frozenset({"type", "purpose", "min", "max", "example"}),
    "boolean": frozenset({"type", "purpose", "example"}),
    "enum": frozenset({"type", "purpose", "values", "fallback", "example"}),
}
# 64-bit signed bounds: both stores keep integers in 64 bits.
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1
# A longer string is free text, which has no place in telemetry.
_MAX_STRING_LENGTH: Final = 1024
# Event and property names: what Segment, PostHog and SQL column aliases all accept.
_NAME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:$"
)
_MAX_NAME_LENGTH: Final = 64


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One declared property of an event.

    Attributes:
        name: the property's key on the wire.
        type: one of ``string``, ``integer``, ``boolean``, ``enum``.
        purpose: why it is collected, in one line.
        max_length: strings longer than this are truncated (``string`` only).
        minimum: smallest accepted value (``integer`` only).
        maximum: largest accepted value (``integer`` only).
        values: accepted values (``enum`` only).
        ordered_values: the same values in the catalog's order (for display).
        fallback: what an unknown enum value becomes; without one it is an error.
        example: the value shown by ``pigeon preview``.
    """

    name: str
    type: PropertyType
    purpose: str
    max_length: int = 0
    minimum: int = _INT_MIN
    maximum: int = _INT_MAX
    values: frozenset[str] = frozenset()
    ordered_values: tuple[str, ...] = ()
    fallback: str | None = None
    example: PropertyValue = None

    def sample(self) -> PropertyValue:
        """A representative valid value, for previews and tests."""
        if self.example is not None:
            return self.example
        if self.type == "enum":
            return self.ordered_values[0]
        if self.type == "integer":
            return max(self.minimum, min(self.maximum, 42))
        if self.type == "boolean":
            return False
        return "example"[: self.max_length]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One declared event: its purpose and the properties it may carry.

    Attributes:
        name: the event's name on the wire.
        purpose: why it is collected, in one line.
        properties: the declared properties by name (read-only).
    """

    name: str
    purpose: str
    properties: Mapping[str, PropertySpec]

    def sample(self) -> dict[str, PropertyValue]:
        """Sample properties for this event (one valid value each)."""
        return {name: spec.sample() for name, spec in self.properties.items()}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value was refused: the field (``event`` or ``properties.<name>``) and the reason."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of validating one event against a catalog.

    Attributes:
        properties: the clean properties (undeclared ones dropped, strings truncated).
        dropped: how many undeclared properties were dropped. Their names are not
            kept: a name may itself be user data (a dataset name used as a key).
        problems: why the event is refused; empty when it is accepted.
    """

    properties: dict[str, PropertyValue]
    dropped: int = 0
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the event may be sent (or stored)."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class Catalog:
    """A parsed, checked catalog.

    Build one with :meth:`load` (a shipped name or a path) or :meth:`from_toml`.

    Attributes:
        name: the catalog's name (usually the app's).
        version: the catalog's version, sent with every event.
        description: one paragraph for humans.
        events: the declared events by name.
        source: where it was read from, for error messages.
    """

    name: str
    version: str
    description: str
    events: Mapping[str, EventSpec]
    source: str = field(default="<memory>", compare=False)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str]) -> Catalog:
        """Load a shipped catalog by name (``"argilla"``) or any catalog file by path.

        Raises:
            UnknownCatalogError: nothing by that name or at that path.
            CatalogError: the file is malformed; the message names file, event and field.
        """
        path = _resolve(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read catalog: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CatalogError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<memory>") -> Catalog:
        """Parse and check a catalog from TOML text.

        Raises:
            CatalogError: the text is not TOML or breaks the catalog rules.
        """
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{source}: not valid TOML: {exc}") from None
        return _parse(data, source)

    def validate(self, event: str, properties: Mapping[str, object] | None) -> Validation:
        """Check one event against the catalog and return its clean properties.

        Undeclared properties are dropped and counted; over-long strings are
        truncated; ``None`` values are kept (``null`` on the wire: historical
        clients send it for a missing header); values of the wrong type, out of
        bounds, or not in an enum without a fallback make the event refused.
        Subclasses of ``str`` and ``int`` (``StrEnum``, ``IntEnum``) become plain
        values; ``bool`` is never accepted as an integer. Never raises.

        Args:
            event: the event's name.
            properties: the properties as the caller gave them (or as decoded JSON).

        Returns:
            The clean properties and, when the event is refused, the reasons.
            Reasons never quote a value: values may be user data.
        """
        spec = self.events.get(event) if isinstance(event, str) else None
        if spec is None:
            return Validation({}, 0, (Problem("event", "not declared in the catalog"),))
        if properties is None or (isinstance(properties, list | tuple) and not properties):
            return Validation({})  # some Segment clients encode "no properties" as []
        if not isinstance(properties, Mapping):
            return Validation({}, 0, (Problem("properties", "must be an object"),))
        try:
            items = list(properties.items())
        except Exception:  # a host's broken Mapping: refuse the event, never raise
            return Validation({}, 0, (Problem("properties", "could not be read"),))
        declared = spec.properties
        clean: dict[str, PropertyValue] = {}
        problems: list[Problem] = []
        dropped = 0
        for key, value in items:
            prop = declared.get(key) if isinstance(key, str) else None
            if prop is None:
                dropped += 1
                continue
            if value is None:
                clean[prop.name] = None
                continue
            checked = _check(prop, value)
            if isinstance(checked, Problem):
                problems.append(checked)
            else:
                clean[prop.name] = checked
        return Validation(clean, dropped, tuple(problems))


def available_catalogs() -> list[str]:
    """Names of the catalogs shipped inside the package."""
    return sorted(p.stem for p in _catalog_dir().glob("*.toml"))


def _catalog_dir() -> Path:
    return Path(__file__).parent / "catalogs"


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(name_or_path)
    looks_like_path = text.endswith(".toml") or os.sep in text or "/" in text
    if looks_like_path:
        path = Path(text)
        if not path.is_file():
            raise UnknownCatalogError(f"{text}: no catalog file at this path")
        return path
    path = _catalog_dir() / f"{text}.toml"
    if not text.isidentifier() or not path.is_file():
        known = ", ".join(available_catalogs()) or "none"
        raise UnknownCatalogError(f"unknown catalog {text!r} (shipped catalogs: {known})")
    return path


def _check(prop: PropertySpec, value: object) -> PropertyValue | Problem:
    kind = prop.type
    if kind == "string":
        if not isinstance(value, str):
            return Problem(f"properties.{prop.name}", "must be a string")
        text = _plain_text(value)
        return text[: prop.max_length] if len(text) > prop.max_length else text
    if kind == "enum":
        if not isinstance(value, str):
            return Problem(f"properties.{prop.name}", "must be a string (enum)")
        text = str.__str__(value)  # a StrEnum member becomes its plain value
        if text in prop.values:
            return text
        if prop.fallback is not None:
            return prop.fallback
        return Problem(f"properties.{prop.name}", "not one of the declared values")
    if kind == "integer":
        # bool is an int subclass; a flag sent as a count is a bug, not a count.
        if not isinstance(value, int) or isinstance(value, bool):
            return Problem(f"properties.{prop.name}", "must be an integer")
        number = int.__index__(value)  # an IntEnum member becomes a plain int
        if not prop.minimum <= number <= prop.maximum:
            return Problem(
                f"properties.{prop.name}",
                f"must be between {prop.minimum} and {prop.maximum}",
            )
        return number
    if not isinstance(value, bool):
        return Problem(f"properties.{prop.name}", "must be a boolean")
    return value


def _plain_text(value: str) -> str:
    """``value`` as a plain ``str`` that encodes to UTF-8 (lone surrogates replaced)."""
    text = str.__str__(value)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _parse(data: Mapping[str, object], source: str) -> Catalog:
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
        props_raw = _table(table.get("properties", {}), source, f"{where}: properties")
        props = {
            prop_name: _parse_property(prop_name, prop_raw, source, where)
            for prop_name, prop_raw in props_raw.items()
        }
        events[event_name] = EventSpec(event_name, purpose, MappingProxyType(props))
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
    else:
        spec = PropertySpec(name, "boolean", purpose)
    example = table.get("example")
    if example is not None:
        checked = _check(spec, example)
        if isinstance(checked, Problem) or checked != example:
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
    purpose = _text(value, source, f"{where}: purpose")
    if "\n" in purpose.strip():
        raise CatalogError(f"{source}: {where}: purpose must be one line")
    return purpose.strip()


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
