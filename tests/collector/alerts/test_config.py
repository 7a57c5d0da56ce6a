"""The [alerts] table: what it means, and one line naming the key for each kind of mistake."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pigeon.cli import build_parser
from pigeon.cli._serve import _config, _sources
from pigeon.collector.alerts import parse_alerts
from tests.cli.conftest import RunCommand, pigeon_main

__all__ = ["pigeon_main"]  # the fixture

HOOKS = """
[[alerts.webhooks]]
name = "ops"
url = "http://127.0.0.1:9/hook"
"""
NEW = """
[[alerts.rules]]
name = "new-errors"
kind = "new"
what = "error"
webhooks = ["ops"]
"""
RATE = """
[[alerts.rules]]
name = "worse"
kind = "rate"
what = "crash"
factor = 2
webhooks = ["ops"]
"""


def parse(text: str, data_dir: Path | None = Path("/data")) -> object:
    return parse_alerts(tomllib.loads(text)["alerts"], min_installs=5, data_dir=data_dir)


def test_defaults_and_values() -> None:
    config = parse("[alerts]\n" + HOOKS + NEW + RATE)
    assert config.interval == 300  # type: ignore[attr-defined]
    assert config.state == Path("/data/alerts.db")  # type: ignore[attr-defined]
    new, rate = config.rules  # type: ignore[attr-defined]
    assert (new.kind, new.what, new.app, new.days, new.webhooks) == (
        "new",
        "error",
        None,
        30,
        ("ops",),
    )
    assert (rate.kind, rate.factor, rate.min_installs, rate.days) == ("rate", 2.0, 5, 14)
    assert config.webhooks["ops"].format == "json"  # type: ignore[attr-defined]


MISTAKES = [
    ("[alerts]\ninterval = 0\n", "alerts.interval: must be greater than 0"),
    ("[alerts]\ninterval = 'often'\n", "alerts.interval: expected a number"),
    ("[alerts]\nevery = 3\n", "alerts.every: unknown key"),
    ("[alerts]\n" + HOOKS + HOOKS, "alerts.webhooks[1].name: 'ops' is given twice"),
    (
        "[alerts]\n" + HOOKS.replace("http://127.0.0.1:9/hook", "ftp://x/"),
        "alerts.webhooks[0].url: expected an http:// or https:// URL",
    ),
    ("[alerts]\n" + HOOKS + 'format = "xml"\n', "alerts.webhooks[0].format: expected one of"),
    ("[alerts]\n" + HOOKS + NEW + NEW, "alerts.rules[1].name: 'new-errors' is given twice"),
    ("[alerts]\n" + HOOKS + NEW.replace('"new"', '"often"'), "alerts.rules[0].kind: expected"),
    ("[alerts]\n" + HOOKS + NEW.replace('"error"', '"bug"'), "alerts.rules[0].what: expected"),
    (
        "[alerts]\n" + HOOKS + NEW.replace('["ops"]', '["pager"]'),
        "alerts.rules[0].webhooks: no webhook named 'pager'",
    ),
    ("[alerts]\n" + HOOKS + NEW.replace('["ops"]', "[]"), "alerts.rules[0].webhooks: expected"),
    ("[alerts]\n" + HOOKS + NEW + "days = 0\n", "alerts.rules[0].days: must be at least 1"),
    ("[alerts]\n" + HOOKS + NEW + "factor = 3\n", "alerts.rules[0].factor: unknown key"),
    (
        "[alerts]\n" + HOOKS + NEW + RATE.replace("factor = 2", "factor = 1"),
        "alerts.rules[1].factor: must be greater than 1",
    ),
    (
        "[alerts]\n" + HOOKS + RATE.replace("factor = 2\n", ""),
        "alerts.rules[0].factor: required for a rate rule",
    ),
    (
        "[alerts]\n" + HOOKS + RATE + "min_installs = 2\n",
        "alerts.rules[0].min_installs: must be at least the collector's min_installs (5)",
    ),
    ("[alerts]\nrules = 3\n", "alerts.rules: expected an array of tables"),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_each_mistake_names_its_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        parse(text)


def test_a_remote_store_needs_a_state_path() -> None:
    with pytest.raises(ValueError, match=r"^alerts\.state: required"):
        parse("[alerts]\n", data_dir=None)
    assert parse('[alerts]\nstate = "/s/a.db"\n', data_dir=None).state == Path("/s/a.db")  # type: ignore[attr-defined]


def test_serve_stops_with_one_line_naming_the_key(pigeon_main: RunCommand, tmp_path: Path) -> None:
    file = tmp_path / "pigeon.toml"
    file.write_text(
        f'store = "sqlite:///{tmp_path}/s/p.db"\nadmin_token = "t"\n[alerts]\n'
        + HOOKS
        + RATE.replace("factor = 2", "factor = 0.5")
    )
    result = pigeon_main("serve", "--config", str(file))
    assert result.status == 2
    assert result.err.strip().splitlines() == [
        f"pigeon serve: error: {file}: alerts.rules[0].factor: must be greater than 1, got 0.5"
    ]


def test_serve_keeps_the_state_beside_a_sqlite_store(tmp_path: Path) -> None:
    file = tmp_path / "pigeon.toml"
    file.write_text(f'store = "sqlite:///{tmp_path}/s/p.db"\nadmin_token = "t"\n[alerts]\n' + HOOKS)
    config = _config(
        _sources(build_parser().parse_args(["serve", "--config", str(file)]), {}), print
    )
    assert config.alerts is not None
    assert config.alerts.state == tmp_path / "s" / "alerts.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('alerts = "on"\n', "key 'alerts': expected a table, got \"on\""),
        (
            'store = "clickhouse://u:p@127.0.0.1:9000/db"\n[alerts]\n',
            "alerts.state: required when the store is not SQLite",
        ),
    ],
)
def test_serve_refuses_a_bad_alerts_table(
    pigeon_main: RunCommand, tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "pigeon.toml"
    file.write_text('admin_token = "t"\n' + text)
    result = pigeon_main("serve", "--config", str(file))
    assert result.status == 2
    assert result.err == f"pigeon serve: error: {file}: {message}\n"
