"""What changed between two versions of a catalog, and whether the version had to change.

A change is *widened* when the new declaration accepts a value the old one
refused (a longer ``max_length``, a lower ``min``, a higher ``max``, another
enum value, a new or different fallback, a type that accepts more), and
*narrowed* in the opposite case. Added events and properties, and widened
bounds, let an app send something its published policy did not cover: they
need a new catalog version, so that reports can tell old clients from new and
readers of the policy can see that it changed. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from pigeon._catalog_text import describe
from pigeon.catalog import _INT_MAX, _INT_MIN, Catalog, EventSpec, PropertySpec

__all__ = ["CatalogDiff", "Change", "ChangeKind", "diff_catalogs", "is_version_bump"]

ChangeKind = Literal["added", "removed", "widened", "narrowed", "purpose", "sent_from"]
"""What happened: ``purpose`` and ``sent_from`` are changes of wording only."""

ChangeValue = str | int | tuple[str, ...] | None
"""The value of the changed aspect on one side (``None``: absent on that side)."""

_NEEDS_BUMP: frozenset[ChangeKind] = frozenset({"added", "widened"})


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two catalogs.

    Attributes:
        kind: added, removed, widened, narrowed, purpose or sent_from.
        event: the event concerned.
        prop: the property concerned, ``None`` for the event itself.
        aspect: what changed: ``event``, ``property``, ``type``, ``max_length``,
            ``min``, ``max``, ``values``, ``fallback``, ``max_frames``, ``purpose`` or
            ``sent_from``.
        old: the aspect before (``None`` when absent).
        new: the aspect after (``None`` when absent).
        detail: the change in a few words, for people.
    """

    kind: ChangeKind
    event: str
    prop: str | None
    aspect: str
    old: ChangeValue
    new: ChangeValue
    detail: str

    @property
    def where(self) -> str:
        """``Event`` or ``Event.property``."""
        return self.event if self.prop is None else f"{self.event}.{self.prop}"


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    """Every change from an old catalog to a new one.

    Attributes:
        old: the catalog before.
        new: the catalog after.
        changes: the changes, in the new catalog's order (removed events last).
    """

    old: Catalog
    new: Catalog
    changes: tuple[Change, ...]

    @property
    def version_bumped(self) -> bool:
        """Whether the new catalog has a new version (see :func:`is_version_bump`)."""
        return is_version_bump(self.old.version, self.new.version)

    @property
    def needing_bump(self) -> tuple[Change, ...]:
        """The additions and widenings: what a new version must announce."""
        return tuple(c for c in self.changes if c.kind in _NEEDS_BUMP)

    @property
    def compatible(self) -> bool:
        """False when something was added or widened without a version bump."""
        return self.version_bumped or not self.needing_bump


def is_version_bump(old: str, new: str) -> bool:
    """Whether ``new`` is a new version after ``old``.

    Versions are free text, so any different version counts, except a lower
    one when both are dotted numbers (``"2"`` after ``"10"`` is a mistake).
    """
    if old.strip() == new.strip():
        return False
    old_key, new_key = _numeric(old), _numeric(new)
    return old_key is None or new_key is None or new_key > old_key


def _numeric(version: str) -> tuple[int, ...] | None:
    parts = version.strip().split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def diff_catalogs(old: Catalog, new: Catalog) -> CatalogDiff:
    """Compare two catalogs, event by event and property by property."""
    names = list(new.events) + [name for name in old.events if name not in new.events]
    changes: list[Change] = []
    for name in names:
        changes.extend(_event_changes(name, old.events.get(name), new.events.get(name)))
    return CatalogDiff(old, new, tuple(changes))


_NO_PROPERTIES: MappingProxyType[str, PropertySpec] = MappingProxyType({})


