"""The reference server's telemetry set-up: settings, the client, the banner, simulated runtimes."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon.demo import trainer
from pigeon.demo._processes import free_port
from pigeon.demo._settings import DemoSettings
from pigeon.demo._telemetry import build_client, simulate_runtime, telemetry_banner
from pigeon.testing import MemoryTransport, capture_events
from tests.conftest import clean_subprocess_env


@pytest.fixture
def restore_runtime() -> Iterator[list[object]]:
    """Undo any runtime simulation a test applies (it is process-wide)."""
    restorers: list[object] = []
    yield restorers
    for restore in reversed(restorers):
        assert callable(restore)
        restore()


def test_settings_default_to_the_reference_values() -> None:
    settings = DemoSettings.from_env({})
    assert settings == DemoSettings()
    assert (settings.version, settings.api_key, settings.home) == ("1.29.0", "argilla.apikey", None)


def test_settings_read_the_environment(tmp_path: Path) -> None:
    runtime = {"system": "Windows", "python_version": "3.10.11"}
    settings = DemoSettings.from_env(
        {
            "ARGILLA_HOME_PATH": str(tmp_path),
            "ARGILLA_LOCAL_AUTH_DEFAULT_APIKEY": "team.key",
            "PIGEON_DEMO_VERSION": "1.27.0",
            "PIGEON_DEMO_RUNTIME": json.dumps(runtime),
        }
    )
    assert settings.home == tmp_path
    assert settings.api_key == "team.key"
    assert settings.version == "1.27.0"
    assert settings.simulated_runtime == runtime


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "PIGEON_DEMO_RUNTIME must be a JSON object"),
        ("[1, 2]", "PIGEON_DEMO_RUNTIME must be a JSON object"),
        ('{"hostname": "box"}', "unknown field 'hostname'"),
        ('{"system": 7}', "field 'system' must be a string"),
    ],
)
def test_bad_simulated_runtime_is_refused_with_the_reason(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DemoSettings.from_env({"PIGEON_DEMO_RUNTIME": raw})


def test_client_uses_the_built_in_endpoint_and_key_unless_overridden(tmp_path: Path) -> None:
    settings = DemoSettings(home=tmp_path / "home")
    built_in = build_client(settings, environ={"ARGILLA_ENABLE_TELEMETRY": "0"})
    assert (built_in.settings.endpoint, built_in.settings.write_key) == (
        "http://127.0.0.1:8642",
        "argilla-demo",
    )
    overridden = build_client(
        settings,
        environ={
            "ARGILLA_ENABLE_TELEMETRY": "0",
            "ARGILLA_TELEMETRY_ENDPOINT": "http://127.0.0.1:9999",
            "ARGILLA_TELEMETRY_WRITE_KEY": "own-key",
        },
    )
    assert (overridden.settings.endpoint, overridden.settings.write_key) == (
        "http://127.0.0.1:9999",
        "own-key",
    )
    assert not (tmp_path / "home").exists()


def test_client_keeps_its_id_in_the_servers_home(tmp_path: Path) -> None:
    client = build_client(
        DemoSettings(home=tmp_path / "home"), environ={"ARGILLA_TELEMETRY_DEBUG": "1"}
    )
    assert client.enabled
    assert (tmp_path / "home" / "telemetry_id").read_text().strip() == client.anonymous_id
    client.shutdown()


def test_banner_when_enabled_says_where_and_how_to_turn_it_off(tmp_path: Path) -> None:
    client = pigeon.Client(
        "argilla",
        "1",
        endpoint="http://127.0.0.1:8642",
        home=tmp_path,
        environ={"ARGILLA_ENABLE_TELEMETRY": "1", "CI": "true"},
    )
    banner = telemetry_banner(client, DemoSettings())
    assert banner.startswith("Telemetry is enabled")
    assert "go to http://127.0.0.1:8642." in banner
    assert "set ARGILLA_ENABLE_TELEMETRY=0 (or DO_NOT_TRACK=1)" in banner
    assert "pigeon preview --app argilla" in banner
    client.shutdown()


def test_banner_names_every_opt_out_in_force(tmp_path: Path) -> None:
    client = pigeon.Client(
        "argilla",
        "1",
        endpoint="http://127.0.0.1:8642",
        home=tmp_path / "never",
        environ={"ARGILLA_ENABLE_TELEMETRY": "off", "DO_NOT_TRACK": "1", "CI": "true"},
    )
    banner = telemetry_banner(client, DemoSettings())
    assert banner == (
        "Telemetry is disabled (ARGILLA_ENABLE_TELEMETRY=off; DO_NOT_TRACK=1; "
        "CI=true (CI detected)): nothing is collected or sent."
    )
    assert not (tmp_path / "never").exists()


def test_banner_in_debug_mode_says_nothing_is_sent(tmp_path: Path) -> None:
    client = pigeon.Client("argilla", "1", home=tmp_path, environ={"ARGILLA_TELEMETRY_DEBUG": "1"})
    banner = telemetry_banner(client, DemoSettings(simulated_runtime={"system": "Darwin"}))
    assert "stderr only (ARGILLA_TELEMETRY_DEBUG is set: nothing is sent)" in banner
    assert "simulated runtime: system=Darwin" in banner
    client.shutdown()


def test_simulated_runtime_reaches_the_context_and_can_be_restored(
    tmp_path: Path, restore_runtime: list[object]
) -> None:
    restore_runtime.append(simulate_runtime({"system": "Windows", "python_version": "3.9.18"}))
    client = pigeon.Client("argilla", "1", transport=MemoryTransport(), home=tmp_path / "a")
    with capture_events() as events:
        client.track("ServerStarted", None)
    runtime = events[0]["context"]["runtime"]
    assert (runtime["system"], runtime["python_version"]) == ("Windows", "3.9.18")
    assert runtime["machine"] == platform.machine()  # not simulated: the real value
    assert events[0]["context"]["os"]["name"] == "Windows"
    client.shutdown()

    restore = restore_runtime.pop()
    assert callable(restore)
    restore()
    real = pigeon.Client("argilla", "1", transport=MemoryTransport(), home=tmp_path / "b")
    with capture_events() as events:
        real.track("ServerStarted", None)
    assert events[0]["context"]["runtime"]["system"] == platform.system()
    real.shutdown()


def test_server_refuses_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "pigeon.demo.server:app", "--port", str(free_port())],
        env=clean_subprocess_env(
            PIGEON_DEMO_RUNTIME='{"hostname": "box"}', XDG_DATA_HOME=str(tmp_path)
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "reference server: PIGEON_DEMO_RUNTIME: unknown field 'hostname' "
        "(allowed: python_version, system, release, sys_version, machine, platform)"
    )


def test_trainer_says_when_the_server_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    args = ["--server", url, "--dataset", "d", "--framework", "setfit", "--task", "Text2Text"]
    assert trainer.main(args) == 1
    assert capsys.readouterr().err.startswith(f"trainer: cannot reach {url}: ")
