"""Crash signatures: what of an exception may leave the process, and nothing more.

An exception becomes three facts (the ``CrashReported`` event's properties):

- ``exception``: its class, ``module.QualName`` (builtins without a module);
- ``frames``: where it was raised, outermost first, each ``module:function:line``
  of the app's own package; each run of consecutive frames of any other code
  (the framework, libraries, the standard library) is one ``<other>`` marker;
  at most ``max_frames``, keeping the innermost;
- ``signature``: the first 16 hex digits of SHA-256 over the class and the
  frames without their line numbers, so an edit that only shifts lines keeps it.
  Both are hashed exactly as they are sent (a class name longer than the
  catalog allows is cut first), so anyone can recompute the signature from a
  stored event, and the collector refuses one that does not match
  (:func:`signature_problem`).

Read from each frame: its module's ``__name__``, its code's ``co_qualname`` and
its line number. Never the message, arguments, locals, file names or paths.

Speed: a failing request pays for this on its own thread, so the work per
exception is one walk of ``tb_next`` building a key of code object ids; each
code object is described once, and the layout and signature of each distinct
stack are computed once, both in small bounded memos.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import CodeType, TracebackType
from typing import Final, NamedTuple

from pigeon.catalog import FRAME_PATTERN, OTHER_FRAMES

__all__ = [
    "CRASH_EVENT",
    "Crash",
    "CrashDescriber",
    "crash_signature",
    "exception_name",
    "signature_problem",
]

CRASH_EVENT: Final = "CrashReported"
"""The catalog event of an unexpected exception (what ``Client.report_exception`` sends)."""

_MEMO_SIZE: Final = 512
"""Entries per memo; when full it is emptied and refilled by the stacks still seen."""


class Crash(NamedTuple):
    """The reportable facts of one exception (the ``CrashReported`` properties)."""

    exception: str
    frames: tuple[str, ...]
    signature: str

    def properties(self) -> dict[str, object]:
        """The event's properties."""
        return {"exception": self.exception, "frames": self.frames, "signature": self.signature}


def exception_name(cls: type[BaseException]) -> str:
    """``module.QualName`` of an exception class; builtins by their name alone."""
    module = getattr(cls, "__module__", None)
    if module == "builtins" or not isinstance(module, str):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def crash_signature(exception: str, frames: tuple[str, ...]) -> str:
    """16 hex digits of SHA-256 over ``exception`` and ``frames`` without line numbers.

    The hashed text is the class then each ``module:function`` (or ``<other>``),
    one per line, UTF-8: anyone can recompute it from a stored event.
    """
    return _hash(exception, [f if f == OTHER_FRAMES else f.rpartition(":")[0] for f in frames])


def signature_problem(properties: Mapping[str, object]) -> str | None:
    """Why a ``CrashReported``'s signature is not its exception's and frames' (``None``: it is).

    An event without all three (a catalog may declare fewer) cannot be checked
    and passes. ``properties`` are as validated: ``frames`` a tuple of strings.
    """
    exception = properties.get("exception")
    frames = properties.get("frames")
    signature = properties.get("signature")
    if not isinstance(exception, str) or not isinstance(frames, tuple) or signature is None:
        return None
    if signature != crash_signature(exception, frames):
        return "not the signature of this exception and frames (see pigeon's docs/sdk.md)"
    return None


def _hash(exception: str, places: list[str]) -> str:
    """The signature of a class and its frames' ``module:function`` (markers as they are)."""
    return hashlib.sha256("\n".join([exception, *places]).encode("utf-8")).hexdigest()[:16]


class _Layout(NamedTuple):
    """What a distinct stack always reports; only its line numbers vary."""

    exception: str
    template: tuple[str, ...]  # a marker, or ``module:function:`` awaiting its line
    lines_from: tuple[tuple[int, int], ...]  # (position in template, traceback index)
    signature: str
    keep_alive: tuple[object, ...]  # the class and code objects whose ids make the key


