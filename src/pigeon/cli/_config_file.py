"""``pigeon serve --config FILE``: the command line's options written down in a TOML file.

Each key is an option's name with ``_`` for ``-`` (``retention_days`` for
``--retention-days``), at the top level of the file; ``docs/pigeon.example.toml``
lists them all. A ``table`` key (``[alerts]``) has no option: it is kept whole
for its own parser, which names its keys in the same one-line way. The
command line wins over ``PIGEON_<OPTION>`` variables, which win over the file,
which wins over the defaults. A key set to ``""`` (or
``write_key = []``) is as if it were absent.

The file is checked whole before anything starts: an unknown key, a value of
the wrong TOML type or a file that is not TOML is one line naming the file and
the key. Bounds are checked by the same code as the command line's, so the
three sources give the same messages.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from pigeon.cli._commands import CommandError

__all__ = ["CONFIG_VARIABLE", "ConfigFile", "KeyKind", "config_path", "read_config_file"]

CONFIG_VARIABLE: Final = "PIGEON_CONFIG"
"""The environment variable naming the configuration file when ``--config`` is not given."""

KeyKind = Literal["string", "integer", "number", "strings", "table"]
"""The TOML type a key takes: ``strings`` is a string or an array of strings;
a ``table`` (``[alerts]``) is kept whole, for its own parser to check."""

FileValue = str | list[str]
"""A checked value, in the text form the command line would have given."""

_EXPECTED: Final[Mapping[KeyKind, str]] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "strings": "a string or an array of strings",
    "table": "a table",
}


@dataclass(frozen=True)
class ConfigFile:
    """The checked keys of one configuration file.

    Attributes:
        path: the file's path as the user gave it (messages name it so).
        values: key -> value as text (``strings`` keys: a list of texts).
        shared: other users (group or others) may read the file.
        tables: key -> the TOML table of each ``table`` key, unchecked.
    """

    path: str = ""
    values: Mapping[str, FileValue] = field(default_factory=dict)
    shared: bool = False
    tables: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def label(self, key: str) -> str:
        """How messages name ``key`` of this file: ``pigeon.toml: key 'port'``."""
        return f"{self.path}: key {key!r}"


def config_path(given: str | None, env: Mapping[str, str]) -> str | None:
    """The file to read: ``--config`` when given, else ``$PIGEON_CONFIG``, else none."""
    if given is not None:
        return given
    return env.get(CONFIG_VARIABLE, "").strip() or None


def read_config_file(path: str, kinds: Mapping[str, KeyKind]) -> ConfigFile:
    """Read and check the configuration file at ``path``.

    Args:
        path: the file, as the user gave it.
        kinds: every key the file may hold, and its TOML type.

    Raises:
        CommandError: the file cannot be read or is not TOML, or a key is
            unknown or of the wrong type (one line naming the file and the key).
    """
    try:
        with open(path, "rb") as file:
            shared = bool(os.fstat(file.fileno()).st_mode & (stat.S_IRGRP | stat.S_IROTH))
            document = tomllib.load(file)
    except FileNotFoundError:
        raise CommandError(f"{path}: no configuration file at this path") from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the configuration file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    values: dict[str, FileValue] = {}
    tables: dict[str, Mapping[str, object]] = {}
    for key, value in document.items():
        kind = kinds.get(key)
        if kind is None:
            raise CommandError(f"{path}: {_unknown(key, kinds)}")
        if kind == "table" and isinstance(value, dict):
            tables[key] = value
            continue
        text = _text(kind, value)
        if text is None:
            raise CommandError(
                f"{path}: key {key!r}: expected {_EXPECTED[kind]}, got {_describe(value)}"
            )
        values[key] = text
    return ConfigFile(path, values, shared, tables)


def _unknown(key: str, kinds: Mapping[str, KeyKind]) -> str:
    close = difflib.get_close_matches(key.replace("-", "_"), list(kinds), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r} ({hint}known keys: {', '.join(sorted(kinds))})"


def _text(kind: KeyKind, value: object) -> FileValue | None:
    """``value`` as the command line would have given it, or None when of the wrong type."""
    # bool is an int in Python; `port = true` is still the wrong type.
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "integer":
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return str(value) if is_number else None
    if kind == "table":
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [str(item) for item in value]
    return None


def _describe(value: object) -> str:
    """A value as it looks in TOML, for messages."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "an array" if all(isinstance(v, str) for v in value) else "an array of non-strings"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"
