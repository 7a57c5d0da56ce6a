"""The environment a client obeys, read once into an immutable :class:`Settings`.

Precedence (DESIGN.md section 3): an explicit ``enabled=False`` in code or any
disabling variable wins; nothing overrides an opt-out. ``CI`` and the usual CI
markers disable unless ``<APP>_ENABLE_TELEMETRY`` explicitly enables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

__all__ = [
    "CI_MARKERS",
    "DO_NOT_TRACK",
    "Settings",
    "env_prefix",
    "read_settings",
]

DO_NOT_TRACK: Final = "DO_NOT_TRACK"
"""The cross-tool opt-out (https://consoledonottrack.com): any value but empty, 0 or false."""

ENABLE_TELEMETRY: Final = "{prefix}_ENABLE_TELEMETRY"
"""0/false/no/off disables, 1/true/yes/on opts in again; anything else disables with a warning."""

TELEMETRY_ENDPOINT: Final = "{prefix}_TELEMETRY_ENDPOINT"
"""Send to this collector instead of the app's default (own collector, air-gapped networks)."""

TELEMETRY_WRITE_KEY: Final = "{prefix}_TELEMETRY_WRITE_KEY"
"""Use this write key instead of the app's built-in one."""

TELEMETRY_DEBUG: Final = "{prefix}_TELEMETRY_DEBUG"
"""1: print each payload as one JSON line on stderr and send nothing."""

CI_MARKERS: Final = (
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "TRAVIS",
    "CIRCLECI",
    "BUILDKITE",
    "JENKINS_URL",
    "TEAMCITY_VERSION",
    "TF_BUILD",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID",
    "APPVEYOR",
    "DRONE",
)
"""Variables whose presence (with a true-ish value) means the process runs in CI."""

_FALSE: Final = frozenset({"0", "false", "no", "off"})
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


def env_prefix(app: str) -> str:
    """The variable prefix of an app: its name upper-cased, other characters as ``_``."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in app.upper())


class Settings(NamedTuple):
    """What the environment and the code decided, once, at client construction.

    Attributes:
        enabled: whether anything may be collected at all.
        disabled_reason: the opt-out in force, e.g. ``"ARGILLA_ENABLE_TELEMETRY=0"``.
        endpoint: the collector's base URL.
        write_key: the key sent as the HTTP Basic user name.
        debug: print payloads on stderr instead of sending them.
        in_ci: the process looks like a CI job (no first-run notice there).
        warnings: messages to log once (an unrecognised variable value).
        opt_outs: every opt-out in force, not only the winning one (for status output).
    """

    enabled: bool
    disabled_reason: str | None
    endpoint: str
    write_key: str
    debug: bool
    in_ci: bool
    warnings: tuple[str, ...] = ()
    opt_outs: tuple[str, ...] = ()


def read_settings(
    app: str,
    environ: Mapping[str, str],
    *,
    enabled: bool | None = None,
    endpoint: str = "",
    write_key: str = "",
) -> Settings:
    """Decide, from code arguments and the environment, what a client may do.

    Args:
        app: the app's name; its upper-cased form prefixes the variables.
        environ: the environment (``os.environ`` in production).
        enabled: ``False`` in code disables whatever the environment says.
        endpoint: the app's default collector URL.
        write_key: the app's built-in write key.
    """
    prefix = env_prefix(app)
    warnings: list[str] = []
    opt_outs: list[str] = []
    if enabled is False:
        opt_outs.append("enabled=False in code")

    enable_var = ENABLE_TELEMETRY.format(prefix=prefix)
    raw_enable = environ.get(enable_var)
    explicit_on = False
    if raw_enable is not None and raw_enable.strip() != "":
        value = raw_enable.strip().lower()
        if value in _TRUE:
            explicit_on = True
        elif value in _FALSE:
            opt_outs.append(f"{enable_var}={raw_enable.strip()}")
        else:
            opt_outs.append(f"{enable_var}={raw_enable.strip()!r} (unrecognised value)")
            warnings.append(
                f"{enable_var} has the unrecognised value {raw_enable.strip()!r}: telemetry "
                f"is disabled. Use 0 to disable or 1 to enable."
            )

    dnt = environ.get(DO_NOT_TRACK)
    if dnt is not None and dnt.strip().lower() not in {"", "0", "false"}:
        opt_outs.append(f"{DO_NOT_TRACK}={dnt.strip()}")

    ci_marker = next((m for m in CI_MARKERS if _truthy_marker(environ.get(m))), None)
    in_ci = ci_marker is not None
    if in_ci and not explicit_on:
        opt_outs.append(f"{ci_marker}={environ[str(ci_marker)]} (CI detected)")

    debug_raw = environ.get(TELEMETRY_DEBUG.format(prefix=prefix), "").strip().lower()
    return Settings(
        enabled=not opt_outs,
        disabled_reason=opt_outs[0] if opt_outs else None,
        endpoint=(environ.get(TELEMETRY_ENDPOINT.format(prefix=prefix)) or endpoint).strip(),
        write_key=(environ.get(TELEMETRY_WRITE_KEY.format(prefix=prefix)) or write_key).strip(),
        debug=debug_raw in _TRUE,
        in_ci=in_ci,
        warnings=tuple(warnings),
        opt_outs=tuple(opt_outs),
    )


def _truthy_marker(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in {"", "0", "false", "no", "off"}
