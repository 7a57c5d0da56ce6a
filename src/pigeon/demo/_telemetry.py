"""The reference server's telemetry client, built from the environment like any host app's.

Also the start banner, which tells the truth about every opt-out in force, and
the demo-only runtime simulation (see :func:`simulate_runtime`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pigeon
from pigeon.demo._settings import (
    APP_NAME,
    DEFAULT_TELEMETRY_ENDPOINT,
    RUNTIME_VAR,
    TELEMETRY_WRITE_KEY,
    DemoSettings,
)

__all__ = ["build_client", "simulate_runtime", "telemetry_banner"]


def build_client(settings: DemoSettings, environ: Mapping[str, str] | None = None) -> pigeon.Client:
    """The server's :class:`pigeon.Client`: the SDK reads the telemetry variables itself.

    ``ARGILLA_ENABLE_TELEMETRY``, ``DO_NOT_TRACK`` and CI markers decide whether it
    is enabled; ``ARGILLA_TELEMETRY_ENDPOINT`` and ``ARGILLA_TELEMETRY_WRITE_KEY``
    replace the built-in endpoint and write key; ``ARGILLA_TELEMETRY_DEBUG=1``
    prints payloads instead of sending them.
    """
    if settings.simulated_runtime:
        simulate_runtime(settings.simulated_runtime)
    return pigeon.Client(
        app=APP_NAME,
        version=settings.version,
        catalog=APP_NAME,
        endpoint=DEFAULT_TELEMETRY_ENDPOINT,
        write_key=TELEMETRY_WRITE_KEY,
        home=settings.home,
        environ=environ,
        # The server's own code, whose frames a crash reports (not the app name's `argilla`).
        app_package="pigeon.demo",
    )


def simulate_runtime(facts: Mapping[str, str]) -> Callable[[], None]:
    """Report ``facts`` (Python version, system, machine...) instead of this machine's.

    Demo only (``PIGEON_DEMO_RUNTIME``): ``pigeon demo`` plays several installs
    on one machine, and each server process pretends to run on another system.
    The process announces it in its start banner. Returns a function that
    restores the real facts (for tests).
    """
    from pigeon import _system

    real = _system.runtime
    simulated = _system.Runtime(**{**real(), **facts})  # type: ignore[typeddict-item]

    def simulated_runtime() -> _system.Runtime:
        return simulated

    # The context is built from `_system.runtime()` on the sender thread: replacing
    # it before the client's first event is the one seam that covers every event.
    setattr(_system, "runtime", simulated_runtime)  # noqa: B010  # keeps mypy off a cached function

    def restore() -> None:
        setattr(_system, "runtime", real)  # noqa: B010

    return restore


def telemetry_banner(client: pigeon.Client, settings: DemoSettings) -> str:
    """What the server prints at start: telemetry on or off, why, and how to change it."""
    prefix = client.env_prefix
    if not client.enabled:
        reasons = "; ".join(client.settings.opt_outs) or str(client.disabled_reason)
        return f"Telemetry is disabled ({reasons}): nothing is collected or sent."
    if client.settings.debug:
        where = f"stderr only ({prefix}_TELEMETRY_DEBUG is set: nothing is sent)"
    else:
        where = client.settings.endpoint or "the transport configured by the app"
    lines = [
        f"Telemetry is enabled: anonymous usage statistics (app, Python and OS versions, "
        f"which API features and errors occur; never your data, names, messages or paths) "
        f"go to {where}.",
        f"  See exactly what is sent: pigeon preview --app {client.app}",
        f"  Turn it off: set {prefix}_ENABLE_TELEMETRY=0 (or DO_NOT_TRACK=1) and restart.",
    ]
    if settings.simulated_runtime:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(settings.simulated_runtime.items()))
        lines.append(f"  Demo ({RUNTIME_VAR}): reporting a simulated runtime: {shown}.")
    return "\n".join(lines)
