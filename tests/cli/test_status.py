"""``pigeon status``: tells the truth about every opt-out in force, and creates nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import RunCommand


def test_enabled_by_default(pigeon_cli: RunCommand, data_home: Path) -> None:
    result = pigeon_cli("status", "--app", "argilla")
    assert result.status == 0, result.err
    assert "telemetry:    enabled" in result.out
    assert "because:" not in result.out
    assert f"{data_home / 'argilla' / 'telemetry_id'} (not created)" in result.out
    assert "ARGILLA_ENABLE_TELEMETRY=0 or DO_NOT_TRACK=1" in result.out
    assert "pigeon preview --app argilla" in result.out
    assert "argilla v2 (6 events" in result.out
    assert not data_home.exists()


@pytest.mark.parametrize(
    ("env", "because"),
    [
        ({"ARGILLA_ENABLE_TELEMETRY": "0"}, "ARGILLA_ENABLE_TELEMETRY=0"),
        ({"ARGILLA_ENABLE_TELEMETRY": "False"}, "ARGILLA_ENABLE_TELEMETRY=False"),
        ({"DO_NOT_TRACK": "1"}, "DO_NOT_TRACK=1"),
        ({"CI": "true"}, "CI=true (CI detected)"),
        ({"GITLAB_CI": "true"}, "GITLAB_CI=true (CI detected)"),
        (
            {"ARGILLA_ENABLE_TELEMETRY": "0", "DO_NOT_TRACK": "1", "CI": "1"},
            "ARGILLA_ENABLE_TELEMETRY=0; DO_NOT_TRACK=1; CI=1 (CI detected)",
        ),
        ({"DO_NOT_TRACK": "1", "ARGILLA_ENABLE_TELEMETRY": "1"}, "DO_NOT_TRACK=1"),
    ],
)
def test_disabled_names_every_opt_out(
    pigeon_cli: RunCommand, env: dict[str, str], because: str
) -> None:
    result = pigeon_cli("status", "--app", "argilla", env=env)
    assert result.status == 0, result.err
    assert "telemetry:    disabled" in result.out
    assert f"because:      {because}\n" in result.out


def test_unknown_value_is_disabled_with_its_warning(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli("status", "--app", "argilla", env={"ARGILLA_ENABLE_TELEMETRY": "perhaps"})
    assert result.status == 0
    assert "telemetry:    disabled" in result.out
    assert "'perhaps' (unrecognised value)" in result.out
    assert "warning:" in result.out


def test_ci_with_explicit_opt_in(pigeon_cli: RunCommand) -> None:
    result = pigeon_cli(
        "status", "--app", "argilla", env={"CI": "true", "ARGILLA_ENABLE_TELEMETRY": "1"}
    )
    assert "telemetry:    enabled" in result.out
    assert "CI detected, but ARGILLA_ENABLE_TELEMETRY opts in" in result.out


def test_endpoint_write_key_and_debug(pigeon_cli: RunCommand) -> None:
    env = {
        "ARGILLA_TELEMETRY_ENDPOINT": "https://collector.internal",
        "ARGILLA_TELEMETRY_WRITE_KEY": "secret-key-value",
        "ARGILLA_TELEMETRY_DEBUG": "1",
    }
    result = pigeon_cli("status", "--app", "argilla", env=env)
    assert (
        "endpoint:     https://collector.internal (from ARGILLA_TELEMETRY_ENDPOINT)" in result.out
    )
    assert "write key:    from ARGILLA_TELEMETRY_WRITE_KEY" in result.out
    assert "secret-key-value" not in result.out  # a key is not printed
    assert "debug:        on" in result.out


def test_existing_id_file_is_shown(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    home = tmp_path / "apphome"
    home.mkdir()
    (home / "telemetry_id").write_text("6f1c1b9e-2f7a-4c55-9d3e-6a3b2c1d0e9f\n")
    result = pigeon_cli("status", "--app", "argilla", "--home", str(home))
    assert f"{home / 'telemetry_id'} (exists)" in result.out
    assert "anonymous id: 6f1c1b9e-2f7a-4c55-9d3e-6a3b2c1d0e9f" in result.out


def test_json_output(pigeon_cli: RunCommand, data_home: Path) -> None:
    result = pigeon_cli("status", "--app", "argilla", "--json", env={"DO_NOT_TRACK": "yes"})
    assert result.status == 0
    report = json.loads(result.out)
    assert report["enabled"] is False
    assert report["disabled_reason"] == "DO_NOT_TRACK=yes"
    assert report["opt_outs"] == ["DO_NOT_TRACK=yes"]
    assert report["id_file"] == str(data_home / "argilla" / "telemetry_id")
    assert report["anonymous_id"] is None
    assert report["catalog"] == {
        "name": "argilla",
        "version": "2",
        "events": 6,
        "accepted_version": None,
        "not_yet_notified": [],
    }


def test_other_app_prefix(pigeon_cli: RunCommand, tmp_path: Path) -> None:
    catalog = Path(__file__).parents[2] / "src" / "pigeon" / "catalogs" / "argilla.toml"
    result = pigeon_cli(
        "status", "--app", "my-app", "--catalog", str(catalog), env={"MY_APP_ENABLE_TELEMETRY": "0"}
    )
    assert result.status == 0, result.err
    assert "because:      MY_APP_ENABLE_TELEMETRY=0" in result.out
    assert "MY_APP_ENABLE_TELEMETRY=0 or DO_NOT_TRACK=1" in result.out


@pytest.mark.parametrize("app", ["nosuchapp", "../etc/passwd"])
def test_unknown_app_is_one_line_and_exit_2(pigeon_cli: RunCommand, app: str) -> None:
    result = pigeon_cli("status", "--app", app)
    assert result.status == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith("pigeon status: error: ")
    assert "Traceback" not in result.err
