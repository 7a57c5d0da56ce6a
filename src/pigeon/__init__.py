"""pigeon: privacy-first, opt-out, anonymous telemetry for self-hosted Python software.

The SDK uses the standard library only. Everything heavy (the catalog's TOML
parser, the system context, HTTP and TLS) is imported when an enabled client
is built, on the caller's thread (so that a fork never catches the sender
thread inside an import), never at ``import pigeon`` or by a disabled client.

Example::

    import pigeon

    client = pigeon.Client(app="argilla", version="1.29.0",
                           endpoint="https://telemetry.example.org", write_key="...")
    client.track("LogRecordsRequested", {"task": "TextClassification", "records": 120})
"""

from pigeon._client import Client
from pigeon._version import __version__
from pigeon.errors import CatalogError, MissingExtraError, PigeonError, UnknownCatalogError

__all__ = [
    "CatalogError",
    "Client",
    "MissingExtraError",
    "PigeonError",
    "UnknownCatalogError",
    "__version__",
]
