"""``pigeon serve``: run the self-hosted collector.

Every option also reads ``PIGEON_<OPTION>`` from the environment and a key of
the ``--config`` file (see ``_config_file``): the command line wins, then the
environment, then the file, then the defaults. The web stack is imported only
when the command runs, so the SDK commands work without the ``collector`` extra.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pigeon.cli._commands import CommandError, require_collector
from pigeon.cli._config_file import (
    CONFIG_VARIABLE,
    ConfigFile,
    KeyKind,
    config_path,
    read_config_file,
)

if TYPE_CHECKING:
    from pigeon.collector import CollectorConfig
    from pigeon.collector.alerts import AlertsConfig

__all__ = ["FILE_KEYS", "register", "run"]

_T = TypeVar("_T")

_DESCRIPTION = """\
Run the collector: Segment- and PostHog-compatible ingestion, validated
against each app's catalog, stored in SQLite (or ClickHouse).

Every option can also be set as PIGEON_<OPTION> (PIGEON_STORE, PIGEON_WRITE_KEY, ...)
or as a key of the --config file (retention_days = 30; see docs/pigeon.example.toml).
The command line wins, then the environment, then the file. PIGEON_WRITE_KEY may
hold several keys separated by commas.

Example:
  pigeon serve --write-key my-app-key
  pigeon serve --config /etc/pigeon/pigeon.toml
  pigeon serve --write-key key-a --write-key key-b=./other-app.toml --retention-days 30
  PIGEON_WRITE_KEY=my-app-key PIGEON_STORE=sqlite:////var/lib/pigeon/pigeon.db pigeon serve
"""


FILE_KEYS: Final[dict[str, KeyKind]] = {
    "host": "string",
    "port": "integer",
    "store": "string",
    "catalog": "string",
    "write_key": "strings",
    "admin_token": "string",
    "retention_days": "integer",
    "min_installs": "integer",
    "rate_limit": "number",
    "workers": "integer",
    "metrics_address": "string",
    "alerts": "table",
}
"""The keys of a configuration file: one per option, and the TOML type each takes."""


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the self-hosted collector (needs pigeon[collector])",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--config",
        metavar="FILE",
        help=f"read options from this TOML file (default: ${CONFIG_VARIABLE}, else none); "
        "options and PIGEON_* variables win over it",
    )
    add("--host", help="address to listen on (default 127.0.0.1)")
    add("--port", help="port to listen on, 0 for any free port (default 8642)")
    add("--store", help="store URL (default sqlite:///./pigeon-data/pigeon.db)")
    add("--catalog", help="catalog name or path for keys given without one (default argilla)")
    add(
        "--write-key",
        action="append",
        metavar="KEY[=CATALOG]",
        help="accept events sent with KEY, validated by CATALOG (default: --catalog); repeatable",
    )
    add("--admin-token", help="token of the dashboard and stats API (default: generated once)")
    add("--retention-days", help="delete raw events older than N days, 0 = never (default 90)")
    add("--min-installs", help="show buckets with fewer distinct installs as 'other' (default 5)")
    add("--rate-limit", help="requests per second per client address, 0 = off (default 50)")
    add(
        "--workers",
        help="collector processes sharing the port, up to 64; one per CPU core gives the most "
        "ingestion throughput (default 1)",
    )
    add(
        "--metrics-address",
        metavar="HOST:PORT",
        help="also serve GET /metrics, without the admin token, on this address (keep it "
        "private; default: /metrics on the main port only, with the token)",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class _Sources:
    """Where option values come from, in order: command line, environment, file."""

    args: argparse.Namespace
    env: Mapping[str, str]
    file: ConfigFile

    def text(self, name: str) -> tuple[str, str] | None:
        """The value of option ``name`` as text and the label of its source, or None."""
        value = getattr(self.args, name)
        if value is not None:
            return value, f"--{name.replace('_', '-')}"
        variable = f"PIGEON_{name.upper()}"
        value = self.env.get(variable, "").strip()
        if value:
            return value, variable
        in_file = self.file.values.get(name)
        if isinstance(in_file, str) and in_file.strip():
            return in_file.strip(), self.file.label(name)
        return None

    def get(self, name: str, default: _T, convert: Callable[[str], _T]) -> _T:
        """Option ``name`` converted, or ``default`` when no source sets it."""
        found = self.text(name)
        if found is None:
            return default
        value, label = found
        try:
            return convert(value)
        except ValueError as exc:
            raise CommandError(f"{label}: {exc}") from None

    def write_keys(self) -> tuple[list[str], str]:
        """The ``KEY[=CATALOG]`` specs and the label of their source (an empty list: none)."""
        if self.args.write_key:
            return list(self.args.write_key), "--write-key"
        from_env = [s for s in self.env.get("PIGEON_WRITE_KEY", "").split(",") if s.strip()]
        if from_env:
            return from_env, "PIGEON_WRITE_KEY"
        in_file = self.file.values.get("write_key", [])
        specs = [in_file] if isinstance(in_file, str) else in_file
        return [s for s in specs if s.strip()], self.file.label("write_key")


def _sources(args: argparse.Namespace, env: Mapping[str, str]) -> _Sources:
    path = config_path(args.config, env)
    file = ConfigFile() if path is None else read_config_file(path, FILE_KEYS)
    return _Sources(args, env, file)


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return convert


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):  # [::1]:9100
        host = host[1:-1]
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, _integer(0, 65535)(port.strip())


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"must be a number >= 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Start the collector and serve until SIGTERM or Ctrl-C."""
    require_collector("pigeon serve")
    say = _printer()
    sources = _sources(args, os.environ)
    if sources.file.shared and str(sources.file.values.get("admin_token", "")).strip():
        say(
            f"warning: {sources.file.path} holds the admin token and other users may read "
            "it; make it readable by this user only (chmod 600)"
        )
    workers = sources.get("workers", 1, _integer(1, 64))
    return _start(_config(sources, say), workers, say)


