"""SQL literals and identifiers, rendered on the client.

ClickHouse 18.16 has no server-side query parameters (``{name:Type}`` arrived in
19.x), so values are quoted here, by one function every connection shares: the
native driver and the in-process engine used in tests run the same SQL text.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["SqlValue", "identifier", "literal", "render", "values_list"]

SqlValue = str | int | datetime.date | tuple["SqlValue", ...] | list["SqlValue"]
"""What :func:`literal` can quote: text, integers, dates, tuples and arrays of them."""

_ESCAPES: Final = str.maketrans(
    {
        "\\": "\\\\",
        "'": "\\'",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\0": "\\0",
        "\b": "\\b",
        "\f": "\\f",
        "\a": "\\a",
        "\v": "\\v",
    }
)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PLACEHOLDER: Final = re.compile(r"%\((\w+)\)s")


def identifier(name: str) -> str:
    """A database or table name, checked and back-quoted.

    Raises:
        ValueError: the name is not a plain identifier (letters, digits, ``_``).
    """
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain ClickHouse identifier: {name!r}")
    return f"`{name}`"


def literal(value: SqlValue) -> str:
    """The ClickHouse literal for ``value``."""
    if isinstance(value, bool):
        raise TypeError("booleans have no ClickHouse literal here; pass 0 or 1")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.translate(_ESCAPES) + "'"
    if isinstance(value, datetime.date):
        return f"'{value.isoformat()}'"
    if isinstance(value, tuple):
        # `x IN ('a')` is a one-element set in every release; `('a',)` is not old syntax.
        return "(" + ", ".join(literal(item) for item in value) + ")"
    return "[" + ", ".join(literal(item) for item in value) + "]"


def render(sql: str, params: Mapping[str, SqlValue] | None = None) -> str:
    """Replace every ``%(name)s`` in ``sql`` by the literal of ``params[name]``.

    Raises:
        KeyError: a placeholder has no value.
    """
    if not params:
        return sql
    return _PLACEHOLDER.sub(lambda match: literal(params[match.group(1)]), sql)


def values_list(rows: Iterable[tuple[SqlValue, ...]]) -> str:
    """``(a, b), (c, d)``: the text of an ``INSERT ... VALUES`` body."""
    return ", ".join(literal(row) for row in rows)
