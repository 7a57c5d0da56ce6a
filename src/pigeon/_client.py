"""``pigeon.Client``: the one object a host app holds.

Construction reads the environment once and decides. When telemetry is
disabled the client owns no thread, opens no file or socket, and ``track`` is
a no-op function. When enabled, ``track`` is a closure that appends one tuple
to a bounded deque: validation, enrichment, encoding and I/O all happen on the
sender thread (``pigeon._sender``), which starts on the first event.

Fork safety starts here: an enabled client imports, on the caller's thread,
every module its sender thread will use (the pipeline, the HTTP transport,
and what those import lazily). A process that forks while a thread is in
the middle of an import leaves its child a half-initialised module that no
later import can repair, so the sender thread must never import anything.

Delivery guarantees, in short: events are sent in batches within a few
seconds; a batch that fails for a transient reason is retried with the same
message ids (the collector de-duplicates, so an event is stored at most once);
at exit the client delivers for at most ``exit_timeout`` seconds and spools
the rest to disk for the next run. Events can still be lost, and are then
counted in :attr:`Client.counters`: queue full, collector refusal, spool full
or older than its age cap, a process killed before its exit hooks ran.
"""

from __future__ import annotations

import os
import sys
import time
import weakref

from pigeon._settings import Settings, env_prefix, read_settings

# Not typing.TYPE_CHECKING: importing typing alone costs several ms of `import pigeon`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from typing import Any

    from pigeon._consent import Consent
    from pigeon._crash import CrashDescriber
    from pigeon._identity import Identity
    from pigeon._pipeline import Item, Pipeline
    from pigeon._sender import Sender
    from pigeon._transports import Transport
    from pigeon.catalog import Catalog, Validation

__all__ = ["Client"]

if TYPE_CHECKING:
    TrackFunction = Callable[[str, Mapping[str, Any] | None], None]

_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_on_new_client: list[Callable[[Client], None]] = []