def _config(sources: _Sources, say: Callable[[str], None]) -> CollectorConfig:
    """The collector config from every source and the defaults (token generated if needed)."""
    from pigeon.collector import CollectorConfig, parse_write_keys
    from pigeon.collector._config import DEFAULT_CATALOG, DEFAULT_HOST, DEFAULT_PORT
    from pigeon.collector.storage import DEFAULT_STORE_URL, StoreError, data_dir_of
    from pigeon.errors import CatalogError

    store_url = sources.get("store", DEFAULT_STORE_URL, str)
    catalog = sources.get("catalog", DEFAULT_CATALOG, str)
    specs, keys_label = sources.write_keys()
    try:
        write_keys = parse_write_keys(specs, catalog)
    except (ValueError, CatalogError) as exc:
        raise CommandError(f"{keys_label}: {exc}") from None
    try:
        data_dir = data_dir_of(store_url)
    except StoreError as exc:
        _, store_label = sources.text("store") or ("", "--store")
        raise CommandError(f"{store_label}: {exc}") from None
    host = sources.get("host", DEFAULT_HOST, str)
    port = sources.get("port", DEFAULT_PORT, _integer(0, 65535))
    retention_days = sources.get("retention_days", 90, _integer(0))
    min_installs = sources.get("min_installs", 5, _integer(1))
    rate_limit = sources.get("rate_limit", 50.0, _rate)
    metrics_address = sources.get("metrics_address", None, _address)
    alerts = _alerts(sources.file, min_installs, data_dir)
    token = sources.get("admin_token", "", str) or _stored_token(data_dir, say)
    try:
        return CollectorConfig(
            write_keys=write_keys,
            store_url=store_url,
            admin_token=token,
            retention_days=retention_days,
            min_installs=min_installs,
            rate_limit=rate_limit,
            host=host,
            port=port,
            metrics_address=metrics_address,
            alerts=alerts,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _alerts(file: ConfigFile, min_installs: int, data_dir: Path | None) -> AlertsConfig | None:
    """The file's ``[alerts]`` table, checked (only a file can hold one)."""
    from pigeon.collector.alerts import parse_alerts

    table = file.tables.get("alerts")
    if table is None:
        return None
    try:
        return parse_alerts(table, min_installs=min_installs, data_dir=data_dir)
    except ValueError as exc:
        raise CommandError(f"{file.path}: {exc}") from None


def _stored_token(data_dir: Path | None, say: Callable[[str], None]) -> str:
    from pigeon.collector._token import ensure_admin_token

    if data_dir is None:
        raise CommandError(
            "--admin-token: required with a remote store (collectors sharing it must share "
            "one token); set --admin-token or PIGEON_ADMIN_TOKEN"
        )
    try:
        token, path, created = ensure_admin_token(data_dir)
    except OSError as exc:
        raise CommandError(f"cannot keep the admin token in {data_dir}: {exc}") from None
    if created:
        say(f"admin token generated and saved in {path} (shown only this once):\n  {token}")
    else:
        say(f"admin token: read from {path}")
    return token


def _start(config: CollectorConfig, workers: int, say: Callable[[str], None]) -> int:
    import asyncio

    from pigeon.collector import serve
    from pigeon.collector.storage import StoreError, open_store, redact_url

    listener = _listen(config.host, config.port)
    metrics_listener = None
    if config.metrics_address is not None:
        try:
            metrics_listener = _listen(*config.metrics_address)
        except CommandError:
            listener.close()
            raise
        if metrics_listener.getsockname()[1] == listener.getsockname()[1]:
            listener.close()
            metrics_listener.close()
            raise CommandError("--metrics-address: needs another port than --port")
    try:
        _migrate(config.store_url, say)
        store = open_store(config.store_url)
    except StoreError as exc:
        listener.close()
        if metrics_listener is not None:
            metrics_listener.close()
        raise CommandError(f"--store: {exc}", 1) from None
    apps = sorted({c.name for c in config.write_keys.values()})
    keys = (
        f"{len(config.write_keys)} write key(s) for {', '.join(apps)}"
        if config.write_keys
        else "no write key, so ingestion answers 401 (pass --write-key KEY)"
    )
    days = config.retention_days
    kept = f"raw events kept {days} days" if days else "raw events kept forever"
    say(f"store {redact_url(config.store_url)}; {keys}; {kept}")
    if metrics_listener is not None:
        say(f"metrics on {_url_of(metrics_listener)}/metrics (no token: keep this address private)")
    how = "stop with Ctrl-C or SIGTERM"
    if workers > 1:
        asyncio.run(store.close())  # it opens: each worker opens its own
        how = f"{workers} worker processes; {how}"
    started = serve(
        config,
        store=store if workers == 1 else None,
        sock=listener,
        metrics_sock=metrics_listener,
        on_started=lambda url: say(f"listening on {url} ({how})"),
        on_stopped=lambda: say("stopped: every acknowledged event is committed"),
        workers=workers,
    )
    return 0 if started else 1


def _migrate(url: str, say: Callable[[str], None]) -> None:
    """Migrate an older SQLite store first, saying so (a backup of a big store takes a while).

    Opening the store would migrate it too, silently; a ClickHouse store's
    migration is a few idempotent statements that opening runs.
    """
    from pigeon.collector.storage._migration import migrate_store
    from pigeon.collector.storage._open import scheme_of

    if scheme_of(url) != "sqlite":
        return
    done = migrate_store(url, say=say)
    if done.needed:
        say(
            f"store migrated from layout {done.source} to {done.target} in "
            f"{done.seconds:.1f} s (backup at {done.backup})"
        )


def _listen(host: str, port: int) -> socket.socket:
    from pigeon.collector._server import bind

    try:
        return bind(host, port)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1) from None


def _url_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _printer() -> Callable[[str], None]:
    def say(message: str) -> None:
        sys.stdout.write(f"pigeon serve: {message}\n")
        sys.stdout.flush()

    return say
