"""How a catalog declaration reads in words, shared by ``catalog show``, ``diff`` and ``docs``."""

from __future__ import annotations

from pigeon.catalog import _INT_MAX, _INT_MIN, PropertySpec

__all__ = ["describe"]


def describe(prop: PropertySpec) -> str:
    """The type and bounds of a property, in a few words."""
    if prop.type == "string":
        return f"string, at most {prop.max_length} chars"
    if prop.type == "integer":
        bounds = []
        if prop.minimum > _INT_MIN:
            bounds.append(f">= {prop.minimum}")
        if prop.maximum < _INT_MAX:
            bounds.append(f"<= {prop.maximum}")
        return "integer" + (f" {' '.join(bounds)}" if bounds else "")
    if prop.type == "enum":
        values = ", ".join(prop.ordered_values)
        extra = f"; unknown -> {prop.fallback}" if prop.fallback else ""
        return f"one of: {values}{extra}"
    return "boolean"
