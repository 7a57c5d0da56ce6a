"""From a tracked item to a wire message: validate, enrich, encode.

Validation and encoding run on the sender thread (or synchronously under
``pigeon.testing``), never in ``track()``, and always before anything leaves
the process. What they need is made ready on the caller's thread when the
pipeline is built: the modules (a fork must never catch the sender thread in
the middle of an import) and the system facts (``platform`` imports modules
and runs ``uname -p`` the first time). Parsing the catalog stays on the
sender thread: a broken catalog must not raise in the host's constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

# Catalog.load imports the parser lazily (it imports pigeon.catalog back).
import pigeon._catalog_parse  # noqa: F401
from pigeon._system import build_context, runtime
from pigeon._wire import MessageEncoder
from pigeon.catalog import Catalog, Validation

__all__ = ["Item", "Pipeline"]

Item = tuple[str, "Mapping[str, object] | None", float]
"""What ``track()`` queues: event name, the caller's properties, time of the call."""


class Pipeline:
    """Validates items against the catalog and encodes the accepted ones."""

    def __init__(
        self,
        *,
        app: str,
        app_version: str,
        catalog: Catalog | str,
        anonymous_id: str,
        on_refused: Callable[[str, Validation], None] | None = None,
        withheld: frozenset[str] = frozenset(),
    ) -> None:
        """Prepare for ``app``; ``catalog`` is loaded on first use when given by name.

        ``withheld``: events (``Event``) and fields (``Event.property``) that are
        dropped before validation: a catalog added them, and the install's users
        have not been told yet (:mod:`pigeon._consent`).
        """
        self._app = app
        self._app_version = app_version
        self._catalog_ref = catalog
        self._anonymous_id = anonymous_id
        self._on_refused = on_refused
        self._catalog: Catalog | None = catalog if isinstance(catalog, Catalog) else None
        self._encoder: MessageEncoder | None = None
        self.withheld = withheld
        runtime()  # computed once per process, here rather than on the sender thread

    @property
    def catalog(self) -> Catalog:
        """The catalog (loaded now if it was given by name)."""
        if self._catalog is None:
            self._catalog = Catalog.load(str(self._catalog_ref))
        return self._catalog

    @property
    def context(self) -> dict[str, object]:
        """The context object sent with every message."""
        catalog = self.catalog
        return build_context(self._app, self._app_version, catalog.name, catalog.version)

    def _ensure_encoder(self) -> MessageEncoder:
        if self._encoder is None:
            self._encoder = MessageEncoder(self._anonymous_id, self.context)
        return self._encoder

    def prepare(self, item: Item) -> str | None:
        """The encoded message for ``item``, or ``None`` when the catalog refuses it."""
        event, properties, timestamp = item
        withheld = self.withheld
        if withheld:
            if event in withheld:
                return None
            if properties:
                properties = {k: v for k, v in properties.items() if f"{event}.{k}" not in withheld}
        result = self.catalog.validate(event, properties)
        if result.problems:
            if self._on_refused is not None:
                self._on_refused(event, result)
            return None
        return self._ensure_encoder().encode(event, result.properties, timestamp)