class Client:
    """Anonymous telemetry for one host app.

    Example::

        client = pigeon.Client(app="argilla", version="1.29.0",
                               endpoint="https://telemetry.example.org",
                               write_key="...")
        client.track("LogRecordsRequested", {"task": "TextClassification", "records": 120})

    Attributes:
        app: the app's name (prefix of its environment variables).
        version: the app's version, sent in every event's context.
        settings: what the environment decided at construction.
    """

    def __init__(
        self,
        app: str,
        version: str,
        catalog: Catalog | str | os.PathLike[str] | None = None,
        endpoint: str = "",
        write_key: str = "",
        *,
        enabled: bool | None = None,
        home: str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
        capacity: int = 10_000,
        environ: Mapping[str, str] | None = None,
        exit_timeout: float = 1.0,
        app_package: str | None = None,
    ) -> None:
        """Decide once whether telemetry is enabled, and prepare (but start nothing).

        Args:
            app: the app's name; ``<APP>_ENABLE_TELEMETRY`` and friends are read.
            version: the app's version.
            catalog: the catalog (a shipped name, a path or a :class:`Catalog`);
                defaults to the catalog named after the app.
            endpoint: the app's default collector URL (``<APP>_TELEMETRY_ENDPOINT`` overrides).
            write_key: the app's built-in write key (``<APP>_TELEMETRY_WRITE_KEY`` overrides).
            enabled: ``False`` disables whatever the environment says; ``None`` or
                ``True`` leave the decision to the environment (an opt-out always wins).
            home: the directory for the id file and spool (default: the platform's data dir).
            transport: where batches go (tests); default HTTP, or stderr in debug mode.
            capacity: the bound of the in-memory queue.
            environ: the environment to read (default ``os.environ``).
            exit_timeout: the most the interpreter's exit may wait for delivery
                (seconds, spool included, however the network behaves).
            app_package: the app's own top-level package, whose frames
                :meth:`report_exception` reports (other code is one ``<other>``
                marker); default: the app name with ``-`` replaced by ``_``.
        """
        self.app = app
        self.version = version
        env = os.environ if environ is None else environ
        self.settings: Settings = read_settings(
            app, env, enabled=enabled, endpoint=endpoint, write_key=write_key
        )
        # The user's `local` beats the app's transport: nothing may leave the process.
        sends = transport is None and not self.settings.debug and not self.settings.local
        if self.settings.enabled and sends and not self.settings.endpoint:
            self.settings = _disabled(self.settings, "no telemetry endpoint configured")
        if self.settings.enabled and sends:
            from pigeon._endpoint import parse_endpoint

            try:
                parse_endpoint(self.settings.endpoint)
            except ValueError as exc:
                self.settings = _disabled(self.settings, str(exc))
                _warn(f"{exc}: telemetry is disabled")
        self._catalog_ref: Catalog | str = (
            os.fspath(catalog or app)
            if catalog is None or isinstance(catalog, str | os.PathLike)
            else catalog
        )
        self._home_arg = home
        self._anonymous_id: str | None = None
        self._sender: Sender | None = None
        self._pipeline: Pipeline | None = None
        self._describe_crash: CrashDescriber | None = None
        self.app_package = app_package or app.replace("-", "_")
        for message in self.settings.warnings:
            _warn(message)
        if not self.settings.enabled:
            object.__setattr__(self, "track", _noop_track)
            return

        # Only an enabled client pays for these imports (catalog, sender, encoder).
        from pigeon._identity import load_identity
        from pigeon._pipeline import Pipeline
        from pigeon._sender import Policy, Sender
        from pigeon._transports import DebugTransport, LocalTransport

        identity = load_identity(self.home)
        self._anonymous_id = identity.anonymous_id
        if self.settings.local and not (transport is None and self.settings.debug):
            transport = LocalTransport()
        elif transport is None and self.settings.debug:
            transport = DebugTransport()
        elif transport is None:
            from pigeon._http import HTTPTransport

            transport = HTTPTransport(self.settings.endpoint, self.settings.write_key)
        self._pipeline = Pipeline(
            app=app,
            app_version=version,
            catalog=self._catalog_ref,
            anonymous_id=identity.anonymous_id,
            on_refused=self._refused,
        )
        self._pipeline.withheld = self._settle_consent(identity)
        self._sender = Sender(
            transport,
            self._pipeline.prepare,
            capacity=capacity,
            policy=Policy(exit_timeout=exit_timeout),
            # No spool or back-off file where the id could not be written either.
            home=str(identity.path.parent) if identity.path is not None else None,
            endpoint=self.settings.endpoint,
        )
        object.__setattr__(self, "track", _make_track(self._sender))
        self._describe_crash = _crash_describer(self)
        _live_clients.add(self)
        for hook in _on_new_client:
            hook(self)

    # The instance attribute set in __init__ shadows this method; it documents the API.
    def track(self, event: str, properties: Mapping[str, Any] | None = None) -> None:
        """Queue one event; never raises, never blocks, never does I/O.

        The properties are validated against the catalog later, on the sender
        thread: do not mutate the mapping after passing it.
        """

    def report_exception(self, exc: BaseException) -> None:
        """Queue one ``CrashReported`` for an unexpected exception; never raises or blocks.

        Sends the exception's class, the ``module:function:line`` frames of the
        app's own package (other code collapsed into ``<other>`` markers) and a
        signature that line shifts do not change; never its message, arguments,
        local variables, file names or paths. Opt-outs and modes apply exactly as
        for :meth:`track`. A no-op when the catalog declares no ``CrashReported``.

        Example::

            try:
                run_import(path)
            except Exception as exc:
                client.report_exception(exc)
                raise
        """
        describe = self._describe_crash
        if describe is None:
            return
        from pigeon._crash import CRASH_EVENT  # loaded with the describer; not at import

        # Not contextlib.suppress: contextlib is kept out of `import pigeon` for speed.
        try:  # noqa: SIM105
            self.track(CRASH_EVENT, describe(exc).properties())
        except Exception:  # noqa: S110  # never raise into the host: the crash goes unreported
            pass

    @property
    def enabled(self) -> bool:
        """Whether telemetry is enabled (decided once, at construction)."""
        return self.settings.enabled

    @property
    def mode(self) -> str:
        """``"on"``, ``"local"`` (recorded in the local ledger, nothing sent) or ``"off"``."""
        return self.settings.mode

    @property
    def disabled_reason(self) -> str | None:
        """The opt-out in force (e.g. ``"DO_NOT_TRACK=1"``), or ``None`` when enabled."""
        return self.settings.disabled_reason

    @property
    def anonymous_id(self) -> str | None:
        """The random install id, or ``None`` when disabled (no file was read or written)."""
        return self._anonymous_id

    @property
    def home(self) -> Path:
        """The directory holding the id file (and the spool)."""
        from pigeon._identity import data_dir

        return data_dir(self.app, self._home_arg)

    @property
    def env_prefix(self) -> str:
        """The prefix of this app's environment variables (``ARGILLA``)."""
        return env_prefix(self.app)

    @property
    def counters(self) -> dict[str, int]:
        """What became of this process's events so far (empty when disabled).

        A snapshot; keys appear once non-zero. Events:

        - ``sent``: acknowledged by the collector.
        - ``recorded_locally``: ``local`` mode: written to the ledger, never sent.
        - ``refused``: refused by the catalog (never sent; a warning names the field).
        - ``dropped_queue_full``: tracked while the in-memory queue was full.
        - ``dropped_rejected``: refused by the collector (HTTP 4xx other than
          408/429, or listed in its ``rejected`` answer); not retried.
        - ``spooled``: written to the on-disk spool at exit; ``restored``:
          read back from a previous run's spool.
        - ``dropped_spool_full``, ``dropped_expired`` (older than the spool's
          age cap), ``dropped_unspooled`` (the spool could not be written),
          ``dropped_forgotten`` (discarded by :meth:`forget`).

        Delivery attempts that failed, by reason (each is retried later):
        ``failed_dns``, ``failed_connect``, ``failed_timeout``, ``failed_tls``,
        ``failed_network``, ``failed_protocol``, ``failed_http_<status>``.
        Also ``spool_corrupt`` (spool files discarded), ``ledger_failed`` (batches
        the local ledger could not record) and ``internal_error``.
        """
        return self._sender.counters if self._sender is not None else {}

    @property
    def catalog(self) -> Catalog:
        """The catalog events are validated against (loaded on first access)."""
        if self._pipeline is not None:
            return self._pipeline.catalog
        from pigeon.catalog import Catalog

        ref = self._catalog_ref
        return ref if isinstance(ref, Catalog) else Catalog.load(ref)

    def flush(self, timeout: float = 2.0, *, spool: bool = False) -> bool:
        """Wait up to ``timeout`` seconds for queued events to be delivered.

        Events refused by the catalog do not count (they are never sent). When
        the collector failed recently and the next attempt is due after
        ``timeout``, this returns False at once instead of retrying early: a
        flush never hammers a collector that is down.

        With ``spool=True``, what is not delivered within ``timeout`` is written
        to the on-disk spool (a later run sends it) and the client goes on: for
        a shutdown hook of a server whose workers end without running exit
        hooks (uvicorn; :class:`~pigeon.integrations.asgi.TelemetryMiddleware`
        does it on ``lifespan.shutdown``).

        Returns:
            True when everything queued before the call was delivered (always
            True when disabled); False on timeout, or when the collector
            refused some of the events.
        """
        if self._sender is None:
            return True
        try:
            if spool:
                return self._sender.checkpoint(time.monotonic() + max(0.0, timeout))
            return self._sender.flush(timeout)
        except Exception:  # never raise into the host
            return False

    def shutdown(self, timeout: float = 1.0) -> None:
        """Deliver within ``timeout`` seconds, spool what is left, and stop.

        Events tracked afterwards are ignored. Interpreter exit does the same
        with ``exit_timeout``, so calling this is only needed to stop early.
        """
        if self._sender is None:
            return
        # Not contextlib.suppress: contextlib is kept out of `import pigeon` for speed.
        try:  # noqa: SIM105
            self._sender.close(time.monotonic() + max(0.0, timeout))
        except Exception:  # noqa: S110  # shutdown runs at exit: nobody is left to tell
            pass
        object.__setattr__(self, "track", _noop_track)
        _live_clients.discard(self)

    def forget(self, timeout: float = 5.0) -> bool:
        """Ask the collector to delete this install's events, and start a new id.

        Drops every event not yet delivered (the spool included), sends
        ``DELETE {endpoint}/v1/installs/{anonymous_id}`` with the write key,
        then replaces the id file with a new random id, so later events cannot
        be linked to earlier ones. The id is replaced even when the collector
        cannot be reached.

        Returns:
            True when the collector confirmed the deletion (False when disabled,
            unreachable, or the transport cannot forget).
        """
        sender, old = self._sender, self._anonymous_id
        if sender is None or old is None:
            return False
        deadline = time.monotonic() + max(0.0, timeout)
        # New id first, so that events tracked from now on never carry the old
        # one; then drop what does carry it (waiting for a request in flight),
        # and only then ask the collector to delete it.
        try:  # noqa: SIM105  # contextlib is kept off the import path
            self._rotate_id(old)
        except Exception:  # noqa: S110  # the old id stays; the deletion still happens
            pass
        try:
            sender.discard(timeout)
            forget = getattr(sender.transport, "forget", None)
            if forget is None:
                return False
            return bool(forget(old, max(0.0, deadline - time.monotonic())))
        except Exception:  # never raise into the host
            return False

    def _settle_consent(self, identity: Identity) -> frozenset[str]:
        """Show the notice this install needs, record what it accepted; what to withhold."""
        from pigeon import _consent

        notify = not self.settings.in_ci
        directory = identity.path.parent if identity.path is not None else None
        try:
            catalog = self.catalog  # loaded here, on the caller's thread
            previous = _consent.read(directory) if directory is not None else None
            decision = _consent.decide(
                previous, catalog, first_run=identity.created, can_notify=notify
            )
        except Exception:  # a broken catalog is refused event by event, later
            decision = _consent.Decision((), frozenset(), record=False)
            catalog, previous = None, None
        if identity.created and notify:
            _first_run_notice(self)
        elif decision.added and catalog is not None:
            _changed_notice(self, catalog, previous, decision.added)
        if decision.record and directory is not None and catalog is not None:
            _consent.write(directory, catalog)
        return decision.withheld

    def _rotate_id(self, old: str) -> None:
        from pigeon._identity import ID_FILENAME, load_identity, new_id
        from pigeon._pipeline import Pipeline

        try:  # noqa: SIM105  # contextlib is kept off the import path
            os.unlink(self.home / ID_FILENAME)
        except OSError:
            pass
        anonymous_id = load_identity(self.home).anonymous_id
        if anonymous_id == old:  # the file could not be replaced: a new id in memory
            anonymous_id = new_id()
        old_pipeline = self._pipeline
        self._pipeline = Pipeline(
            app=self.app,
            app_version=self.version,
            catalog=old_pipeline.catalog if old_pipeline is not None else self._catalog_ref,
            anonymous_id=anonymous_id,
            on_refused=self._refused,
            withheld=old_pipeline.withheld if old_pipeline is not None else frozenset(),
        )
        if self._sender is not None:
            self._sender.prepare = self._pipeline.prepare
        self._anonymous_id = anonymous_id

    def _refused(self, event: str, result: Validation) -> None:
        from pigeon._sender import warn_once

        fields = ", ".join(f"{p.path}: {p.reason}" for p in result.problems)
        warn_once(f"refused:{event}"[:200], f"event {event!r} refused by the catalog ({fields})")

    def __repr__(self) -> str:
        state = "enabled" if self.enabled else f"disabled: {self.disabled_reason}"
        return f"<pigeon.Client app={self.app!r} version={self.version!r} {state}>"


