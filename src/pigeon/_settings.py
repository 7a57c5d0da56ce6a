"""The environment a client obeys, read once into an immutable :class:`Settings`.

Precedence (DESIGN.md section 3): an explicit ``enabled=False`` in code or any
disabling variable wins; nothing overrides an opt-out. ``CI`` and the usual CI
markers disable unless ``<APP>_ENABLE_TELEMETRY`` or ``<APP>_TELEMETRY_MODE``
explicitly enables.

Modes (``<APP>_TELEMETRY_MODE``): ``on`` (the default) sends; ``local`` records
every batch in the local ledger and never opens a socket; ``off`` is an opt-out
like ``<APP>_ENABLE_TELEMETRY=0``. ``local`` never overrides an opt-out.

This module is on the path of ``import pigeon``: it imports nothing at run
time (not even ``typing``, which alone costs several milliseconds).
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: typing is kept out of `import pigeon`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

__all__ = [
    "CI_MARKERS",
    "DO_NOT_TRACK",
    "ENABLE_TELEMETRY",
    "TELEMETRY_DEBUG",
    "TELEMETRY_ENDPOINT",
    "TELEMETRY_MODE",
    "TELEMETRY_WRITE_KEY",
    "Settings",
    "env_prefix",
    "read_settings",
]

DO_NOT_TRACK: Final = "DO_NOT_TRACK"
"""The cross-tool opt-out (https://consoledonottrack.com): any value but empty, 0 or false."""

ENABLE_TELEMETRY: Final = "{prefix}_ENABLE_TELEMETRY"
"""0/false/no/off disables, 1/true/yes/on opts in again; anything else disables with a warning."""

TELEMETRY_MODE: Final = "{prefix}_TELEMETRY_MODE"
"""``off``, ``local`` (record in the local ledger, send nothing) or ``on`` (the default).

Any other value disables, with one warning that names it.
"""

MODES: Final = ("off", "local", "on")
"""The values of ``<APP>_TELEMETRY_MODE``, and of :attr:`Settings.mode`."""

TELEMETRY_ENDPOINT: Final = "{prefix}_TELEMETRY_ENDPOINT"
"""Send to this collector instead of the app's default (own collector, air-gapped networks)."""

TELEMETRY_WRITE_KEY: Final = "{prefix}_TELEMETRY_WRITE_KEY"
"""Use this write key instead of the app's built-in one."""

TELEMETRY_DEBUG: Final = "{prefix}_TELEMETRY_DEBUG"
"""1: print each payload as one JSON line on stderr and send nothing.

Any value but empty/0/false/no/off turns debug on: a mistyped value errs on
the side of sending nothing.
"""

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
    "SEMAPHORE",
    "BITRISE_IO",
    "WOODPECKER_CI",
)
"""Variables whose presence (with a value other than empty/0/false/no/off) means CI."""

_FALSE: Final = frozenset({"0", "false", "no", "off"})
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
# DO_NOT_TRACK follows consoledonottrack.com: only empty, 0 and false leave it off.
_DNT_OFF: Final = frozenset({"", "0", "false"})


def env_prefix(app: str) -> str:
    """The variable prefix of an app: its name upper-cased, other characters as ``_``.

    Example: ``env_prefix("my-app")`` is ``"MY_APP"``.
    """
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in app.upper())


