"""The opt-out table of DESIGN.md section 3: every precedence case, read once."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pigeon
from pigeon import _consent as consent
from pigeon import _settings
from pigeon._settings import CI_MARKERS, Settings, env_prefix, read_settings
from pigeon.catalog import Catalog
from pigeon.testing import MemoryTransport
from tests.conftest import clean_subprocess_env

ENABLE = "ARGILLA_ENABLE_TELEMETRY"
ENDPOINT = "http://127.0.0.1:9"

OFF_VALUES = ["0", "false", "no", "off", "FALSE", "No", "OFF", " 0 ", "\tfalse\n", "Off "]
ON_VALUES = ["1", "true", "yes", "on", "TRUE", "Yes", "ON", " 1 ", "\ttrue\n", " On"]


def settings(env: dict[str, str], **kwargs: object) -> Settings:
    return read_settings("argilla", env, endpoint=ENDPOINT, **kwargs)  # type: ignore[arg-type]


# -- <APP>_ENABLE_TELEMETRY -------------------------------------------------------------


def test_nothing_set_is_enabled() -> None:
    result = settings({})
    assert result.enabled
    assert result.disabled_reason is None
    assert result.opt_outs == ()
    assert result.warnings == ()
    assert not result.in_ci
    assert not result.debug


@pytest.mark.parametrize("value", OFF_VALUES)
def test_enable_off_values_disable(value: str) -> None:
    result = settings({ENABLE: value})
    assert not result.enabled
    assert result.disabled_reason == f"{ENABLE}={value.strip()}"
    assert result.warnings == ()


@pytest.mark.parametrize("value", ON_VALUES)
def test_enable_on_values_enable(value: str) -> None:
    result = settings({ENABLE: value})
    assert result.enabled
    assert result.disabled_reason is None
    assert result.warnings == ()


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_enable_counts_as_unset(value: str) -> None:
    result = settings({ENABLE: value})
    assert result.enabled
    assert result.warnings == ()


@pytest.mark.parametrize("value", ["maybe", "2", "enable", "y", "nope", "tru", "-1", "1.0"])
def test_unknown_enable_value_disables_with_one_warning_naming_it(value: str) -> None:
    result = settings({ENABLE: value})
    assert not result.enabled
    assert result.disabled_reason is not None
    assert repr(value) in result.disabled_reason
    assert len(result.warnings) == 1
    assert repr(value) in result.warnings[0]
    assert ENABLE in result.warnings[0]


def test_unknown_value_warns_exactly_once_per_client(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pigeon")
    client = pigeon.Client("argilla", "1.0", environ={ENABLE: "sometimes"})
    client.track("ServerStarted")
    client.flush(timeout=1.0)
    client.shutdown()
    # Only this client's records: threads left by other tests may log too.
    warnings = [r for r in caplog.records if ENABLE in r.getMessage()]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "'sometimes'" in warnings[0].getMessage()
    assert not client.enabled


def test_prefix_follows_the_app_name() -> None:
    assert env_prefix("argilla") == "ARGILLA"
    assert env_prefix("my-app.server") == "MY_APP_SERVER"
    assert env_prefix("café") == "CAF_"
    result = read_settings("my-app", {"MY_APP_ENABLE_TELEMETRY": "0"}, endpoint=ENDPOINT)
    assert result.disabled_reason == "MY_APP_ENABLE_TELEMETRY=0"
    # Another app's variable does not apply.
    assert read_settings("other", {ENABLE: "0"}, endpoint=ENDPOINT).enabled


# -- DO_NOT_TRACK -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "yes", "anything", "TRUE", " 1 ", "no", "off"])
def test_do_not_track_disables_for_any_other_value(value: str) -> None:
    result = settings({"DO_NOT_TRACK": value})
    assert not result.enabled
    assert result.disabled_reason == f"DO_NOT_TRACK={value.strip()}"


@pytest.mark.parametrize("value", ["", "0", "false", "FALSE", " 0 ", "False"])
def test_do_not_track_empty_zero_false_do_not_disable(value: str) -> None:
    assert settings({"DO_NOT_TRACK": value}).enabled


@pytest.mark.parametrize("on", ON_VALUES[:4])
def test_do_not_track_wins_over_explicit_enable(on: str) -> None:
    result = settings({"DO_NOT_TRACK": "1", ENABLE: on})
    assert not result.enabled
    assert result.disabled_reason == "DO_NOT_TRACK=1"


# -- CI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", CI_MARKERS)
def test_ci_markers_disable(marker: str) -> None:
    result = settings({marker: "true"})
    assert not result.enabled
    assert result.in_ci
    assert result.disabled_reason == f"{marker}=true (CI detected)"


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "False"])
def test_false_ci_markers_do_not_count(value: str) -> None:
    result = settings({"CI": value, "GITHUB_ACTIONS": value})
    assert result.enabled
    assert not result.in_ci


@pytest.mark.parametrize("on", ON_VALUES)
def test_explicit_enable_overrides_ci(on: str) -> None:
    result = settings({"CI": "true", ENABLE: on})
    assert result.enabled
    assert result.in_ci  # still known: no first-run notice in CI


def test_explicit_disable_in_ci_names_both() -> None:
    result = settings({"CI": "1", ENABLE: "0"})
    assert not result.enabled
    assert result.opt_outs == (f"{ENABLE}=0", "CI=1 (CI detected)")


def test_ci_does_not_override_do_not_track_even_with_enable() -> None:
    result = settings({"CI": "1", ENABLE: "1", "DO_NOT_TRACK": "1"})
    assert not result.enabled
    assert result.opt_outs == ("DO_NOT_TRACK=1",)


# -- enabled=False in code ----------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [{}, {ENABLE: "1"}, {ENABLE: "yes", "CI": ""}, {"DO_NOT_TRACK": "0", ENABLE: "on"}],
)
def test_enabled_false_in_code_wins_over_everything(env: dict[str, str]) -> None:
    result = settings(env, enabled=False)
    assert not result.enabled
    assert result.disabled_reason == "enabled=False in code"


def test_enabled_true_in_code_does_not_override_an_opt_out() -> None:
    for env in ({ENABLE: "0"}, {"DO_NOT_TRACK": "1"}, {"CI": "true"}):
        assert not settings(env, enabled=True).enabled


def test_every_opt_out_is_listed_in_order() -> None:
    result = settings({ENABLE: "off", "DO_NOT_TRACK": "1", "CI": "true"}, enabled=False)
    assert result.opt_outs == (
        "enabled=False in code",
        f"{ENABLE}=off",
        "DO_NOT_TRACK=1",
        "CI=true (CI detected)",
    )
    assert result.disabled_reason == "enabled=False in code"


# -- endpoint, write key, debug ---------------------------------------------------------------


def test_endpoint_and_write_key_overrides() -> None:
    env = {
        "ARGILLA_TELEMETRY_ENDPOINT": " https://collector.internal ",
        "ARGILLA_TELEMETRY_WRITE_KEY": " own-key ",
    }
    result = read_settings("argilla", env, endpoint="https://default", write_key="builtin")
    assert result.endpoint == "https://collector.internal"
    assert result.write_key == "own-key"


@pytest.mark.parametrize("value", ["", "  "])
def test_blank_overrides_keep_the_app_defaults(value: str) -> None:
    env = {"ARGILLA_TELEMETRY_ENDPOINT": value, "ARGILLA_TELEMETRY_WRITE_KEY": value}
    result = read_settings("argilla", env, endpoint="https://default", write_key="builtin")
    assert result.endpoint == "https://default"
    assert result.write_key == "builtin"


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE", " 1 ", "verbose"])
def test_debug_values_turn_debug_on(value: str) -> None:
    assert settings({"ARGILLA_TELEMETRY_DEBUG": value}).debug


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off"])
def test_debug_off_values(value: str) -> None:
    assert not settings({"ARGILLA_TELEMETRY_DEBUG": value}).debug


def test_debug_does_not_enable_a_disabled_client() -> None:
    result = settings({"ARGILLA_TELEMETRY_DEBUG": "1", "DO_NOT_TRACK": "1"})
    assert result.debug
    assert not result.enabled


def test_settings_are_immutable_and_replaceable() -> None:
    result = settings({})
    with pytest.raises(AttributeError):
        result.enabled = False
    changed = result._replace(enabled=False, disabled_reason="x")
    assert not changed.enabled
    assert changed.disabled_reason == "x"
    assert result.enabled
    assert changed != result
    assert result == settings({})
    assert hash(result) == hash(settings({}))
    assert "enabled=True" in repr(result)
    with pytest.raises(TypeError):
        result._replace(colour="blue")


# -- the client obeys -----------------------------------------------------------------------


def test_client_reads_its_environment_once(tmp_path: Path) -> None:
    env = {ENABLE: "1"}
    client = pigeon.Client(
        "argilla", "1.0", environ=env, transport=MemoryTransport(), home=tmp_path
    )
    env[ENABLE] = "0"  # too late: the decision was made at construction
    assert client.enabled
    client.shutdown()


def test_client_reports_disabled_reason(tmp_path: Path) -> None:
    client = pigeon.Client(
        "argilla", "1.0", environ={"DO_NOT_TRACK": "1"}, transport=MemoryTransport(), home=tmp_path
    )
    assert not client.enabled
    assert client.disabled_reason == "DO_NOT_TRACK=1"
    assert client.anonymous_id is None


def test_client_with_no_endpoint_anywhere_is_disabled() -> None:
    client = pigeon.Client("argilla", "1.0", environ={})
    assert not client.enabled
    assert client.disabled_reason is not None


def test_client_endpoint_from_environment_enables(tmp_path: Path) -> None:
    env = {"ARGILLA_TELEMETRY_ENDPOINT": ENDPOINT, "ARGILLA_TELEMETRY_WRITE_KEY": "k"}
    client = pigeon.Client("argilla", "1.0", environ=env, home=tmp_path)
    assert client.enabled
    assert client.settings.endpoint == ENDPOINT
    assert client.settings.write_key == "k"
    client.shutdown(timeout=0.1)


def test_client_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENABLE, "no")
    client = pigeon.Client("argilla", "1.0", endpoint=ENDPOINT)
    assert client.disabled_reason == f"{ENABLE}=no"


# -- debug mode ---------------------------------------------------------------------------

_DEBUG_CHILD = textwrap.dedent(
    """
    import socket, sys

    attempts = []

    def refuse(name):
        def guard(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"socket used in debug mode: {name}")
        return guard

    for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname"):
        setattr(socket, name, refuse(name))

    import pigeon

    client = pigeon.Client("argilla", "1.0", endpoint="https://telemetry.invalid", write_key="k",
                           home=sys.argv[1])
    client.track("ServerStarted")
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": 7, "secret": "x"})
    client.track("TrainerUsage", {"framework": "jax", "task": "DPO"})
    client.track("NotInCatalog", {"a": 1})
    delivered = client.flush(timeout=10)
    client.shutdown()
    print(repr((delivered, attempts)))
    """
)


def test_debug_mode_prints_one_json_line_per_payload_and_opens_no_socket(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "telemetry_id").write_text("0b0a3cf8-3d3f-4a8e-9a59-0b8a1a2b3c4d\n")
    assert consent.write(home, Catalog.load("argilla"))  # told before: no notice now
    result = subprocess.run(
        [sys.executable, "-c", _DEBUG_CHILD, str(home)],
        env=clean_subprocess_env(ARGILLA_TELEMETRY_DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "(True, [])"
    lines = result.stderr.splitlines()
    messages = [json.loads(line) for line in lines if line.startswith("{")]
    # Besides payloads, stderr holds only the warning about the undeclared event.
    others = [line for line in lines if not line.startswith("{")]
    assert len(others) == 1
    assert "NotInCatalog" in others[0]
    assert [m["event"] for m in messages] == [
        "ServerStarted",
        "LogRecordsRequested",
        "TrainerUsage",
    ]
    assert messages[1]["properties"] == {"task": "Text2Text", "records": 7}
    assert messages[2]["properties"] == {"framework": "other", "task": "DPO"}
    assert {m["anonymousId"] for m in messages} == {"0b0a3cf8-3d3f-4a8e-9a59-0b8a1a2b3c4d"}
    assert all(m["context"]["app"] == {"name": "argilla", "version": "1.0"} for m in messages)


def test_debug_mode_in_process_writes_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append("socket")
        raise AssertionError("no socket in debug mode")

    for name in ("socket", "create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, refuse)
    client = pigeon.Client(
        "argilla", "1.0", environ={"ARGILLA_TELEMETRY_DEBUG": "1"}, home=tmp_path
    )
    assert client.enabled
    assert client.settings.debug
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    client.shutdown()
    err = capfd.readouterr().err
    payloads = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [p["event"] for p in payloads] == ["ServerStarted"]
    assert attempts == []


def test_the_privacy_policy_lists_every_variable() -> None:
    policy = (Path(__file__).parents[2] / "docs" / "privacy.md").read_text()
    for template in (
        _settings.ENABLE_TELEMETRY,
        _settings.TELEMETRY_ENDPOINT,
        _settings.TELEMETRY_WRITE_KEY,
        _settings.TELEMETRY_DEBUG,
    ):
        assert f"`{template.format(prefix='<APP>')}`" in policy
    for name in (*CI_MARKERS, "DO_NOT_TRACK", "XDG_DATA_HOME"):
        assert f"`{name}`" in policy
