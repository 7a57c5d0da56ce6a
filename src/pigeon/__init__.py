"""pigeon: privacy-first, opt-out, anonymous telemetry for self-hosted Python software.

The SDK uses the standard library only. Everything heavy (the catalog's TOML
parser, the system context, HTTP and TLS) is imported on the sender thread
when the first event is sent, never at ``import pigeon``.

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
