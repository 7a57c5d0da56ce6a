"""``pigeon demo``: a collector, a reference server's simulated installs, and the dashboard."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pigeon.cli._commands import CommandError, require_collector

__all__ = ["register"]

_MAX_INSTALLS = 64
_MAX_PARALLEL = 8
_MAX_SECONDS = 10**7  # about four months; also keeps waits finite


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run a collector fed by simulated installs of a reference server",
        description="Start a collector on SQLite, then play several simulated installs of "
        "the reference labelling server (each a real server process with its own install "
        "id, version and simulated system) through real HTTP: API calls, bulk uploads, "
        "errors and trainer runs. Prints the dashboard URL and admin token, replays "
        "traffic until Ctrl-C, then stops every process it started.\n\n"
        "Example:\n  pigeon demo\n  pigeon demo --once --installs 4 --data ./demo-data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("pigeon-data") / "demo",
        help="where the SQLite store, logs and install folders go (default: ./pigeon-data/demo)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the collector's bind address")
    parser.add_argument(
        "--port",
        type=_bounded_int("--port", 1, 65535),
        default=None,
        help="the collector's port (default: 8642, or a free port when 8642 is taken)",
    )
    parser.add_argument(
        "--installs",
        type=_bounded_int("--installs", 1, _MAX_INSTALLS),
        default=8,
        help="how many installs to simulate (default: 8; one in eight has opted out)",
    )
    parser.add_argument(
        "--parallel",
        type=_bounded_int("--parallel", 1, _MAX_PARALLEL),
        default=2,
        help="how many installs run at once (default: 2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed plays the same traffic")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="play one round, then stop")
    when.add_argument(
        "--duration",
        type=_positive_float("--duration"),
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--interval",
        type=_positive_float("--interval"),
        default=30.0,
        help="seconds between rounds of traffic (default: 30)",
    )
    parser.add_argument(
        "--admin-token", default=None, help="the dashboard's admin token (default: a random one)"
    )
    parser.add_argument(
        "--min-installs",
        type=_bounded_int("--min-installs", 1, 1000),
        default=2,
        help="buckets with fewer distinct installs are shown as 'other' (default: 2)",
    )
    parser.add_argument(
        "--real-runtime",
        action="store_true",
        help="report this machine's system and Python instead of simulated ones",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when stopped, 1 when a part could not start."""
    require_collector("pigeon demo")
    from pigeon.demo._processes import DemoError
    from pigeon.demo._runner import DemoOptions, run_demo

    options = DemoOptions(
        data_dir=args.data,
        host=args.host,
        port=args.port,
        installs=args.installs,
        parallel=args.parallel,
        seed=args.seed,
        once=args.once,
        duration=args.duration,
        interval=args.interval,
        admin_token=args.admin_token,
        min_installs=args.min_installs,
        real_runtime=args.real_runtime,
    )
    try:
        return run_demo(options)
    except DemoError as exc:
        raise CommandError(str(exc), status=1) from None
    except OSError as exc:
        raise CommandError(f"{exc.strerror or exc}: {exc.filename or args.data}", 1) from None


def _bounded_int(option: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{option} must be between {low} and {high}")
        return value

    return parse


def _positive_float(option: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be a number of seconds") from None
        if not 0 < value < _MAX_SECONDS:
            raise argparse.ArgumentTypeError(
                f"{option} must be more than 0 and less than {_MAX_SECONDS} seconds"
            )
        return value

    return parse
