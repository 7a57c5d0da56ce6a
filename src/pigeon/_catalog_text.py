"""How a catalog declaration reads in words, shared by ``catalog show``, ``diff`` and ``docs``."""

from __future__ import annotations

from pigeon.catalog import _INT_MAX, _INT_MIN, PropertySpec

__all__ = ["describe"]


def describe(prop: PropertySpec) -> str:
    """The type and bounds of a property, in a few words."""
    if prop.type == "string":
        return f"string, at most {prop.max_length} chars"
    if prop.type == "integer":
        low, high = prop.minimum > _INT_MIN, prop.maximum < _INT_MAX
        if low and high:
            return f"integer from {prop.minimum:,} to {prop.maximum:,}"
        if low or high:
            return f"integer {'>=' if low else '<='} {prop.minimum if low else prop.maximum:,}"
        return "integer"
    if prop.type == "frames":
        return (
            f"frames (module:function:line or <other>), at most {prop.max_frames}, "
            f"each at most {prop.max_length} chars"
        )
    if prop.type == "enum":
        values = ", ".join(prop.ordered_values)
        extra = f"; unknown -> {prop.fallback}" if prop.fallback else ""
        return f"one of: {values}{extra}"
    return "boolean"
