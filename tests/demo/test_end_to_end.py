"""The reference server as a real uvicorn process, sending to a real collector over 127.0.0.1.

Between them, a recording proxy keeps every byte the server sent. Names,
records, metadata, error messages and the server's data path carry a random
canary; it must appear nowhere on the wire and nowhere in the collector's store.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pigeon.demo._http import ApiClient
from tests.conftest import clean_subprocess_env
from tests.demo.processes import (
    WRITE_KEY,
    every_stored_value,
    running_collector,
    running_server,
    totals,
)
from tests.demo.recording_proxy import RecordingProxy

pytestmark = pytest.mark.slow

USER_AGENT = "argilla/1.29.0 python/3.11.7"
LANGUAGE = "fr-FR,fr;q=0.9"
ERRORS = "argilla.api.errors::"
# uvicorn shuts down gracefully on SIGTERM, then re-raises it: -15 is a clean stop.
STOPPED = (0, -signal.SIGTERM)


def server_env(tmp_path: Path, endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    return clean_subprocess_env(
        ARGILLA_TELEMETRY_ENDPOINT=endpoint,
        ARGILLA_TELEMETRY_WRITE_KEY=WRITE_KEY,
        ARGILLA_HOME_PATH=str(home),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        HOME=str(tmp_path / "user-home"),
        **extra,
    )


def run_trainer(url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pigeon.demo.trainer", "--server", url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def play_canary_traffic(url: str, canary: str) -> None:
    """Every kind of call the policy covers, each carrying the canary where users put data."""
    owner = ApiClient(url, "argilla.apikey", USER_AGENT, LANGUAGE)
    ws = f"{canary}-ws"

    def bulk(task: str, field: str, value: Any) -> dict[str, Any]:
        record = {
            "id": f"{canary}-id",
            field: value,
            "annotation": f"{canary}-label",
            "metadata": {canary: canary, "note": f"about {canary}"},
        }
        return {"records": [record] * 3, "tags": {canary: canary}, "metadata": {canary: 1}}

    assert owner.call("GET", "/api/me").status == 200
    assert owner.call("POST", "/api/workspaces", {"name": ws}).status == 200
    assert owner.call("POST", "/api/workspaces", {"name": ws}).status == 409
    user = owner.call("POST", "/api/users", {"username": f"{canary}-user"})
    assert user.status == 200
    assert owner.as_user(user.body["api_key"]).call("GET", "/api/me").status == 200
    uploads = [
        (f"{canary}-ds", "TextClassification", "text", f"{canary} is great"),
        (f"{canary}-tok", "TokenClassification", "tokens", [canary, "is", "great"]),
        (f"{canary}-t2t", "Text2Text", "text", f"translate {canary}"),
    ]
    for name, task, field, value in uploads:
        path = f"/api/datasets/{name}/{task}:bulk?workspace={ws}"
        assert owner.call("POST", path, bulk(task, field, value)).status == 200
    assert owner.call("GET", f"/api/datasets/{canary}-missing?workspace={ws}").status == 404
    assert owner.call("GET", f"/api/datasets?workspace={canary}-nowhere").status == 404
    invalid = {"records": [{"metadata": {canary: canary}}]}
    path = f"/api/datasets/{canary}-ds/TextClassification:bulk?workspace={ws}"
    assert owner.call("POST", path, invalid).status == 422
    assert owner.as_user(f"{canary}.apikey").call("GET", "/api/me").status == 401
    path = f"/api/datasets/{canary}-ds/Text2Text:bulk?workspace={ws}"
    assert owner.call("POST", path, bulk("Text2Text", "text", canary)).status == 400


def test_server_to_collector_exact_events_and_no_canary_anywhere(tmp_path: Path) -> None:
    canary = f"cnry{secrets.token_hex(8)}"
    home = tmp_path / f"{canary}-home"
    collector_dir = tmp_path / "collector"
    collector_dir.mkdir()
    with (
        running_collector(collector_dir) as collector,
        RecordingProxy(collector.port) as proxy,
    ):
        env = server_env(tmp_path, proxy.url, home)
        with running_server(env, tmp_path / "server.log") as (server, url):
            play_canary_traffic(url, canary)
            trained = run_trainer(
                url, env,
                "--dataset", f"{canary}-ds", "--workspace", f"{canary}-ws",
                "--framework", f"{canary}-framework", "--task", "TextClassification",
            )  # fmt: skip
            assert trained.returncode == 0, trained.stderr
        # The server flushed at shutdown; the trainer before it exited.
        assert server.returncode in STOPPED, server.log_tail()
    # Stopping the collector commits everything; now read its store.

    events = totals(collector.db, "event")
    assert {value: row.events for value, row in events.items()} == {
        "ServerStarted": 1,
        "UserInfoRequested": 2,
        "LogRecordsRequested": 3,
        "ServerErrorFound": 6,
        "TrainerUsage": 1,
    }
    assert all(row.installs == 1 for row in events.values())
    errors = {value: row.events for value, row in totals(collector.db, "error").items()}
    assert errors == {
        f"{ERRORS}EntityAlreadyExistsError\tWorkspace": 1,
        f"{ERRORS}EntityNotFoundError\tDataset": 1,
        f"{ERRORS}EntityNotFoundError\tWorkspace": 1,
        f"{ERRORS}ValidationError\t": 1,
        f"{ERRORS}UnauthorizedError\t": 1,
        f"{ERRORS}WrongTaskError\t": 1,
    }
    bulk = {
        value: (row.events, row.amount) for value, row in totals(collector.db, "bulk_task").items()
    }
    assert bulk == {
        "TextClassification": (1, 3),
        "TokenClassification": (1, 3),
        "Text2Text": (1, 3),
    }
    assert {v: r.events for v, r in totals(collector.db, "trainer").items()} == {
        "other\tTextClassification": 1
    }
    assert {v: r.events for v, r in totals(collector.db, "client").items()} == {"argilla client": 2}
    assert {v: r.events for v, r in totals(collector.db, "language").items()} == {"fr": 2}
    install_id = (home / "telemetry_id").read_text().strip()

    # Non-vacuous: the proxy saw the batches, and they carried the install id.
    requests = proxy.requests()
    batches = [r for r in requests if r.head.startswith(b"POST /v1/batch ")]
    assert batches, "the proxy saw no telemetry batch"
    assert any(install_id.encode() in r.body for r in batches)
    assert any(b"UserInfoRequested" in r.body for r in batches)

    needle = canary.encode()
    assert needle not in proxy.raw
    for request in requests:
        assert needle not in request.head
        assert needle not in request.body
    stored = every_stored_value(collector.db)
    assert any(install_id.encode() in value for value in stored)
    assert not [value for value in stored if needle in value]
    for path in collector_dir.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"canary found in {path.name}"


def test_opted_out_server_sends_nothing_and_writes_no_id(tmp_path: Path) -> None:
    home = tmp_path / "server-home"
    with RecordingProxy(upstream_port=None) as sink:
        env = server_env(tmp_path, sink.url, home, ARGILLA_ENABLE_TELEMETRY="0")
        with running_server(env, tmp_path / "server.log") as (server, url):
            canary = f"cnry{secrets.token_hex(4)}"
            play_canary_traffic(url, canary)
            trained = run_trainer(
                url, env,
                "--dataset", f"{canary}-ds", "--workspace", f"{canary}-ws",
                "--framework", "setfit", "--task", "TextClassification",
            )  # fmt: skip
            assert trained.returncode == 0, trained.stderr
            assert '"records": 3' in trained.stdout
        assert server.returncode in STOPPED
        assert "Telemetry is disabled (ARGILLA_ENABLE_TELEMETRY=0)" in server.log_tail(50)
        assert sink.connections == 0
        assert sink.raw == b""
    assert not home.exists()
    assert not (tmp_path / "xdg").exists()
    assert not (tmp_path / "user-home").exists()