def _crash_describer(client: Client) -> CrashDescriber | None:
    """What turns exceptions into ``CrashReported`` properties, if the catalog declares it."""
    from pigeon._crash import CRASH_EVENT, CrashDescriber

    try:
        spec = client.catalog.events.get(CRASH_EVENT)
    except Exception:  # a broken catalog: every event is refused later, crashes too
        return None
    if spec is None:
        return None
    exception = spec.properties.get("exception")
    max_exception = exception.max_length if exception and exception.type == "string" else None
    frames = spec.properties.get("frames")
    if frames is None or frames.type != "frames":  # no frames sent: any bounds do
        max_frames = max_length = 1
    else:
        max_frames, max_length = frames.max_frames, frames.max_length
    return CrashDescriber(
        client.app_package,
        max_frames=max_frames,
        max_length=max_length,
        max_exception=max_exception,
    )


def _noop_track(event: str, properties: Mapping[str, Any] | None = None) -> None:
    """Telemetry is disabled: do nothing at all."""


def _make_track(sender: Sender) -> TrackFunction:
    # Every name the hot path needs is a closure cell: no attribute look-ups per call.
    from pigeon._sender import MAX_BATCH_EVENTS

    queue = sender.queue
    append = queue.append
    capacity = sender.capacity
    kick = sender.kick
    ensure_started = sender.ensure_started
    overflow = sender.overflow
    clock = time.time
    full_at = MAX_BATCH_EVENTS - 1

    def track(event: str, properties: Mapping[str, Any] | None = None) -> None:
        n = len(queue)
        if n < capacity:
            append((event, properties, clock()))
            # The first event only makes sure the thread runs (it sends within its
            # interval); a full batch wakes it at once. Waking on every first event
            # would send batches of one and cost the caller a lock and a notify.
            if not n:
                ensure_started()
            elif n == full_at:
                kick()
        else:
            overflow()

    track.__doc__ = Client.track.__doc__
    return track


