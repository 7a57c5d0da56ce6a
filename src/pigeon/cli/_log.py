"""``pigeon log --app NAME``: every batch that left this machine, from the local ledger."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from pigeon._identity import data_dir
from pigeon._ledger import LEDGER_DIRNAME, Ledger, LedgerEntry

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the ``log`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "log",
        help="show every telemetry batch that left this machine (the local ledger)",
        description="Show the local ledger: every batch of events that left this machine "
        "for the app's collector, exactly as it was sent (in local mode, every batch that "
        "would have been). Reads files only; sends nothing.\n\n"
        "Example:\n  pigeon log --app argilla\n  pigeon log --app argilla --json\n"
        "  pigeon log --app argilla --stats",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--app", required=True, help="the host app's name, e.g. argilla")
    parser.add_argument(
        "--home", default=None, help="the app's telemetry directory, if the app sets one"
    )
    parser.add_argument(
        "--json", action="store_true", help="JSON: one object per batch, the body included"
    )
    parser.add_argument("--stats", action="store_true", help="a summary instead of every batch")
    parser.add_argument(
        "--last", type=_positive, default=None, metavar="N", help="only the N latest batches"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the ledger; exit 0 (an empty or missing ledger is not an error)."""
    directory = data_dir(args.app, args.home) / LEDGER_DIRNAME
    ledger = Ledger(str(directory))
    entries = list(ledger.entries())
    if args.last is not None:
        entries = entries[-args.last :]
    if args.stats:
        print(_stats(entries, ledger, args.json))
    elif args.json:
        for entry in entries:
            print(json.dumps(entry._asdict(), ensure_ascii=False))
    elif not entries:
        print(f"no batch recorded in {directory}")
    else:
        print(_table(entries))
    return 0


def _table(entries: list[LedgerEntry]) -> str:
    rows = [("time (UTC)", "mode", "events", "names", "endpoint")]
    for entry in entries:
        names = Counter(str(m.get("event")) for m in entry.messages)
        summary = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in names.most_common())
        rows.append((entry.at, entry.mode, str(entry.events), summary, entry.endpoint or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    )


def _stats(entries: list[LedgerEntry], ledger: Ledger, as_json: bool) -> str:
    events: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    for entry in entries:
        modes[entry.mode] += 1
        events.update(str(m.get("event")) for m in entry.messages)
    files = ledger.files()
    summary: dict[str, Any] = {
        "directory": ledger.directory,
        "files": len(files),
        "batches": len(entries),
        "events": sum(events.values()),
        "body_bytes": sum(len(e.body.encode("utf-8")) for e in entries),
        "first": entries[0].at if entries else None,
        "last": entries[-1].at if entries else None,
        "by_mode": dict(modes),
        "by_event": dict(events.most_common()),
    }
    if as_json:
        return json.dumps(summary, indent=2)
    lines = [
        f"ledger:   {summary['directory']} ({summary['files']} file(s))",
        f"batches:  {summary['batches']} ({summary['events']} events, "
        f"{summary['body_bytes']} bytes as sent)",
        f"period:   {summary['first'] or '-'} to {summary['last'] or '-'}",
        "modes:    " + (", ".join(f"{m} {n}" for m, n in modes.items()) or "-"),
        "events:",
    ]
    lines += [f"  {name:32} {n}" for name, n in events.most_common()] or ["  -"]
    return "\n".join(lines)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value
