"""Render ``docs/reliability.md`` from the hardening suite's results.

The hardening tests (``tests/hardening``) record what they tried, whether it
held and the figures they measured into ``test-output/reliability.json``;
this script turns that file into the table of ``docs/reliability.md``. The
suite calls it at the end of every run that executed hardening tests, so the
committed page is the one the last run produced.

Usage::

    python benchmarks/reliability_report.py [RESULTS_JSON] [OUTPUT_MD]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "test-output" / "reliability.json"
OUTPUT = ROOT / "docs" / "reliability.md"

_HEADER = """# Reliability: what was tried and what held

This page is written by the hardening suite (`tests/hardening`), not by hand:
each test records what it tried, whether the collector or the SDK held, and
the figures it measured; `benchmarks/reliability_report.py` renders them.
Regenerate it with:

```
.venv/bin/pytest tests/hardening
```

(`PIGEON_SOAK_SECONDS=300` makes the load run a 5-minute soak.)

"""

_AREAS = ("fuzzing", "abuse", "auth", "load", "faults", "sdk", "privacy")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _figures(figures: dict[str, Any]) -> str:
    parts = []
    for name, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def render(results: dict[str, Any]) -> str:
    """The Markdown page for ``results`` (``{"run": {...}, "checks": {id: {...}}}``)."""
    run = results.get("run", {})
    checks: dict[str, dict[str, Any]] = results.get("checks", {})
    lines = [_HEADER]
    if run:
        lines.append(
            f"Last run: {run.get('finished', '?')} UTC, Python {run.get('python', '?')}, "
            f"{run.get('cpus', '?')} CPUs.\n"
        )
    held = sum(1 for c in checks.values() if c.get("held"))
    lines.append(f"{held} of {len(checks)} checks held.\n")
    order = {area: n for n, area in enumerate(_AREAS)}
    ranked = sorted(checks.items(), key=lambda kv: (order.get(kv[1].get("area", ""), 99), kv[0]))
    lines.append("| area | what was tried | held | figures |")
    lines.append("|---|---|---|---|")
    for _, check in ranked:
        verdict = "yes" if check.get("held") else f"**no**: {_cell(check.get('failure', ''))}"
        lines.append(
            f"| {_cell(check.get('area', ''))} | {_cell(check.get('tried', ''))} | "
            f"{verdict} | {_cell(_figures(check.get('figures', {})))} |"
        )
    notes = [c for _, c in ranked if c.get("note")]
    if notes:
        lines.append("\n## Notes\n")
        lines.extend(f"- {_cell(c['tried'])}: {_cell(c['note'])}" for c in notes)
    return "\n".join(lines) + "\n"


def record(nodeid: str, check: dict[str, Any]) -> None:
    """Add or replace one check in the results file and render the page again.

    For runs outside pytest (``benchmarks/bench_soak.py``); ``check`` has the
    keys ``area``, ``tried``, ``held``, ``failure``, ``figures``, ``note``.
    """
    results: dict[str, Any] = {"checks": {}}
    if RESULTS.exists():
        results = json.loads(RESULTS.read_text())
    results.setdefault("checks", {})[nodeid] = check
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))
    OUTPUT.write_text(render(results), encoding="utf-8")


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else RESULTS
    target = Path(argv[2]) if len(argv) > 2 else OUTPUT
    if not source.exists():
        print(f"no results at {source}: run the hardening suite first", file=sys.stderr)
        return 1
    target.write_text(render(json.loads(source.read_text())), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
