"""The ``pigeon`` command.

``status``, ``preview``, ``log`` and ``catalog`` (``show``, ``diff``, ``docs``)
work with the SDK alone: the people who run them are a host app's users and
its maintainers' CI. ``serve``, ``report`` and ``demo``
need the ``collector`` extra and say so, with the install command, when it is
missing. Every subcommand lives in its own module exposing ``register(sub)``;
heavy imports happen inside the command, never at parse time.

Exit statuses: 0 success, 1 failure of the command itself, 2 bad usage (an
unknown command, app or catalog; a malformed catalog), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pigeon._version import __version__
from pigeon.cli import _catalog, _commands, _log, _preview, _status

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the whole ``pigeon`` command."""
    parser = argparse.ArgumentParser(
        prog="pigeon",
        description="Privacy-first, anonymous telemetry: see what an app sends and why, "
        "or run the self-hosted collector.\n\n"
        "Example:\n  pigeon status --app argilla",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pigeon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (_status, _preview, _catalog, _log):
        module.register(sub)
    _commands.register_optional(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (it never exits itself).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse printed
        return exc.code if isinstance(exc.code, int) else 2
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pigeon preview | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except _commands.CommandError as exc:
        message = " ".join(str(exc).split())
        command = getattr(args, "command_name", args.command)
        sys.stderr.write(f"pigeon {command}: error: {message}\n")
        return exc.status