class Settings:
    """What the environment and the code decided, once, at client construction.

    Immutable; :meth:`_replace` returns a modified copy (the ``NamedTuple``
    spelling, kept so that callers need not care which one this is).

    Attributes:
        enabled: whether anything may be collected at all.
        disabled_reason: the opt-out in force, e.g. ``"ARGILLA_ENABLE_TELEMETRY=0"``.
        endpoint: the collector's base URL (empty when neither code nor environment gave one).
        write_key: the key sent as the HTTP Basic user name.
        debug: print payloads on stderr instead of sending them.
        local: record batches in the local ledger and send nothing (mode ``local``).
        in_ci: the process looks like a CI job (no first-run notice there).
        warnings: messages to log once (an unrecognised variable value).
        opt_outs: every opt-out in force, not only the winning one (for status output).
    """

    __slots__ = (
        "debug",
        "disabled_reason",
        "enabled",
        "endpoint",
        "in_ci",
        "local",
        "opt_outs",
        "warnings",
        "write_key",
    )

    enabled: bool
    disabled_reason: str | None
    endpoint: str
    write_key: str
    debug: bool
    in_ci: bool
    local: bool
    warnings: tuple[str, ...]
    opt_outs: tuple[str, ...]

    def __init__(
        self,
        *,
        enabled: bool,
        disabled_reason: str | None,
        endpoint: str,
        write_key: str,
        debug: bool,
        in_ci: bool,
        warnings: tuple[str, ...] = (),
        opt_outs: tuple[str, ...] = (),
        local: bool = False,
    ) -> None:
        """Record the decision; see the class attributes."""
        set_ = object.__setattr__
        set_(self, "enabled", enabled)
        set_(self, "disabled_reason", disabled_reason)
        set_(self, "endpoint", endpoint)
        set_(self, "write_key", write_key)
        set_(self, "debug", debug)
        set_(self, "in_ci", in_ci)
        set_(self, "local", local)
        set_(self, "warnings", warnings)
        set_(self, "opt_outs", opt_outs)

    @property
    def mode(self) -> str:
        """``off`` (disabled), ``local`` (ledger only) or ``on``."""
        if not self.enabled:
            return "off"
        return "local" if self.local else "on"

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def _replace(self, **changes: Any) -> Settings:
        """A copy with some attributes changed."""
        values = self._asdict()
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Settings has no attribute {sorted(unknown)[0]!r}")
        values.update(changes)
        return Settings(**values)

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse: settings are decided once."""
        raise AttributeError(f"Settings are immutable (tried to set {name!r})")

    def __eq__(self, other: object) -> bool:
        """Equal when every attribute is."""
        if not isinstance(other, Settings):
            return NotImplemented
        return self._asdict() == other._asdict()

    def __hash__(self) -> int:
        """Hash of every attribute (all of them are immutable)."""
        return hash(tuple(self._asdict().values()))

    def __repr__(self) -> str:
        """All attributes, as keyword arguments."""
        fields = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"Settings({fields})"


def read_settings(
    app: str,
    environ: Mapping[str, str],
    *,
    enabled: bool | None = None,
    endpoint: str = "",
    write_key: str = "",
) -> Settings:
    """Decide, from code arguments and the environment, what a client may do.

    Values are compared case-insensitively after stripping surrounding
    whitespace; an empty variable counts as unset.

    Args:
        app: the app's name; its upper-cased form prefixes the variables.
        environ: the environment (``os.environ`` in production).
        enabled: ``False`` in code disables whatever the environment says.
        endpoint: the app's default collector URL.
        write_key: the app's built-in write key.

    Returns:
        The decision. ``opt_outs`` lists every opt-out in force in this order:
        code, ``<APP>_ENABLE_TELEMETRY``, ``<APP>_TELEMETRY_MODE``, ``DO_NOT_TRACK``,
        CI; the first one is the ``disabled_reason``.
    """
    prefix = env_prefix(app)
    warnings: list[str] = []
    opt_outs: list[str] = []
    if enabled is False:
        opt_outs.append("enabled=False in code")

    enable_var = ENABLE_TELEMETRY.format(prefix=prefix)
    raw_enable = environ.get(enable_var, "").strip()
    explicit_on = False
    if raw_enable:
        value = raw_enable.lower()
        if value in _TRUE:
            explicit_on = True
        elif value in _FALSE:
            opt_outs.append(f"{enable_var}={raw_enable}")
        else:
            opt_outs.append(f"{enable_var}={raw_enable!r} (unrecognised value)")
            warnings.append(
                f"{enable_var} has the unrecognised value {raw_enable!r}: telemetry "
                f"is disabled. Use 0 to disable or 1 to enable."
            )

    mode_var = TELEMETRY_MODE.format(prefix=prefix)
    raw_mode = environ.get(mode_var, "").strip()
    local = False
    if raw_mode:
        value = raw_mode.lower()
        if value in ("on", "local"):
            explicit_on = True
            local = value == "local"
        elif value == "off":
            opt_outs.append(f"{mode_var}={raw_mode}")
        else:
            opt_outs.append(f"{mode_var}={raw_mode!r} (unrecognised value)")
            warnings.append(
                f"{mode_var} has the unrecognised value {raw_mode!r}: telemetry is "
                f"disabled. Use off, local or on."
            )

    dnt = environ.get(DO_NOT_TRACK, "").strip()
    if dnt.lower() not in _DNT_OFF:
        opt_outs.append(f"{DO_NOT_TRACK}={dnt}")

    ci_marker = next((m for m in CI_MARKERS if _truthy(environ.get(m, ""))), None)
    in_ci = ci_marker is not None
    if ci_marker is not None and not explicit_on:
        opt_outs.append(f"{ci_marker}={environ[ci_marker].strip()} (CI detected)")

    return Settings(
        enabled=not opt_outs,
        disabled_reason=opt_outs[0] if opt_outs else None,
        endpoint=environ.get(TELEMETRY_ENDPOINT.format(prefix=prefix), "").strip()
        or endpoint.strip(),
        write_key=environ.get(TELEMETRY_WRITE_KEY.format(prefix=prefix), "").strip()
        or write_key.strip(),
        debug=_truthy(environ.get(TELEMETRY_DEBUG.format(prefix=prefix), "")),
        in_ci=in_ci,
        warnings=tuple(warnings),
        opt_outs=tuple(opt_outs),
        local=local,
    )


def _truthy(value: str) -> bool:
    return value.strip().lower() not in _FALSE and value.strip() != ""
