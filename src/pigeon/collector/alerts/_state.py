"""The alert state: one SQLite file (WAL) of raised alerts and their deliveries.

``alerts.key`` is UNIQUE and an alert is inserted with its deliveries in one
transaction, so an alert is raised once however many evaluations, restarts
or processes see it. A delivery is claimed before it is sent: an UPDATE
sets its lease only where no live lease is, so two processes never send the
same delivery at once (a process that dies mid-send leaves a lease that
expires, and the delivery is tried again).

Every method is blocking (stdlib ``sqlite3``, a connection per call): call
them from a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pigeon.collector.alerts._rules import Alert

__all__ = ["AlertState", "Delivery", "DeliveryStatus"]

DeliveryStatus = Literal["pending", "sent", "failed"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    raised_ms INTEGER NOT NULL,
    rule TEXT NOT NULL,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    what TEXT NOT NULL,
    problem TEXT NOT NULL,
    version TEXT,
    numbers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert INTEGER NOT NULL REFERENCES alerts (id),
    webhook TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_ms INTEGER,
    PRIMARY KEY (alert, webhook)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_ms);
"""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert to send to one webhook (claimed: this process holds its lease)."""

    alert_id: int
    webhook: str
    attempts: int
    alert: Alert
    raised_ms: int


class AlertState:
    """The state file at ``path`` (created with its tables when missing)."""

    def __init__(self, path: Path) -> None:
        """Open (create) the file and its tables.

        Raises:
            sqlite3.Error: the file cannot be opened or is not a state file.
        """
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            yield conn
        finally:
            conn.close()

    def record(self, alert: Alert, webhooks: Sequence[str], now_ms: int) -> bool:
        """Store ``alert`` and a pending delivery per webhook; False when its key is known."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "INSERT INTO alerts (key, raised_ms, rule, app, kind, what, problem, "
                    "version, numbers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (
                        alert.key,
                        now_ms,
                        alert.rule,
                        alert.app,
                        alert.kind,
                        alert.what,
                        json.dumps(dict(alert.problem)),
                        alert.version,
                        json.dumps(dict(alert.numbers)),
                    ),
                )
                if cursor.rowcount != 1:
                    conn.execute("ROLLBACK")
                    return False
                conn.executemany(
                    "INSERT INTO deliveries (alert, webhook, status, next_ms) "
                    "VALUES (?, ?, 'pending', ?)",
                    [(cursor.lastrowid, hook, now_ms) for hook in webhooks],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return True

    def claim_due(self, now_ms: int, lease_ms: int, limit: int = 100) -> list[Delivery]:
        """Take the lease of pending deliveries due by ``now_ms`` (until ``now_ms + lease_ms``)."""
        with self._connect() as conn:
            rows = conn.execute(
                "UPDATE deliveries SET lease_ms = ? WHERE rowid IN (SELECT rowid FROM "
                "deliveries WHERE status = 'pending' AND next_ms <= ? AND lease_ms <= ? "
                "ORDER BY next_ms LIMIT ?) RETURNING alert, webhook, attempts",
                (now_ms + lease_ms, now_ms, now_ms, limit),
            ).fetchall()
            claimed = []
            for alert_id, webhook, attempts in rows:
                row = conn.execute(_SELECT_ALERT + " WHERE id = ?", (alert_id,)).fetchone()
                alert, raised_ms = _alert(row)
                claimed.append(Delivery(alert_id, webhook, attempts, alert, raised_ms))
        return claimed

    def finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        now_ms: int,
        *,
        error: str | None = None,
        next_ms: int | None = None,
    ) -> None:
        """Note one attempt: ``sent``, ``failed`` for good, or ``pending`` again at ``next_ms``."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, next_ms = ?, "
                "lease_ms = 0, last_error = ?, done_ms = ? WHERE alert = ? AND webhook = ?",
                (
                    status,
                    next_ms if next_ms is not None else now_ms,
                    error,
                    None if status == "pending" else now_ms,
                    delivery.alert_id,
                    delivery.webhook,
                ),
            )

    def next_due_ms(self) -> int | None:
        """When the earliest pending delivery is due (lease included), or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT min(max(next_ms, lease_ms)) FROM deliveries WHERE status = 'pending'"
            ).fetchone()
        return int(row[0]) if row[0] is not None else None

    def pending(self) -> int:
        """How many deliveries are still pending."""
        with self._connect() as conn:
            row = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'")
            return int(row.fetchone()[0])

    def history(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` alerts, newest first, each with its deliveries (JSON-ready)."""
        with self._connect() as conn:
            rows = conn.execute(
                _SELECT_ALERT + " ORDER BY raised_ms DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
            out = []
            for row in rows:
                alert, raised_ms = _alert(row)
                deliveries = conn.execute(
                    "SELECT webhook, status, attempts, last_error, done_ms FROM deliveries "
                    "WHERE alert = ? ORDER BY webhook",
                    (row[0],),
                ).fetchall()
                out.append(
                    {
                        "time_ms": raised_ms,
                        **alert.fields(),
                        "deliveries": [
                            {
                                "webhook": hook,
                                "status": status,
                                "attempts": attempts,
                                "last_error": error,
                                "time_ms": done,
                            }
                            for hook, status, attempts, error, done in deliveries
                        ],
                    }
                )
        return out


_SELECT_ALERT: Final = (
    "SELECT id, key, raised_ms, rule, app, kind, what, problem, version, numbers FROM alerts"
)


def _alert(row: tuple[Any, ...]) -> tuple[Alert, int]:
    _, key, raised_ms, rule, app, kind, what, problem, version, numbers = row
    alert = Alert(key, rule, kind, what, app, json.loads(problem), version, json.loads(numbers))
    return alert, int(raised_ms)
