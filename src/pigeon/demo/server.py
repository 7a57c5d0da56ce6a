"""The reference labelling server as an ASGI app: ``uvicorn pigeon.demo.server:app``.

An Argilla-style API (``X-Argilla-Api-Key``; ``/api/me``; workspaces; datasets;
``POST /api/datasets/{name}/{task}:bulk``) kept in memory and instrumented with
pigeon. Telemetry follows the environment like any host app's: opt out with
``ARGILLA_ENABLE_TELEMETRY=0`` or ``DO_NOT_TRACK=1``; point it at your own
collector with ``ARGILLA_TELEMETRY_ENDPOINT`` (default ``http://127.0.0.1:8642``,
a local ``pigeon serve``) and ``ARGILLA_TELEMETRY_WRITE_KEY`` (default
``argilla-demo``); print payloads instead of sending them with
``ARGILLA_TELEMETRY_DEBUG=1``.

Importing this module builds the app, and with it the telemetry client (which
reads the environment and, when enabled, the install id). Tests build their own
with :func:`create_app`.
"""

from pigeon.demo._app import create_app
from pigeon.demo._settings import DemoSettings

__all__ = ["DemoSettings", "app", "create_app"]

try:
    _settings = DemoSettings.from_env()
except ValueError as _error:
    # A bad setting is one line for the person starting the server, not a traceback.
    raise SystemExit(f"reference server: {_error}") from None

app = create_app(settings=_settings)
"""The ASGI app, configured from the environment."""