def _disabled(settings: Settings, reason: str) -> Settings:
    return settings._replace(enabled=False, disabled_reason=reason, opt_outs=(reason,))


def _warn(message: str) -> None:
    import logging

    logging.getLogger("pigeon").warning("pigeon: %s", message)


def _first_run_notice(client: Client) -> None:
    prefix = client.env_prefix
    if client.settings.local:
        where = (
            f"nowhere: {prefix}_TELEMETRY_MODE=local records them on this machine only "
            f"(`pigeon log --app {client.app}`)"
        )
    elif client.settings.debug:
        where = "nowhere (debug mode prints them on stderr instead)"
    else:
        where = client.settings.endpoint or "the transport configured by the app"
    sys.stderr.write(
        f"{client.app} collects anonymous usage statistics (app, Python and OS versions, "
        f"which features and errors occur; never your data, names, messages or paths) and "
        f"sends them to {where}.\n"
        f"Run `pigeon preview --app {client.app}` to see exactly what is sent and "
        f"`pigeon log --app {client.app}` to see what was. "
        f"To opt out, set {prefix}_ENABLE_TELEMETRY=0 or DO_NOT_TRACK=1.\n"
    )


def _changed_notice(
    client: Client, catalog: Catalog, previous: Consent | None, added: tuple[str, ...]
) -> None:
    """The notice of a catalog that added events or fields: exactly what, and why."""
    seen = f"v{previous.version}" if previous is not None else "an earlier version"
    lines = [
        f"{client.app} now collects more anonymous usage statistics than when you were "
        f"last told (catalog {catalog.name} {seen} -> v{catalog.version}). Added:"
    ]
    for item in added:
        event, _, prop = item.partition(".")
        spec = catalog.events[event]
        purpose = spec.properties[prop].purpose if prop else spec.purpose
        lines.append(f"  - {item}: {purpose}")
    lines.append(
        f"Run `pigeon catalog show {catalog.name}` for the whole catalog. To opt out, set "
        f"{client.env_prefix}_ENABLE_TELEMETRY=0 or DO_NOT_TRACK=1."
    )
    sys.stderr.write("\n".join(lines) + "\n")


def live_clients() -> list[Client]:
    """The enabled clients of this process (for ``pigeon.testing``)."""
    return list(_live_clients)


def watch_new_clients(hook: Callable[[Client], None] | None) -> None:
    """Call ``hook`` on every enabled client created from now on; ``None`` stops (testing)."""
    _on_new_client.clear()
    if hook is not None:
        _on_new_client.append(hook)


def bind_track(client: Client, track: TrackFunction | None) -> None:
    """Replace (or with ``None`` restore) a client's ``track`` (for ``pigeon.testing``)."""
    if track is None:
        object.__setattr__(
            client,
            "track",
            _make_track(client._sender) if client._sender is not None else _noop_track,
        )
    else:
        object.__setattr__(client, "track", track)


def prepare_now(client: Client, item: Item) -> str | None:
    """Validate and encode one item synchronously (for ``pigeon.testing``)."""
    if client._pipeline is None:
        return None
    return client._pipeline.prepare(item)
