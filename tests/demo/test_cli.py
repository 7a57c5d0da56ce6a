"""``pigeon demo`` as a user runs it: a subprocess, real children, a real store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pigeon.demo._processes import free_port, port_is_free
from tests.conftest import clean_subprocess_env
from tests.demo.processes import totals, wait_for

pytestmark = pytest.mark.slow

RUN_SECONDS = 120


def demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pigeon", "demo", *args],
        env=env or clean_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def test_demo_once_fills_the_store_with_several_installs(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    # CI=true on purpose: the demo opts its servers in explicitly, so it works in CI too.
    env = clean_subprocess_env(CI="true")
    done = demo(
        "--once", "--installs", "8", "--data", str(data), "--port", str(free_port()),
        "--admin-token", "demo-token", "--seed", "3", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Dashboard:    http://127.0.0.1:" in done.stdout
    assert "Admin token:  demo-token" in done.stdout
    assert "Demo stopped" in done.stdout
    # The banner names every opt-out in force: the install's own, and CI.
    assert "Telemetry is disabled (ARGILLA_ENABLE_TELEMETRY=0; CI=true (CI detected))" in (
        done.stdout
    )
    assert done.stdout.count("Telemetry is enabled") == 7

    db = data / "pigeon.db"
    [everything] = totals(db, "all").values()
    assert everything.installs == 7  # install-8 opted out: nothing of it arrived
    ids = {(data / "installs" / f"install-{i}" / "telemetry_id").read_text() for i in range(1, 8)}
    assert len(ids) == 7
    assert not (data / "installs" / "install-8").exists()
    events = totals(db, "event")
    # The deliberate crash is hit at random: most rounds, not every one.
    assert set(events) - {"CrashReported"} == {
        "ServerStarted",
        "UserInfoRequested",
        "LogRecordsRequested",
        "ServerErrorFound",
        "TrainerUsage",
    }
    assert events["ServerStarted"].events == 7
    assert events["ServerStarted"].installs == 7
    assert len(totals(db, "version")) >= 2
    assert len(totals(db, "system")) >= 2
    assert len(totals(db, "python")) >= 2
    assert len(totals(db, "language")) >= 2


def test_demo_honours_do_not_track(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = clean_subprocess_env(DO_NOT_TRACK="1")
    done = demo(
        "--once", "--installs", "2", "--data", str(data), "--port", str(free_port()), env=env
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Note: DO_NOT_TRACK is set" in done.stdout
    assert "Telemetry is disabled (DO_NOT_TRACK=1)" in done.stdout
    assert totals(data / "pigeon.db", "all") == {}
    assert not (data / "installs" / "install-1").exists()


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment mentions ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                if text.encode() in (entry / part).read_bytes():
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("signum", "when"),
    [
        (signal.SIGINT, "Dashboard:"),  # Ctrl-C while the demo idles between rounds
        (signal.SIGTERM, "Playing"),  # SIGTERM while servers are running
    ],
)
def test_signals_stop_every_child_cleanly(tmp_path: Path, signum: int, when: str) -> None:
    data = tmp_path / "demo"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "pigeon", "demo", "--installs", "2", "--interval", "1000",
            "--data", str(data), "--port", str(port),
        ],
        env=clean_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        lines.extend(process.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(when in line for line in lines), 60, f"{when!r} in the output")
        process.send_signal(signum)
        assert process.wait(timeout=60) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    assert process.stdout is not None
    process.stdout.close()
    assert "Demo stopped" in "".join(lines)
    assert port_is_free("127.0.0.1", port)
    assert processes_mentioning(str(data)) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--installs", "0"], "--installs must be between 1 and 64"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
        (["--interval", "-1"], "--interval must be more than 0"),
        (["--duration", "soon"], "--duration must be a number of seconds"),
        (["--once", "--duration", "5"], "not allowed with argument"),
    ],
)
def test_bad_arguments_get_one_line_and_status_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = demo(*args, "--data", str(tmp_path / "demo"))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "demo").exists()


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = demo("--once", "--port", str(port), "--data", str(tmp_path / "demo"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"pigeon demo: error: port {port} is in use; choose another with --port"
    )


def test_help_has_an_example() -> None:
    done = demo("--help")
    assert done.returncode == 0
    assert "Example:" in done.stdout
    assert "pigeon demo --once" in done.stdout
