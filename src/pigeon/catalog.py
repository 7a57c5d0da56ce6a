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

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
    """One declared event: its purpose and the properties it may carry."""

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
        truncated; ``None`` values are kept as ``None`` (absent on the SDK side,
        ``null`` on the wire); values of the wrong type, out of bounds, or not in
        an enum without a fallback make the event refused.
        """
        spec = self.events.get(event) if isinstance(event, str) else None
        if spec is None:
            return Validation({}, 0, (Problem("event", "not declared in the catalog"),))
        if not properties:
            return Validation({})
        if not isinstance(properties, Mapping):
            return Validation({}, 0, (Problem("properties", "must be an object"),))
        declared = spec.properties
        clean: dict[str, PropertyValue] = {}
        problems: list[Problem] = []
        dropped = 0
        for key, value in properties.items():
            prop = declared.get(key) if isinstance(key, str) else None
            if prop is None:
                dropped += 1
                continue
            if value is None:
                clean[key] = None
                continue
            checked = _check(prop, value)
            if isinstance(checked, Problem):
                problems.append(checked)
            else:
                clean[key] = checked
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
        if type(value) is not str:
            return Problem(f"properties.{prop.name}", "must be a string")
        return value[: prop.max_length] if len(value) > prop.max_length else value
    if kind == "enum":
        if type(value) is not str:
            return Problem(f"properties.{prop.name}", "must be a string (enum)")
        if value in prop.values:
            return value
        if prop.fallback is not None:
            return prop.fallback
        return Problem(f"properties.{prop.name}", "not one of the declared values")
    if kind == "integer":
        # bool is an int subclass; a flag sent as a count is a bug, not a count.
        if type(value) is not int:
            return Problem(f"properties.{prop.name}", "must be an integer")
        if not prop.minimum <= value <= prop.maximum:
            return Problem(
                f"properties.{prop.name}",
                f"must be between {prop.minimum} and {prop.maximum}",
            )
        return value
    if type(value) is not bool:
        return Problem(f"properties.{prop.name}", "must be a boolean")
    return value


def _parse(data: Mapping[str, object], source: str) -> Catalog:
    head = _table(data.get("catalog"), source, "[catalog]")
    _only(head, _CATALOG_KEYS, source, "[catalog]")
    name = _text(head.get("name"), source, "[catalog] name")
    version = _text(head.get("version"), source, "[catalog] version")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise CatalogError(f"{source}: [catalog] description must be a string")
    _only(data, frozenset({"catalog", "events"}), source, "top level")
    raw_events = _table(data.get("events"), source, "[events]")
    if not raw_events:
        raise CatalogError(f"{source}: [events] declares no event")
    events: dict[str, EventSpec] = {}
    for event_name, raw in raw_events.items():
        where = f"event {event_name!r}"
        table = _table(raw, source, where)
        _only(table, _EVENT_KEYS, source, where)
        purpose = _text(table.get("purpose"), source, f"{where}: purpose")
        props_raw = _table(table.get("properties", {}), source, f"{where}: properties")
        props = {
            prop_name: _parse_property(prop_name, prop_raw, source, where)
            for prop_name, prop_raw in props_raw.items()
        }
        events[event_name] = EventSpec(event_name, purpose, props)
    return Catalog(
        name=name, version=version, description=description, events=events, source=source
    )


def _parse_property(name: str, raw: object, source: str, event_where: str) -> PropertySpec:
    where = f"{event_where}, property {name!r}"
    table = _table(raw, source, where)
    kind = table.get("type")
    if kind not in _TYPES:
        raise CatalogError(f"{source}: {where}: type must be one of {', '.join(_TYPES)}")
    _only(table, _PROPERTY_KEYS[str(kind)], source, where)
    purpose = _text(table.get("purpose"), source, f"{where}: purpose")
    example = table.get("example")
    if kind == "string":
        max_length = table.get("max_length")
        if type(max_length) is not int or max_length < 1:
            raise CatalogError(f"{source}: {where}: a string needs max_length, a positive integer")
        spec = PropertySpec(name, "string", purpose, max_length=max_length)
    elif kind == "integer":
        low, high = table.get("min", _INT_MIN), table.get("max", _INT_MAX)
        if type(low) is not int or type(high) is not int or low > high:
            raise CatalogError(f"{source}: {where}: min and max must be integers with min <= max")
        spec = PropertySpec(name, "integer", purpose, minimum=low, maximum=high)
    elif kind == "enum":
        values = table.get("values")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v for v in values)
        ):
            raise CatalogError(
                f"{source}: {where}: an enum needs values, a non-empty list of strings"
            )
        fallback = table.get("fallback")
        if fallback is not None and (not isinstance(fallback, str) or fallback not in values):
            raise CatalogError(f"{source}: {where}: fallback must be one of the values")
        spec = PropertySpec(
            name,
            "enum",
            purpose,
            values=frozenset(values),
            ordered_values=tuple(values),
            fallback=fallback,
        )
    else:
        spec = PropertySpec(name, "boolean", purpose)
    if example is not None:
        if isinstance(_check(spec, example), Problem):
            raise CatalogError(f"{source}: {where}: example does not satisfy the declaration")
        spec = PropertySpec(
            spec.name,
            spec.type,
            spec.purpose,
            spec.max_length,
            spec.minimum,
            spec.maximum,
            spec.values,
            spec.ordered_values,
            spec.fallback,
            example,  # type: ignore[arg-type]  # checked just above
        )
    return spec


def _table(value: object, source: str, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise CatalogError(f"{source}: {where} must be a table")
    return value


def _text(value: object, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{source}: {where} is required and must be a non-empty string")
    return value


def _only(table: Mapping[str, object], allowed: frozenset[str], source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CatalogError(
            f"{source}: {where}: unknown field {unknown[0]!r} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