class CrashDescriber:
    """Turns exceptions into :class:`Crash` facts for one app package.

    Example::

        describe = CrashDescriber("argilla_server", max_frames=32, max_length=200)
        crash = describe(exc)
    """

    __slots__ = (
        "_codes",
        "_layouts",
        "_prefix",
        "max_exception",
        "max_frames",
        "max_length",
        "package",
    )

    def __init__(
        self, package: str, *, max_frames: int, max_length: int, max_exception: int | None = None
    ) -> None:
        """Frames of ``package`` and its submodules are the app's own; the catalog sets the bounds.

        Args:
            package: the app's top-level package (``argilla_server``).
            max_frames: the most frames reported (the innermost are kept).
            max_length: the longest frame; a longer one is reported as ``<other>``.
            max_exception: the longest class name sent (cut to it, as the
                catalog cuts a string, before it is hashed); ``None``: no bound.
        """
        self.package = package
        self.max_frames = max_frames
        self.max_length = max_length
        self.max_exception = max_exception
        self._prefix = f"{package}."
        # id(code) -> "module:function:" of an app frame, or None for other code.
        # The code object is kept alive in the value so that its id is never reused.
        self._codes: dict[int, tuple[CodeType, str | None]] = {}
        self._layouts: dict[tuple[int, ...], _Layout] = {}

    def __call__(self, exc: BaseException) -> Crash:
        """The facts of ``exc``, from its class and its traceback's frames."""
        tracebacks: list[TracebackType] = []
        key = [id(type(exc))]
        tb = exc.__traceback__
        while tb is not None:
            tracebacks.append(tb)
            key.append(id(tb.tb_frame.f_code))
            tb = tb.tb_next
        stack = tuple(key)
        layout = self._layouts.get(stack)
        if layout is None:
            layout = self._layout(type(exc), tracebacks)
            if len(self._layouts) >= _MEMO_SIZE:
                self._layouts.clear()
            self._layouts[stack] = layout
        frames = list(layout.template)
        for position, index in layout.lines_from:
            frames[position] += str(tracebacks[index].tb_lineno or 0)
        return Crash(layout.exception, tuple(frames), layout.signature)

    def _layout(self, cls: type[BaseException], tracebacks: list[TracebackType]) -> _Layout:
        """Describe a stack not seen before: collapse, truncate, hash."""
        template: list[str] = []
        lines_from: list[tuple[int, int]] = []
        codes: list[object] = [cls]
        for index, tb in enumerate(tracebacks):
            code = tb.tb_frame.f_code
            codes.append(code)
            prefix = self._describe_code(code, tb.tb_frame.f_globals.get("__name__"))
            if prefix is None:
                if not template or template[-1] != OTHER_FRAMES:
                    template.append(OTHER_FRAMES)
            else:
                lines_from.append((len(template), index))
                template.append(prefix)
        cut = max(0, len(template) - self.max_frames)
        kept = tuple(template[cut:])
        moved = tuple((position - cut, index) for position, index in lines_from if position >= cut)
        exception = exception_name(cls)[: self.max_exception]
        signature = _hash(exception, [f if f == OTHER_FRAMES else f[:-1] for f in kept])
        return _Layout(exception, kept, moved, signature, tuple(codes))

    def _describe_code(self, code: CodeType, module: object) -> str | None:
        """``module:function:`` when ``code`` is the app's and reportable, else ``None``."""
        known = self._codes.get(id(code))
        if known is not None and known[0] is code:
            return known[1]
        prefix: str | None = None
        if isinstance(module, str) and (module == self.package or module.startswith(self._prefix)):
            prefix = f"{module}:{code.co_qualname}:"
            # A frame that is too long, or not made of plain names (a module or
            # function named outside ASCII identifiers), is reported as other code.
            # 9 digits: the longest line number the pattern accepts.
            sample = f"{prefix}1"
            if len(prefix) + 9 > self.max_length or FRAME_PATTERN.fullmatch(sample) is None:
                prefix = None
        if len(self._codes) >= _MEMO_SIZE:
            self._codes.clear()
        self._codes[id(code)] = (code, prefix)
        return prefix
