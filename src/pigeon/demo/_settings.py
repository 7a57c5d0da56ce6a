"""The reference server's settings, read once from the environment.

Telemetry variables (``ARGILLA_ENABLE_TELEMETRY``, ``ARGILLA_TELEMETRY_*``,
``DO_NOT_TRACK``, CI markers) are read by the SDK itself, like in any host app.
The ``PIGEON_DEMO_*`` variables exist only for the demo's simulated installs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pigeon._system import Runtime

__all__ = [
    "APP_NAME",
    "DEFAULT_API_KEY",
    "DEFAULT_TELEMETRY_ENDPOINT",
    "DEFAULT_USERNAME",
    "DEFAULT_VERSION",
    "DEFAULT_WORKSPACE",
    "RUNTIME_FIELDS",
    "TELEMETRY_WRITE_KEY",
    "DemoSettings",
]

APP_NAME: Final = "argilla"
"""The app's name: its catalog and the prefix of its telemetry variables."""

DEFAULT_VERSION: Final = "1.29.0"
"""The reference server's version."""

DEFAULT_USERNAME: Final = "argilla"
"""The default user, created at start (the owner)."""

DEFAULT_API_KEY: Final = "argilla.apikey"
"""The default user's API key (``ARGILLA_LOCAL_AUTH_DEFAULT_APIKEY`` changes it)."""

DEFAULT_WORKSPACE: Final = "argilla"
"""The workspace every server starts with."""

DEFAULT_TELEMETRY_ENDPOINT: Final = "http://127.0.0.1:8642"
"""The app's built-in collector: a local ``pigeon serve`` on its default port."""

TELEMETRY_WRITE_KEY: Final = "argilla-demo"
"""The app's built-in write key."""

RUNTIME_FIELDS: Final = tuple(Runtime.__annotations__)
"""The runtime facts a simulated install may report instead of this machine's."""

API_KEY_VAR: Final = "ARGILLA_LOCAL_AUTH_DEFAULT_APIKEY"
"""Changes the default user's API key."""
HOME_VAR: Final = "ARGILLA_HOME_PATH"
"""The server's data directory; the telemetry id file is kept there when set."""
VERSION_VAR: Final = "PIGEON_DEMO_VERSION"
"""Demo only: the app version this server reports (simulated installs run several)."""
RUNTIME_VAR: Final = "PIGEON_DEMO_RUNTIME"
"""Demo only: a JSON object of runtime facts to report instead of this machine's."""


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What the reference server runs with.

    Attributes:
        version: the app version reported in telemetry and ``/api/_info``.
        api_key: the default user's API key.
        home: the data directory (holds the telemetry id), or ``None`` for the SDK default.
        simulated_runtime: runtime facts reported instead of the real ones (demo only).
        max_records_per_request: a bulk request with more records is refused.
        max_records_per_dataset: records beyond this are counted as ``failed``.
    """

    version: str = DEFAULT_VERSION
    api_key: str = DEFAULT_API_KEY
    home: Path | None = None
    simulated_runtime: Mapping[str, str] | None = None
    max_records_per_request: int = 10_000
    max_records_per_dataset: int = 100_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DemoSettings:
        """Read the settings from ``environ`` (default ``os.environ``).

        Raises:
            ValueError: ``PIGEON_DEMO_RUNTIME`` is not a JSON object of known string fields.
        """
        env = os.environ if environ is None else environ
        home = env.get(HOME_VAR, "").strip()
        return cls(
            version=env.get(VERSION_VAR, "").strip() or DEFAULT_VERSION,
            api_key=env.get(API_KEY_VAR, "").strip() or DEFAULT_API_KEY,
            home=Path(home) if home else None,
            simulated_runtime=_runtime(env.get(RUNTIME_VAR, "").strip()),
        )


def _runtime(raw: str) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError(f"{RUNTIME_VAR} must be a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError(f"{RUNTIME_VAR} must be a JSON object")
    for key, value in data.items():
        if key not in RUNTIME_FIELDS:
            raise ValueError(
                f"{RUNTIME_VAR}: unknown field {key!r} (allowed: {', '.join(RUNTIME_FIELDS)})"
            )
        if not isinstance(value, str):
            raise ValueError(f"{RUNTIME_VAR}: field {key!r} must be a string")
    return data
