"""The simulated installs the traffic generator plays: who runs what, where.

Each install is a real reference server process with its own data directory
(hence its own random install id) and app version. Its system, Python version
and machine are simulated (``PIGEON_DEMO_RUNTIME``), since every process runs
on this one machine; ``pigeon demo --real-runtime`` reports the real ones.
One install in eight has opted out (``ARGILLA_ENABLE_TELEMETRY=0``): it plays
the same traffic, and nothing of it reaches the collector.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

__all__ = ["VERSIONS", "InstallProfile", "make_profiles"]

VERSIONS: Final = ("1.26.1", "1.27.0", "1.28.0", "1.29.0")
"""App versions an install may run, oldest first (installs upgrade between rounds)."""

_RUNTIMES: Final = (
    {
        "system": "Linux",
        "release": "6.5.0-27-generic",
        "sys_version": "#28~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC",
        "machine": "x86_64",
        "platform": "Linux-6.5.0-27-generic-x86_64-with-glibc2.35",
    },
    {
        "system": "Linux",
        "release": "5.15.0-1056-aws",
        "sys_version": "#61~20.04.1-Ubuntu SMP",
        "machine": "aarch64",
        "platform": "Linux-5.15.0-1056-aws-aarch64-with-glibc2.31",
    },
    {
        "system": "Darwin",
        "release": "23.4.0",
        "sys_version": "Darwin Kernel Version 23.4.0",
        "machine": "arm64",
        "platform": "macOS-14.4.1-arm64-arm-64bit",
    },
    {
        "system": "Windows",
        "release": "10",
        "sys_version": "10.0.22631",
        "machine": "AMD64",
        "platform": "Windows-10-10.0.22631-SP0",
    },
)
_PYTHONS: Final = ("3.9.18", "3.10.13", "3.11.8", "3.12.2")
_LANGUAGES: Final = (
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en;q=0.8",
    "es-ES,es;q=0.9",
    "fr-FR,fr;q=0.9,en;q=0.7",
    "ja-JP,ja;q=0.9",
    "en-GB,en;q=0.9",
)
_BROWSERS: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.65",
)
_OPTED_OUT_EVERY: Final = 8


@dataclass(slots=True)
class InstallProfile:
    """One simulated install.

    Attributes:
        index: 1-based number, also the name of its data directory.
        version: the app version it runs (may be upgraded between rounds).
        runtime: the runtime facts it reports (``PIGEON_DEMO_RUNTIME``).
        language: its users' ``Accept-Language``.
        user_agents: the clients its users call the API with.
        opted_out: it runs with ``ARGILLA_ENABLE_TELEMETRY=0``.
    """

    index: int
    version: str
    runtime: dict[str, str]
    language: str
    user_agents: tuple[str, ...]
    opted_out: bool = False

    @property
    def name(self) -> str:
        """``install-<index>``: its data directory's name."""
        return f"install-{self.index}"

    def describe(self) -> str:
        """One line for the demo's output."""
        language = self.language.split(",", 1)[0]
        return (
            f"{self.name}: argilla {self.version}, {self.runtime['system']} "
            f"{self.runtime['machine']}, Python {self.runtime['python_version']}, {language}"
        )

    def upgrade(self, rng: random.Random) -> None:
        """Sometimes move to the next version (version adoption over rounds)."""
        position = VERSIONS.index(self.version) if self.version in VERSIONS else len(VERSIONS)
        if position < len(VERSIONS) - 1 and rng.random() < 0.3:
            self.version = VERSIONS[position + 1]


def make_profiles(count: int, seed: int) -> list[InstallProfile]:
    """``count`` varied installs, the same for the same seed."""
    rng = random.Random(f"pigeon-demo-profiles:{seed}")
    profiles = []
    for index in range(1, count + 1):
        runtime = dict(rng.choice(_RUNTIMES))
        runtime["python_version"] = rng.choice(_PYTHONS)
        # Newer versions are more common, as in a real install base.
        version = rng.choices(VERSIONS, weights=(1, 2, 3, 4))[0]
        python_client = f"argilla/{version} python/{runtime['python_version']}"
        profiles.append(
            InstallProfile(
                index=index,
                version=version,
                runtime=runtime,
                language=rng.choice(_LANGUAGES),
                user_agents=(rng.choice(_BROWSERS), python_client),
                opted_out=index % _OPTED_OUT_EVERY == 0,
            )
        )
    return profiles
