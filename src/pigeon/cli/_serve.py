"""``pigeon serve``: run the self-hosted collector.

Every option also reads ``PIGEON_<OPTION>`` from the environment (the command
line wins). The web stack is imported only when the command runs, so the SDK
commands work without the ``collector`` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pigeon.cli._commands import CommandError, require_collector

if TYPE_CHECKING:
    from pigeon.collector import CollectorConfig

__all__ = ["register", "run"]

_T = TypeVar("_T")

_DESCRIPTION = """\
Run the collector: Segment- and PostHog-compatible ingestion, validated
against each app's catalog, stored in SQLite (or ClickHouse).

Every option can also be set as PIGEON_<OPTION> (PIGEON_STORE, PIGEON_WRITE_KEY, ...);
the command line wins. PIGEON_WRITE_KEY may hold several keys separated by commas.

Example:
  pigeon serve --write-key my-app-key
  pigeon serve --write-key key-a --write-key key-b=./other-app.toml --retention-days 30
  PIGEON_WRITE_KEY=my-app-key PIGEON_STORE=sqlite:////var/lib/pigeon/pigeon.db pigeon serve
"""


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the self-hosted collector (needs pigeon[collector])",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
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
    parser.set_defaults(handler=run)


def _option(
    args: argparse.Namespace,
    env: Mapping[str, str],
    name: str,
    default: _T,
    convert: Callable[[str], _T],
) -> _T:
    value = getattr(args, name)
    flag = f"--{name.replace('_', '-')}"
    if value is None:
        variable = f"PIGEON_{name.upper()}"
        value = env.get(variable, "").strip()
        flag = variable
        if not value:
            return default
    try:
        return convert(value)
    except ValueError as exc:
        raise CommandError(f"{flag}: {exc}") from None


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
    workers = _option(args, os.environ, "workers", 1, _integer(1, 64))
    return _start(_config(args, os.environ, say), workers, say)


def _config(
    args: argparse.Namespace, env: Mapping[str, str], say: Callable[[str], None]
) -> CollectorConfig:
    """The collector config from options, environment and defaults (token generated if needed)."""
    from pigeon.collector import CollectorConfig, parse_write_keys
    from pigeon.collector._config import DEFAULT_CATALOG, DEFAULT_HOST, DEFAULT_PORT
    from pigeon.collector.storage import DEFAULT_STORE_URL, StoreError, data_dir_of
    from pigeon.errors import CatalogError

    store_url = _option(args, env, "store", DEFAULT_STORE_URL, str)
    catalog = _option(args, env, "catalog", DEFAULT_CATALOG, str)
    specs: list[str] = args.write_key or [
        s for s in env.get("PIGEON_WRITE_KEY", "").split(",") if s.strip()
    ]
    try:
        write_keys = parse_write_keys(specs, catalog)
    except (ValueError, CatalogError) as exc:
        raise CommandError(f"--write-key: {exc}") from None
    try:
        data_dir = data_dir_of(store_url)
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None
    host = _option(args, env, "host", DEFAULT_HOST, str)
    port = _option(args, env, "port", DEFAULT_PORT, _integer(0, 65535))
    retention_days = _option(args, env, "retention_days", 90, _integer(0))
    min_installs = _option(args, env, "min_installs", 5, _integer(1))
    rate_limit = _option(args, env, "rate_limit", 50.0, _rate)
    token = _option(args, env, "admin_token", "", str) or _stored_token(data_dir, say)
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
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


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
    from pigeon.collector._server import bind
    from pigeon.collector.storage import StoreError, open_store, redact_url

    try:
        listener = bind(config.host, config.port)
    except OSError as exc:
        where = f"{config.host}:{config.port}"
        raise CommandError(f"cannot listen on {where}: {exc.strerror or exc}", 1) from None
    try:
        store = open_store(config.store_url)
    except StoreError as exc:
        listener.close()
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
    how = "stop with Ctrl-C or SIGTERM"
    if workers > 1:
        asyncio.run(store.close())  # it opens: each worker opens its own
        how = f"{workers} worker processes; {how}"
    started = serve(
        config,
        store=store if workers == 1 else None,
        sock=listener,
        on_started=lambda url: say(f"listening on {url} ({how})"),
        on_stopped=lambda: say("stopped: every acknowledged event is committed"),
        workers=workers,
    )
    return 0 if started else 1


def _printer() -> Callable[[str], None]:
    def say(message: str) -> None:
        sys.stdout.write(f"pigeon serve: {message}\n")
        sys.stdout.flush()

    return say
