"""``pigeon serve``: options and PIGEON_* variables, the admin token, retention at start, errors."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pigeon._wire import uuid7
from pigeon.collector.storage import StoredEvent, day_of
from pigeon.collector.storage._base import MS_PER_DAY
from tests.collector._running import RunningCollector, basic
from tests.collector.conftest import SyncStore
from tests.conftest import clean_subprocess_env


def serve(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``pigeon serve`` expecting it to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "pigeon", "serve", *args],
        cwd=cwd, env=clean_subprocess_env(**env), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def post(collector: RunningCollector, key: str, event: str = "ServerStarted") -> int:
    payload = {"batch": [{"event": event, "anonymousId": "i", "messageId": uuid7()}]}
    return collector.post("/v1/batch", payload, basic(key)).status


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "http"], {}, "--port: expected an integer, got 'http'"),
        ([], {"PIGEON_PORT": "99999"}, "PIGEON_PORT: must be between 0 and 65535, got 99999"),
        (["--retention-days", "-1"], {}, "--retention-days: must be >= 0, got -1"),
        (["--min-installs", "0"], {}, "--min-installs: must be >= 1, got 0"),
        (["--rate-limit", "fast"], {}, "--rate-limit: expected a number, got 'fast'"),
        (["--workers", "0"], {}, "--workers: must be between 1 and 64, got 0"),
        ([], {"PIGEON_WORKERS": "many"}, "PIGEON_WORKERS: expected an integer, got 'many'"),
        (["--write-key", "=argilla"], {}, "--write-key: invalid write key '=argilla'"),
        (["--write-key", "k=no-such-catalog"], {}, "unknown catalog 'no-such-catalog'"),
        (["--write-key", "k=./missing.toml"], {}, "no catalog file at this path"),
        (["--store", "mysql://db/x"], {}, "--store: unsupported store URL"),
        ([], {"PIGEON_STORE": "sqlite:///"}, "PIGEON_STORE: a SQLite store needs a file path"),
    ],
)
def test_bad_options_fail_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = serve("--write-key", "k", *args, cwd=tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.startswith("pigeon serve: error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_busy_port_and_an_unopenable_store_fail_cleanly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = serve("--port", port, "--write-key", "k", "--admin-token", "t", cwd=tmp_path)
    assert result.returncode == 1
    assert f"pigeon serve: error: cannot listen on 127.0.0.1:{port}" in result.stderr
    (tmp_path / "file").write_text("not a directory")
    result = serve(
        "--port", "0", "--store", "sqlite:///file/x.db", "--admin-token", "t", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "pigeon serve: error: --store: cannot open the SQLite store" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_admin_token_is_generated_once_and_kept_beside_the_data(tmp_path: Path) -> None:
    first = RunningCollector(tmp_path, ["--write-key", "k"])
    first.stop()
    token_file = tmp_path / "pigeon-data" / "admin-token"  # the default store's directory
    token = token_file.read_text().strip()
    assert len(token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token in first.stdout  # printed once...
    second = RunningCollector(tmp_path, ["--write-key", "k"])
    second.stop()
    assert token not in second.stdout  # ...and never again
    assert "admin token: read from" in second.stdout
    assert token_file.read_text().strip() == token
    assert (tmp_path / "pigeon-data" / "pigeon.db").exists()
    given = RunningCollector(tmp_path / "given", ["--write-key", "k", "--admin-token", "mine"])
    given.stop()
    assert not (tmp_path / "given" / "pigeon-data" / "admin-token").exists()
    assert "mine" not in given.stdout


def test_environment_variables_configure_keys_catalogs_and_store(tmp_path: Path) -> None:
    catalog = tmp_path / "other.toml"
    catalog.write_text(
        '[catalog]\nname = "otherapp"\nversion = "3"\n\n[events.Ping]\npurpose = "Counts pings."\n'
    )
    env = {
        "PIGEON_WRITE_KEY": f"key-a, key-b={catalog}",
        "PIGEON_STORE": f"sqlite:///{tmp_path / 'custom' / 'p.db'}",
        "PIGEON_ADMIN_TOKEN": "env-token",
        "PIGEON_RATE_LIMIT": "0",
    }
    collector = RunningCollector(tmp_path / "run", [], env)
    try:
        assert "2 write key(s) for argilla, otherapp" in collector.stdout
        assert post(collector, "key-a") == 200
        assert post(collector, "key-b") == 400  # ServerStarted is not in otherapp's catalog
        assert post(collector, "key-b", "Ping") == 200
        assert post(collector, "key-c") == 401
    finally:
        collector.stop()
    store = SyncStore(env["PIGEON_STORE"])
    try:
        assert store.apps() == ["argilla", "otherapp"]
        assert store.count("otherapp") == 1
    finally:
        store.close()


def test_catalog_names_the_catalog_of_plain_keys(tmp_path: Path) -> None:
    catalog = tmp_path / "mine.toml"
    catalog.write_text(
        '[catalog]\nname = "mine"\nversion = "1"\n\n[events.Ping]\npurpose = "Pings."\n'
    )
    args = ["--catalog", str(catalog), "--write-key", "k", "--admin-token", "t"]
    collector = RunningCollector(tmp_path / "run", args)
    try:
        assert post(collector, "k", "Ping") == 200
        assert post(collector, "k", "ServerStarted") == 400
    finally:
        collector.stop()


def test_the_command_line_wins_over_the_environment(tmp_path: Path) -> None:
    collector = RunningCollector(
        tmp_path, ["--write-key", "cli-key", "--admin-token", "t"], {"PIGEON_WRITE_KEY": "env-key"}
    )
    try:
        assert post(collector, "cli-key") == 200
        assert post(collector, "env-key") == 401
    finally:
        collector.stop()


def test_without_a_write_key_it_serves_but_says_ingestion_is_refused(tmp_path: Path) -> None:
    collector = RunningCollector(tmp_path, ["--admin-token", "t"])
    try:
        assert "no write key" in collector.stdout
        assert post(collector, "anything") == 401
        assert collector.request("GET", "/healthz").status == 200
    finally:
        collector.stop()


def test_retention_runs_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'p.db'}"
    today = day_of(int(time.time() * 1000))
    store = SyncStore(url)
    events = [
        StoredEvent(uuid7(), "argilla", "ServerStarted", "i", (today - age) * MS_PER_DAY + 1, 0)
        for age in (0, 1, 2, 10, 11, 40)
    ]
    store.write(events)
    before = store.totals("argilla", "all", today - 50, today)
    store.close()
    collector = RunningCollector.with_store(tmp_path / "run", url, "--retention-days", "5")
    try:
        reader = SyncStore(url)
        try:
            deadline = time.monotonic() + 30
            while reader.count() != 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert reader.count() == 3
            assert reader.totals("argilla", "all", today - 50, today) == before  # rollups kept
        finally:
            reader.close()
    finally:
        collector.stop()
    assert "retention: deleted 3 raw events older than 5 days" in collector.stderr


def test_serve_is_registered_without_importing_the_web_stack() -> None:
    heavy = ("fastapi", "uvicorn", "starlette", "msgspec")
    code = (
        "import json, sys, pigeon.cli; pigeon.cli.build_parser();"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    result = run_python("-c", code)
    assert json.loads(result.stdout) == []
    help_text = run_python("-m", "pigeon", "serve", "--help").stdout
    options = ("--host", "--port", "--store", "--catalog", "--write-key", "--admin-token")
    for option in (*options, "--retention-days", "--min-installs", "PIGEON_WRITE_KEY"):
        assert option in help_text


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=clean_subprocess_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_generated_token_never_starts_with_a_dash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import secrets

    from pigeon.collector._token import ensure_admin_token, new_token

    # One token in 64 starts with "-": on a command line it reads as an option.
    drawn = iter(["-abc", "-def", "good-token"] * 2)
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes: next(drawn))
    assert new_token() == "good-token"
    token, _, created = ensure_admin_token(tmp_path)
    assert (token, created) == ("good-token", True)
