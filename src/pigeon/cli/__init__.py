"""The ``pigeon`` command.

``status``, ``preview`` and ``catalog show`` work with the SDK alone: the
people who run them are a host app's users. ``serve``, ``report`` and ``demo``
need the ``collector`` extra and say so, with the install command, when it is
missing. Every subcommand lives in its own module exposing ``register(sub)``;
heavy imports happen inside the command, never at parse time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pigeon._version import __version__
from pigeon.cli import _catalog, _commands, _preview, _status

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the whole ``pigeon`` command."""
    parser = argparse.ArgumentParser(
        prog="pigeon",
        description="Privacy-first, anonymous telemetry: inspect what an app sends, "
        "or run the self-hosted collector.",
    )
    parser.add_argument("--version", action="version", version=f"pigeon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (_status, _preview, _catalog):
        module.register(sub)
    _commands.register_optional(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except _commands.CommandError as exc:
        sys.stderr.write(f"pigeon {args.command}: error: {exc}\n")
        return exc.status
