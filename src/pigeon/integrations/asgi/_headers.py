"""Request headers as event properties, only where the catalog declares them.

Decoding is deferred: :class:`HeaderProperties` is the mapping handed to
``client.track()``, and it reads the request's raw headers only when the SDK
reads the properties, which it does on its sender thread. The request path
pays for one small object, not for a header scan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["DeclaredHeaders", "HeaderProperties", "RawHeaders"]

RawHeaders = Iterable[tuple[bytes, bytes]]
"""ASGI request headers: lower-cased names and values, as bytes."""


class DeclaredHeaders:
    """Which headers each event may carry: the allowed names the catalog declares for it."""

    def __init__(
        self,
        allowed: Collection[str],
        event_properties: Callable[[str], Collection[str] | None],
        on_error: Callable[[str], None],
    ) -> None:
        """Remember the allowed header names and how to read an event's declared properties.

        Args:
            allowed: header names that may ever be attached (lower case).
            event_properties: an event's declared property names (``None``: not declared).
            on_error: called with a failure kind when the catalog cannot be read.
        """
        self._allowed = tuple(h.lower() for h in allowed)
        self._event_properties = event_properties
        self._on_error = on_error
        self._cache: dict[str, dict[bytes, str]] = {}

    def of(self, event: str) -> dict[bytes, str]:
        """``{raw header name: property name}`` for ``event`` (empty when none is declared)."""
        found = self._cache.get(event)
        if found is None:
            found = self._cache[event] = self._lookup(event)
        return found

    def _lookup(self, event: str) -> dict[bytes, str]:
        try:
            declared = self._event_properties(event)
        except Exception:
            self._on_error("catalog")
            return {}
        if not declared:
            return {}
        return {h.encode("latin-1"): h for h in self._allowed if h in declared}


class HeaderProperties(Mapping[str, Any]):
    """Event properties plus the wanted request headers, decoded on first read."""

    __slots__ = ("_base", "_headers", "_resolved", "_wanted")

    def __init__(self, base: dict[str, Any], headers: RawHeaders, wanted: dict[bytes, str]):
        """Keep references only; nothing is decoded yet."""
        self._base = base
        self._headers = headers
        self._wanted = wanted
        self._resolved: dict[str, Any] | None = None

    def _items(self) -> dict[str, Any]:
        resolved = self._resolved
        if resolved is None:
            resolved = dict(self._base)
            try:
                for name, value in self._headers:
                    prop = self._wanted.get(name)
                    if prop is not None and prop not in resolved:
                        resolved[prop] = value.decode("latin-1")
            except Exception:  # malformed headers from an odd server: send without them
                resolved = dict(self._base)
            self._resolved = resolved
        return resolved

    def __getitem__(self, key: str) -> Any:
        """One property."""
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        """The property names."""
        return iter(self._items())

    def __len__(self) -> int:
        """How many properties."""
        return len(self._items())
