"""Consent versions: which catalog an install's users were told about.

Each install keeps, next to its id, the catalog version whose notice it saw
and the events and fields that catalog declared (``telemetry_consent``, mode
0600). When a later catalog adds events or fields, the notice is shown again,
naming exactly what was added; until it has been shown once, what was added is
withheld (dropped before it leaves the process).

When no notice can be shown (in CI, where telemetry runs only because the
user explicitly enabled it) an install that never recorded a consent accepts
the catalog in force (the explicit opt-in is the consent), while additions to a
catalog it already accepted wait for a notice.

File format (text, UTF-8)::

    pigeon-consent 1
    <catalog name>
    <catalog version>
    <event> or <event>.<property>, one a line
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from pigeon._files import unlink_quietly
from pigeon.catalog import Catalog

__all__ = ["CONSENT_FILENAME", "Consent", "Decision", "catalog_items", "decide", "read", "write"]

CONSENT_FILENAME = "telemetry_consent"
"""The consent record, next to ``telemetry_id``."""

_MAGIC = "pigeon-consent 1"


class Consent(NamedTuple):
    """What an install's users were told about."""

    catalog: str
    version: str
    items: frozenset[str]


class Decision(NamedTuple):
    """What to do at construction.

    Attributes:
        added: items to name in a notice now (empty: no notice about additions).
        withheld: items not to send until a notice has been shown.
        record: write the current catalog as the accepted one.
    """

    added: tuple[str, ...]
    withheld: frozenset[str]
    record: bool


def catalog_items(catalog: Catalog) -> frozenset[str]:
    """Every event (``Event``) and field (``Event.property``) the catalog declares."""
    items = set(catalog.events)
    for name, spec in catalog.events.items():
        items.update(f"{name}.{prop}" for prop in spec.properties)
    return frozenset(items)


def decide(
    previous: Consent | None, catalog: Catalog, *, first_run: bool, can_notify: bool
) -> Decision:
    """Compare what was accepted with the catalog in force."""
    items = catalog_items(catalog)
    if previous is None or previous.catalog != catalog.name:
        # A first run's own notice covers everything; an install older than consent
        # records (or another app's record) gets the whole list named once.
        added = () if first_run or not can_notify else tuple(sorted(items))
        return Decision(added, frozenset(), record=True)
    new = items - previous.items
    if not new:
        return Decision((), frozenset(), record=previous.version != catalog.version)
    if can_notify:
        return Decision(tuple(sorted(new)), frozenset(), record=True)
    return Decision((), frozenset(new), record=False)


def read(directory: Path) -> Consent | None:
    """The consent recorded in ``directory``; ``None`` when absent or unreadable."""
    try:
        lines = (directory / CONSENT_FILENAME).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return None
    if len(lines) < 3 or lines[0] != _MAGIC:
        return None
    return Consent(lines[1], lines[2], frozenset(line for line in lines[3:] if line))


def write(directory: Path, catalog: Catalog) -> bool:
    """Record ``catalog`` as accepted (atomically, mode 0600); False when it cannot be."""
    text = "\n".join([_MAGIC, catalog.name, catalog.version, *sorted(catalog_items(catalog))])
    path = directory / CONSENT_FILENAME
    tmp = path.with_name(f".{CONSENT_FILENAME}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (text + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except (OSError, ValueError):
        unlink_quietly(tmp)
        return False
    return True
