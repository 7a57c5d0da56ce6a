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
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pigeon.errors import CatalogError, UnknownCatalogError

__all__ = [
    "FRAME_PATTERN",
    "OTHER_FRAMES",
    "Catalog",
    "EventSpec",
    "Problem",
    "PropertySpec",
    "PropertyType",
    "PropertyValue",
    "Validation",
    "available_catalogs",
]

PropertyType = Literal["string", "integer", "boolean", "enum", "frames"]
"""The types a catalog property may declare."""

PropertyValue = str | int | bool | tuple[str, ...] | None
"""A property value after validation (``None`` only where a client sent ``null``).

A ``frames`` property is a tuple of strings (a JSON array on the wire).
"""

OTHER_FRAMES: Final = "<other>"
"""The ``frames`` item standing for one or more consecutive frames outside the app's package."""

FRAME_PATTERN: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"  # module: a dotted name
    r":(?:[A-Za-z_][A-Za-z0-9_]*|<[a-z]+>)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|<[a-z]+>))*"
    r":[0-9]{1,9}"
)
"""One item of a ``frames`` property: ``module:function:line``.

The module is a dotted name, the function a ``co_qualname`` (``Store.sort``,
``load.<locals>.<lambda>``), the line a number. ASCII only and nothing else: no
path, space or quote can pass for a frame, so a frame never carries user data.
"""

# 64-bit signed bounds: both stores keep integers in 64 bits.
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One declared property of an event.

    Attributes:
        name: the property's key on the wire.
        type: one of ``string``, ``integer``, ``boolean``, ``enum``, ``frames``.
        purpose: why it is collected, in one line.
        max_length: strings longer than this are truncated (``string``); the
            longest accepted frame (``frames``).
        max_frames: the most frames accepted (``frames`` only).
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
    max_frames: int = 0
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
        if self.type == "frames":
            frame = "app.module:function:1"  # cut, it would no longer be a frame
            fits = len(frame) <= self.max_length
            return ((OTHER_FRAMES, frame) if fits else (OTHER_FRAMES,))[: self.max_frames]
        return "example"[: self.max_length]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One declared event: its purpose and the properties it may carry.

    Attributes:
        name: the event's name on the wire.
        purpose: why it is collected, in one line.
        properties: the declared properties by name (read-only).
        sent_from: where the host app sends it from (an endpoint, a code path), in
            one line; empty when the catalog does not say.
    """

    name: str
    purpose: str
    properties: Mapping[str, PropertySpec]
    sent_from: str = ""

    def sample(self) -> dict[str, PropertyValue]:
        """Sample properties for this event (one valid value each)."""
        return {name: spec.sample() for name, spec in self.properties.items()}

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle support (the read-only mapping itself cannot be pickled)."""
        state = (self.name, self.purpose, dict(self.properties), self.sent_from)
        return (_event_spec, state)


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
    _checks: dict[str, dict[str, _Check]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        """Prepare the fast checks of every declared property (see :meth:`validate`)."""
        checks = {
            name: {key: _fast_check(prop) for key, prop in spec.properties.items()}
            for name, spec in self.events.items()
        }
        object.__setattr__(self, "_checks", checks)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle support, so a collector config reaches worker processes."""
        state = (self.name, self.version, self.description, dict(self.events), self.source)
        return (_catalog, state)

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
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{source}: not valid TOML: {exc}") from None
        from pigeon._catalog_parse import parse_catalog

        return parse_catalog(data, source)

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
        # The common case first: every property declared, a plain value of the
        # right type, in bounds, nothing to truncate or fall back to; each is
        # settled by a type test and a comparison. Anything else takes the full
        # rules below, whose verdict the fast path always equals.
        checks = self._checks.get(event) if type(event) is str else None
        if checks is not None and (properties is None or type(properties) is dict):
            clean = _as_is(checks, properties) if properties else {}
            if clean is not None:
                return Validation(clean)
        return self._judge(event, properties)

    def _judge(self, event: str, properties: Mapping[str, object] | None) -> Validation:
        """The full rules of :meth:`validate`, for any input."""
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


_Check = Callable[[object], bool]
"""A property's fast check: whether a value is accepted exactly as it is."""


def _fast_check(prop: PropertySpec) -> _Check:
    """The common case of one property, decided with a type test and a comparison."""
    if prop.type == "integer":
        low, high = prop.minimum, prop.maximum
        return lambda v: type(v) is int and low <= v <= high
    if prop.type == "boolean":
        return lambda v: type(v) is bool
    if prop.type == "enum":
        values = prop.values
        return lambda v: type(v) is str and v in values
    if prop.type == "frames":
        return _frames_check(prop)
    limit = prop.max_length
    return lambda v: type(v) is str and len(v) <= limit and v.isascii()


def _frames_check(prop: PropertySpec) -> _Check:
    """A tuple of frames already seen valid (the SDK's crashes repeat), else the full rules.

    A list (decoded JSON) always takes the full rules, which turn it into a tuple.
    """
    most, longest = prop.max_frames, prop.max_length
    seen: dict[str, None] = {}

    def check(value: object) -> bool:
        if type(value) is not tuple or len(value) > most:
            return False
        for frame in value:
            if type(frame) is not str:
                return False
            if frame in seen:
                continue
            if _frame_problem(frame, longest) is not None:
                return False
            if len(seen) >= _SEEN_FRAMES:  # bounded: forget all, relearn the live ones
                seen.clear()
            seen[frame] = None
        return True

    return check


# Distinct valid frames remembered by one property's fast check.
_SEEN_FRAMES: Final = 4096


def _as_is(
    checks: dict[str, _Check], properties: Mapping[str, object]
) -> dict[str, PropertyValue] | None:
    """The properties, if each passes its fast check (``None`` always does); else ``None``."""
    for key, value in properties.items():
        check = checks.get(key)
        if check is None or (value is not None and not check(value)):
            return None
    return dict(properties)  # type: ignore[arg-type]  # every value passed: property values


def _event_spec(
    name: str, purpose: str, properties: dict[str, PropertySpec], sent_from: str = ""
) -> EventSpec:
    from types import MappingProxyType

    return EventSpec(name, purpose, MappingProxyType(properties), sent_from)


def _catalog(
    name: str, version: str, description: str, events: dict[str, EventSpec], source: str
) -> Catalog:
    from types import MappingProxyType

    return Catalog(name, version, description, MappingProxyType(events), source)


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
    if kind == "frames":
        return _check_frames(prop, value)
    if not isinstance(value, bool):
        return Problem(f"properties.{prop.name}", "must be a boolean")
    return value


def _check_frames(prop: PropertySpec, value: object) -> tuple[str, ...] | Problem:
    """A ``frames`` value: a list of at most ``max_frames`` frames, each valid and short enough."""
    path = f"properties.{prop.name}"
    if not isinstance(value, list | tuple):
        return Problem(path, "must be a list of frames")
    if len(value) > prop.max_frames:
        return Problem(path, f"at most {prop.max_frames} frames")
    frames: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return Problem(path, f"frame {index}: must be a string")
        frame = str.__str__(item)
        problem = _frame_problem(frame, prop.max_length)
        if problem is not None:
            return Problem(path, f"frame {index}: {problem}")
        frames.append(frame)
    return tuple(frames)


def _frame_problem(frame: str, longest: int) -> str | None:
    """Why ``frame`` is no frame of at most ``longest`` characters, or ``None``."""
    if len(frame) > longest:
        return f"longer than {longest} characters"
    if frame != OTHER_FRAMES and FRAME_PATTERN.fullmatch(frame) is None:
        return f"not module:function:line or {OTHER_FRAMES}"
    return None


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
