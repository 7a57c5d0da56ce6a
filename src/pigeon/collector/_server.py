"""Running the collector with uvicorn: no access log, no proxy headers, graceful stop.

No client address is ever logged: uvicorn's access log is off, its other
messages name no client below TRACE level, and ``X-Forwarded-For`` and
friends are ignored. SIGTERM (or Ctrl-C) stops accepting connections, lets
in-flight requests finish (their events are committed before their 200),
then closes the store.
"""

from __future__ import annotations

import gc
import socket
import sys
from collections.abc import Callable
from typing import Any, Final

from pigeon.collector._app import create_app
from pigeon.collector._config import CollectorConfig
from pigeon.collector.storage import Store

__all__ = ["LOG_CONFIG", "bind", "serve"]

GRACEFUL_SECONDS: Final = 30
"""How long a stop waits for in-flight requests."""

LOG_CONFIG: Final[dict[str, Any]] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "pigeon": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
"""Logging while serving: warnings from uvicorn, info from pigeon, no access log."""


def _tune_interpreter() -> None:
    """Settings for a process that serves ingestion (they are process-wide: not in create_app).

    - Every request allocates thousands of short-lived objects (decoded
      events, properties): a larger first-generation threshold lets most of
      them die before a collection, and ``gc.freeze()`` after startup keeps
      the framework's objects out of every full collection.
    - The SQLite writer thread hands the GIL back and forth with the event
      loop; a 1 ms switch interval (5 ms by default) bounds how long a
      finished SQLite step waits to continue.
    """
    gc.set_threshold(20_000, 20, 10)
    sys.setswitchinterval(0.001)


MAX_CONNECTIONS = 4096
"""Connections served at once; beyond it uvicorn answers 503 (see docs/collector.md)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises:
        OSError: the address cannot be resolved or is in use.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(
    config: CollectorConfig,
    *,
    store: Store | None = None,
    sock: socket.socket | None = None,
    metrics_sock: socket.socket | None = None,
    on_started: Callable[[str], None] | None = None,
    on_stopped: Callable[[], None] | None = None,
    workers: int = 1,
) -> bool:
    """Run the collector until SIGTERM or SIGINT; True when it started and stopped cleanly.

    Args:
        config: the collector's configuration (``host`` and ``port`` unless ``sock``).
        store: an open store (default: open ``config.store_url`` at startup).
        sock: a bound socket to serve on (default: bind ``config.host:config.port``).
        metrics_sock: a bound socket that serves ``GET /metrics`` only, without a
            token (default: bind ``config.metrics_address`` when it is set).
        on_started: called with the base URL once requests are accepted.
        on_stopped: called once in-flight requests are answered and the store is closed.
        workers: collector processes serving the socket (see ``_workers``); more
            than one needs ``store=None``, each worker opening ``config.store_url``.

    Raises:
        OSError: the address cannot be bound.
        ValueError: ``workers`` below 1, a ``store`` object with several workers,
            or a metrics listener on the main listener's port.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if workers > 1 and store is not None:
        raise ValueError("worker processes open their own stores: pass store=None")
    listener = sock if sock is not None else bind(config.host, config.port)
    if metrics_sock is None and config.metrics_address is not None:
        metrics_sock = bind(*config.metrics_address)
    host, port = listener.getsockname()[:2]
    # The app tells the listeners apart by the port a connection arrived on.
    metrics_port = metrics_sock.getsockname()[1] if metrics_sock is not None else None
    if metrics_port == port:
        raise ValueError("the metrics listener needs a port of its own")
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    if workers > 1:
        import logging.config

        from pigeon.collector._workers import serve_workers

        logging.config.dictConfig(LOG_CONFIG)
        return serve_workers(
            config,
            workers,
            listener,
            metrics_listener=metrics_sock,
            on_started=(lambda: on_started(url)) if on_started is not None else None,
            on_stopped=on_stopped,
        )

    import uvicorn

    _tune_interpreter()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                # Everything loaded so far lives as long as the process: keep it
                # out of the collector's scans (see _tune_interpreter).
                gc.freeze()
                if on_started is not None:
                    on_started(url)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets=sockets)
            if on_stopped is not None and not self.force_exit:
                on_stopped()

    app = create_app(config, store=store)
    app.metrics_port = metrics_port
    server = Server(
        uvicorn.Config(
            app,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            log_config=LOG_CONFIG,
            ws="none",
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            timeout_keep_alive=15,
            # uvicorn has no header-read timeout: bound the connections a slow or
            # half-open client can hold, so they cannot use up file descriptors.
            limit_concurrency=MAX_CONNECTIONS,
        )
    )
    server.run(sockets=[listener] if metrics_sock is None else [listener, metrics_sock])
    return bool(server.started)