def _event_changes(name: str, old: EventSpec | None, new: EventSpec | None) -> Iterator[Change]:
    if old is None and new is not None:
        yield Change("added", name, None, "event", None, new.purpose, f"new event: {new.purpose}")
    elif new is None and old is not None:
        yield Change("removed", name, None, "event", old.purpose, None, "event removed")
    elif old is not None and new is not None:
        if old.purpose != new.purpose:
            yield Change(
                "purpose", name, None, "purpose", old.purpose, new.purpose, f"now: {new.purpose}"
            )
        if old.sent_from != new.sent_from:
            detail = f"now: {new.sent_from}" if new.sent_from else "no longer stated"
            yield Change(
                "sent_from",
                name,
                None,
                "sent_from",
                old.sent_from or None,
                new.sent_from or None,
                detail,
            )
    # A missing event is one without properties: its properties are added or removed.
    old_props = old.properties if old is not None else _NO_PROPERTIES
    new_props = new.properties if new is not None else _NO_PROPERTIES
    keys = list(new_props) + [key for key in old_props if key not in new_props]
    for key in keys:
        yield from _property_changes(name, key, old_props.get(key), new_props.get(key))


def _property_changes(
    event: str, name: str, old: PropertySpec | None, new: PropertySpec | None
) -> Iterator[Change]:
    if old is None or new is None:
        if new is not None:
            text = describe(new)
            yield Change("added", event, name, "property", None, text, f"new property: {text}")
        elif old is not None:
            text = describe(old)
            yield Change("removed", event, name, "property", text, None, f"was: {text}")
        return
    if old.type != new.type:
        yield _type_change(event, old, new)
    elif new.type == "string":
        yield from _bound(event, new, "max_length", old.max_length, new.max_length, wider=1)
    elif new.type == "integer":
        yield from _bound(event, new, "min", old.minimum, new.minimum, wider=-1)
        yield from _bound(event, new, "max", old.maximum, new.maximum, wider=1)
    elif new.type == "enum":
        yield from _enum_changes(event, old, new)
    elif new.type == "frames":
        yield from _bound(event, new, "max_frames", old.max_frames, new.max_frames, wider=1)
        yield from _bound(event, new, "max_length", old.max_length, new.max_length, wider=1)
    if old.purpose != new.purpose:
        yield Change(
            "purpose", event, name, "purpose", old.purpose, new.purpose, f"now: {new.purpose}"
        )


def _type_change(event: str, old: PropertySpec, new: PropertySpec) -> Change:
    # Only enum -> string is an accepted superset (any text instead of a few
    # values) and only string -> enum a subset; the other types have no value
    # in common (bool is never an integer), so the new one accepts values the
    # old refused: counted as widened, the side that needs a new version.
    kind: ChangeKind = "narrowed" if (old.type, new.type) == ("string", "enum") else "widened"
    detail = f"type {old.type} -> {new.type}: {describe(new)}"
    return Change(kind, event, new.name, "type", old.type, new.type, detail)


def _bound(
    event: str, prop: PropertySpec, aspect: str, old: int, new: int, *, wider: int
) -> Iterator[Change]:
    """A numeric bound; ``wider`` is the sign of a change that accepts more."""
    if old == new:
        return
    kind: ChangeKind = "widened" if (new - old) * wider > 0 else "narrowed"
    detail = f"{aspect} {_bound_text(old)} -> {_bound_text(new)}"
    yield Change(kind, event, prop.name, aspect, old, new, detail)


def _bound_text(value: int) -> str:
    return "none" if value in (_INT_MIN, _INT_MAX) else str(value)


def _enum_changes(event: str, old: PropertySpec, new: PropertySpec) -> Iterator[Change]:
    added = [v for v in new.ordered_values if v not in old.values]
    removed = [v for v in old.ordered_values if v not in new.values]
    before, after = old.ordered_values, new.ordered_values
    if added:
        detail = f"adds values: {', '.join(added)}"
        yield Change("widened", event, new.name, "values", before, after, detail)
    if removed:
        detail = f"drops values: {', '.join(removed)}"
        yield Change("narrowed", event, new.name, "values", before, after, detail)
    if old.fallback != new.fallback:
        # Any new or different fallback reports unknown values in a way the old
        # catalog did not; only dropping it refuses more.
        kind: ChangeKind = "narrowed" if new.fallback is None else "widened"
        detail = f"fallback {old.fallback or 'none'} -> {new.fallback or 'none'}"
        yield Change(kind, event, new.name, "fallback", old.fallback, new.fallback, detail)
