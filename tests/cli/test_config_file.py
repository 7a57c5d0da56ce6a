"""``pigeon serve --config FILE``: the example file, precedence, and one-line errors."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from pigeon.cli import build_parser
from pigeon.cli._commands import CommandError
from pigeon.cli._serve import FILE_KEYS, _config, _sources
from tests.cli.conftest import RunCommand
from tests.collector._running import RunningCollector, basic

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "pigeon.example.toml"


def serve_parser() -> argparse.ArgumentParser:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            parser: argparse.ArgumentParser = action.choices["serve"]
            return parser
    raise AssertionError("no serve command")


def serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_every_serve_option_is_a_key_of_the_file_and_of_the_example() -> None:
    options = {
        action.dest
        for action in serve_parser()._actions
        if action.option_strings and action.dest not in ("help", "config")
    }
    assert options == set(FILE_KEYS) - {"alerts"}  # a table, not an option
    with EXAMPLE.open("rb") as file:
        example = tomllib.load(file)
    assert set(example) == options
    for key in options:  # each key is documented by a comment just above it
        text = EXAMPLE.read_text()
        before = text.split(f"\n{key} = ", 1)[0].rstrip().splitlines()[-1]
        assert before.startswith("# "), f"{key} has no comment"


def test_the_example_file_gives_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said: list[str] = []
    sources = _sources(serve_args("--config", str(EXAMPLE)), {})
    config = _config(sources, said.append)
    assert sources.get("workers", 0, int) == 1
    assert (config.host, config.port, config.store_url) == (
        "127.0.0.1",
        8642,
        "sqlite:///./pigeon-data/pigeon.db",
    )
    assert (config.retention_days, config.min_installs, config.rate_limit) == (90, 5, 50.0)
    assert [(k, c.name) for k, c in config.write_keys.items()] == [("argilla-demo", "argilla")]
    assert config.admin_token == (tmp_path / "pigeon-data" / "admin-token").read_text().strip()
    assert "admin token generated" in said[0]


def test_command_line_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    file = tmp_path / "pigeon.toml"
    file.write_text('port = 1000\nretention_days = 7\nadmin_token = "file-token"\n')
    env = {"PIGEON_PORT": "2000", "PIGEON_ADMIN_TOKEN": "env-token"}
    config = _config(_sources(serve_args("--config", str(file), "--port", "3000"), env), print)
    assert (config.port, config.admin_token, config.retention_days) == (3000, "env-token", 7)
    assert config.min_installs == 5  # in no source: the default
    config = _config(_sources(serve_args("--config", str(file)), env), print)
    assert config.port == 2000
    config = _config(_sources(serve_args("--config", str(file)), {}), print)
    assert (config.port, config.admin_token) == (1000, "file-token")
    # PIGEON_CONFIG names the file when --config does not; --config wins over it.
    other = tmp_path / "other.toml"
    other.write_text('port = 4000\nadmin_token = "t"\n')
    by_variable = _config(_sources(serve_args(), {"PIGEON_CONFIG": str(file)}), print)
    assert by_variable.port == 1000
    args = serve_args("--config", str(other))
    assert _config(_sources(args, {"PIGEON_CONFIG": str(file)}), print).port == 4000


def test_write_keys_from_the_file_and_which_source_wins(tmp_path: Path) -> None:
    catalog = tmp_path / "mine.toml"
    catalog.write_text('[catalog]\nname = "mine"\nversion = "1"\n\n[events.Ping]\npurpose = "P."\n')
    file = tmp_path / "pigeon.toml"
    file.write_text(f'admin_token = "t"\nwrite_key = ["a", "b={catalog}"]\n')
    config = _config(_sources(serve_args("--config", str(file)), {}), print)
    assert {k: c.name for k, c in config.write_keys.items()} == {"a": "argilla", "b": "mine"}
    file.write_text('admin_token = "t"\nwrite_key = "single"\n')  # one key needs no array
    config = _config(_sources(serve_args("--config", str(file)), {}), print)
    assert list(config.write_keys) == ["single"]
    env = {"PIGEON_WRITE_KEY": "from-env"}
    config = _config(_sources(serve_args("--config", str(file)), env), print)
    assert list(config.write_keys) == ["from-env"]
    args = serve_args("--config", str(file), "--write-key", "from-cli")
    assert list(_config(_sources(args, env), print).write_keys) == ["from-cli"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('retention_days = "x"', """key 'retention_days': expected an integer, got "x\""""),
        ("retention_days = -1", "key 'retention_days': must be >= 0, got -1"),
        ("min_installs = 0", "key 'min_installs': must be >= 1, got 0"),
        ("port = true", "key 'port': expected an integer, got true"),
        ("port = 70000", "key 'port': must be between 0 and 65535, got 70000"),
        ("workers = 65", "key 'workers': must be between 1 and 64, got 65"),
        ("rate_limit = -0.5", "key 'rate_limit': must be a number >= 0, got '-0.5'"),
        ("rate_limit = inf", "key 'rate_limit': must be a number >= 0, got 'inf'"),
        ('rate_limit = "fast"', """key 'rate_limit': expected a number, got "fast\""""),
        ("host = 127", "key 'host': expected a string, got 127"),
        ("write_key = [1, 2]", "key 'write_key': expected a string or an array of strings"),
        ('write_key = ["=argilla"]', "key 'write_key': invalid write key '=argilla'"),
        ('write_key = ["k=no-such"]', "key 'write_key': unknown catalog 'no-such'"),
        ('store = "mysql://db/x"', "key 'store': unsupported store URL"),
        ("retention-days = 3", "unknown key 'retention-days' (did you mean 'retention_days'?"),
        ("[serve]\nport = 1", "unknown key 'serve'"),
        ("port = ", "not valid TOML: Invalid value (at line 2, column 8)"),
    ],
)
def test_a_bad_file_fails_with_one_line_naming_the_key(
    pigeon_main: RunCommand, tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "pigeon.toml"
    file.write_text(f'admin_token = "t"\n{content}\n')
    result = pigeon_main("serve", "--config", str(file))
    assert result.status == 2
    assert result.err.startswith(f"pigeon serve: error: {file}: ")
    assert message in result.err
    assert result.err.count("\n") == 1


def test_file_errors_in_a_child_process_are_one_line_too(
    pigeon_process: RunCommand, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"
    result = pigeon_process("serve", env={"PIGEON_CONFIG": str(missing)})
    assert result.status == 2
    assert result.err == f"pigeon serve: error: {missing}: no configuration file at this path\n"
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe port = 1")
    result = pigeon_process("serve", "--config", str(tmp_path / "binary.toml"))
    assert result.status == 2
    assert "not valid TOML" in result.err
    assert "Traceback" not in result.err


def test_a_collector_runs_from_a_file(tmp_path: Path) -> None:
    store = tmp_path / "data" / "p.db"
    file = tmp_path / "pigeon.toml"
    file.write_text(
        f'store = "sqlite:///{store}"\nwrite_key = ["file-key"]\n'
        'admin_token = "file-token"\nrate_limit = 0\nport = 1\n'
    )
    file.chmod(0o644)
    # --port 0 (added by RunningCollector) wins over the file's port.
    collector = RunningCollector(tmp_path / "run", ["--config", str(file)])
    try:
        payload = {"batch": [{"event": "ServerStarted", "anonymousId": "i", "messageId": "m1"}]}
        assert collector.post("/v1/batch", payload, basic("file-key")).status == 200
        assert collector.post("/v1/batch", payload, basic("other")).status == 401
        auth = {"Authorization": "Bearer file-token"}
        assert collector.request("GET", "/api/v1/stats/overview", headers=auth).status == 200
    finally:
        collector.stop()
    assert store.is_file()
    assert f"warning: {file} holds the admin token and other users may read it" in (
        collector.stdout
    )
    assert "file-token" not in collector.stdout
    file.chmod(0o600)
    quiet = RunningCollector(tmp_path / "again", ["--config", str(file)])
    quiet.stop()
    assert "warning" not in quiet.stdout


def test_the_metrics_address_from_each_source(tmp_path: Path) -> None:
    file = tmp_path / "pigeon.toml"
    file.write_text('admin_token = "t"\nmetrics_address = "0.0.0.0:9464"\n')
    config = _config(_sources(serve_args("--config", str(file)), {}), print)
    assert config.metrics_address == ("0.0.0.0", 9464)
    env = {"PIGEON_METRICS_ADDRESS": "[::1]:9100"}
    config = _config(_sources(serve_args("--config", str(file)), env), print)
    assert config.metrics_address == ("::1", 9100)
    given = serve_args("--config", str(file), "--metrics-address", "127.0.0.1:0")
    assert _config(_sources(given, env), print).metrics_address == ("127.0.0.1", 0)
    no_file = _config(_sources(serve_args("--admin-token", "t"), {}), print)
    assert no_file.metrics_address is None
    for bad, reason in (
        ("9464", "expected HOST:PORT"),
        ("host:99999", "must be between 0 and 65535"),
    ):
        with pytest.raises(CommandError, match=f"--metrics-address: {reason}"):
            _config(_sources(serve_args("--admin-token", "t", "--metrics-address", bad), {}), print)
