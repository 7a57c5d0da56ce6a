"""What of an exception may be reported: its stable code and the kind of entity involved.

Never the message, the arguments, the path or the names in it: an exception's
message routinely carries user data (``Dataset 'patients-2024' not found``).
A :data:`ErrorDescriber` reads only what the host declares to be a code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, NamedTuple

__all__ = ["ErrorDescriber", "ErrorInfo", "describe_error"]

# A code is an identifier-like token (``argilla.api.errors::EntityNotFoundError``):
# no spaces, quotes or slashes, so that a message or a path can never pass for one.
_CODE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,127}")
_MAX_ENTITY: Final = 64


class ErrorInfo(NamedTuple):
    """The reportable facts of one error.

    Attributes:
        code: the error's stable code, e.g. ``argilla.api.errors::EntityNotFoundError``.
        entity_type: the kind of entity involved (``Dataset``, ``Workspace``), or ``None``.
    """

    code: str
    entity_type: str | None = None


ErrorDescriber = Callable[[BaseException], "ErrorInfo | None"]
"""Turns an exception into an :class:`ErrorInfo`, or ``None`` to report nothing."""


def describe_error(exc: BaseException) -> ErrorInfo:
    """The default describer: a declared code, else the exception's qualified class name.

    - ``code``: the exception's ``code`` attribute when it is a code-like string
      (letters, digits, ``_ . : -``, at most 128 characters), else
      ``module.ClassName`` (``builtins.KeyError``). A class name is code, not data.
    - ``entity_type``: the ``entity_type`` attribute, else the ``type`` attribute,
      when it is a class (its name is used) or a short identifier; else ``None``.

    Args:
        exc: the raised exception.

    Returns:
        The code and entity type; nothing else of the exception is read.
    """
    code = getattr(exc, "code", None)
    if not (isinstance(code, str) and _CODE.fullmatch(code)):
        cls = type(exc)
        code = f"{cls.__module__}.{cls.__qualname__}"
    return ErrorInfo(code, entity_type_of(exc))


def entity_type_of(exc: BaseException) -> str | None:
    """The entity kind an exception declares (``entity_type`` or ``type``), if any."""
    for attribute in ("entity_type", "type"):
        value = getattr(exc, attribute, None)
        if isinstance(value, type):
            return value.__name__
        # Only an identifier: a free-form string could be a name or a message.
        if isinstance(value, str) and value.isidentifier() and len(value) <= _MAX_ENTITY:
            return value
    return None
