"""The traffic generator: several simulated installs, each a real reference server process.

Why processes: an install is an install id (a file in the server's data
directory) plus a system context, and both are per process. So each simulated
install runs its own ``uvicorn pigeon.demo.server:app`` with its own
``ARGILLA_HOME_PATH`` (its own random id, kept across rounds), its own app
version (``PIGEON_DEMO_VERSION``) and, unless ``real_runtime`` is set, a
simulated system, Python version and machine (``PIGEON_DEMO_RUNTIME``, announced
in the server's banner). Everything the collector receives was sent by the real
SDK inside a real server, over real HTTP, after real API calls.

Example::

    traffic = Traffic("http://127.0.0.1:8642", Path("pigeon-data/demo"), installs=8)
    for result in traffic.run_round(threading.Event()):
        print(result.line())
"""

from __future__ import annotations

import json
import random
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pigeon.demo._processes import ChildProcess, DemoError, free_port, python_env
from pigeon.demo._profiles import InstallProfile, make_profiles
from pigeon.demo._scenario import RoundReport, play_round
from pigeon.demo._settings import TELEMETRY_WRITE_KEY

__all__ = ["InstallResult", "Traffic"]

_READY_TIMEOUT: Final = 60.0
_START_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What one install did in one round, and what its server said about telemetry."""

    profile: str
    telemetry: str
    report: RoundReport | None
    error: str | None = None

    def line(self) -> str:
        """Two lines for the demo's output."""
        if self.report is None:
            return f"  {self.profile}\n    failed: {self.error}"
        return f"  {self.profile}\n    {self.report.summary()}; {self.telemetry}"


class Traffic:
    """Plays rounds of traffic from ``installs`` simulated installs."""

    def __init__(
        self,
        collector_url: str,
        data_dir: Path,
        *,
        installs: int = 8,
        seed: int = 0,
        parallel: int = 2,
        real_runtime: bool = False,
        write_key: str = TELEMETRY_WRITE_KEY,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare the installs (nothing starts before :meth:`run_round`).

        Args:
            collector_url: where the servers send telemetry.
            data_dir: holds ``installs/<name>`` (each install's data and id) and ``logs/``.
            installs: how many installs to simulate.
            seed: the same seed plays the same installs and traffic.
            parallel: how many installs run at once.
            real_runtime: report this machine's runtime instead of simulated ones.
            write_key: the collector's write key for the ``argilla`` catalog.
            base_env: the environment the children start from (default ``os.environ``).
        """
        self.collector_url = collector_url
        self.data_dir = data_dir
        self.profiles = make_profiles(installs, seed)
        self.parallel = max(1, parallel)
        self.real_runtime = real_runtime
        self.write_key = write_key
        self._seed = seed
        self._base_env = base_env
        self._round = 0
        self._live: set[ChildProcess] = set()
        self._lock = threading.Lock()

    def run_round(self, stop: threading.Event) -> list[InstallResult]:
        """Run every install once (``parallel`` at a time); returns their results in order."""
        self._round += 1
        if self._round > 1:
            upgrades = random.Random(f"pigeon-demo-upgrades:{self._seed}:{self._round}")
            for profile in self.profiles:
                profile.upgrade(upgrades)
        with ThreadPoolExecutor(self.parallel, thread_name_prefix="pigeon-demo") as pool:
            futures = [pool.submit(self._run_install, p, stop) for p in self.profiles]
            return [f.result() for f in futures]

    def stop_all(self) -> None:
        """Stop every server still running (used on Ctrl-C)."""
        with self._lock:
            live = list(self._live)
        for child in live:
            child.stop()

    def env_for(self, profile: InstallProfile) -> dict[str, str]:
        """The environment of an install's server and trainer processes."""
        env = python_env(
            self._base_env,
            ARGILLA_ENABLE_TELEMETRY="0" if profile.opted_out else "1",
            ARGILLA_TELEMETRY_ENDPOINT=self.collector_url,
            ARGILLA_TELEMETRY_WRITE_KEY=self.write_key,
            ARGILLA_HOME_PATH=str((self.data_dir / "installs" / profile.name).resolve()),
            PIGEON_DEMO_VERSION=profile.version,
        )
        # The demo must show what is sent, not print it: a debug setting is left behind.
        env.pop("ARGILLA_TELEMETRY_DEBUG", None)
        env.pop("PIGEON_DEMO_RUNTIME", None)
        if not self.real_runtime:
            env["PIGEON_DEMO_RUNTIME"] = json.dumps(profile.runtime)
        return env

    def _run_install(self, profile: InstallProfile, stop: threading.Event) -> InstallResult:
        described = profile.describe()
        if stop.is_set():
            return InstallResult(described, "", None, "stopped")
        env = self.env_for(profile)
        rng = random.Random(f"pigeon-demo-traffic:{self._seed}:{self._round}:{profile.index}")
        try:
            server, url = self._start_server(profile, env)
        except DemoError as exc:
            return InstallResult(described, "", None, str(exc))
        try:
            banner = _banner(server)
            report = play_round(profile, url, env, rng, stop)
            return InstallResult(described, banner, report)
        except OSError as exc:
            return InstallResult(described, "", None, f"lost the server: {exc}")
        finally:
            server.stop()
            with self._lock:
                self._live.discard(server)

    def _start_server(
        self, profile: InstallProfile, env: dict[str, str]
    ) -> tuple[ChildProcess, str]:
        log = self.data_dir / "logs" / f"{profile.name}.log"
        failure: DemoError | None = None
        # A free port can be taken between the check and uvicorn's bind: retry a few times.
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "pigeon.demo.server:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
            server = ChildProcess(f"reference server {profile.name}", argv, env, log)
            with self._lock:
                self._live.add(server)
            server.start()
            url = f"http://127.0.0.1:{port}"
            try:
                server.wait_ready(url, "/api/_info", _READY_TIMEOUT)
            except DemoError as exc:
                failure = exc
                server.stop()
                with self._lock:
                    self._live.discard(server)
                continue
            return server, url
        assert failure is not None
        raise failure


def _banner(server: ChildProcess) -> str:
    """The first line of the server's telemetry banner, from its log."""
    for line in server.log_tail(200).splitlines():
        if line.startswith("Telemetry is"):
            return line.split(": anonymous", 1)[0]
    return "telemetry state unknown"
