"""From a tracked item to a wire message: validate, enrich, encode.

Runs on the sender thread (or synchronously under ``pigeon.testing``), never on
the caller's: loading the catalog (``tomllib``), computing the system context
(``platform``) and encoding all happen here, always before anything leaves the
process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pigeon._system import build_context
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
    ) -> None:
        """Prepare for ``app``; ``catalog`` is loaded on first use when given by name."""
        self._app = app
        self._app_version = app_version
        self._catalog_ref = catalog
        self._anonymous_id = anonymous_id
        self._on_refused = on_refused
        self._catalog: Catalog | None = catalog if isinstance(catalog, Catalog) else None
        self._encoder: MessageEncoder | None = None

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
        result = self.catalog.validate(event, properties)
        if result.problems:
            if self._on_refused is not None:
                self._on_refused(event, result)
            return None
        return self._ensure_encoder().encode(event, result.properties, timestamp)
