"""A reproducible history of events, the same whatever pigeon version writes it.

The store fixtures under ``fixtures/`` were written from it by the pigeon
release of each layout (see ``build_fixture.py``), and the migration tests write
it again into a store of today's layout: both must then give the same numbers.
It imports nothing of pigeon, so an old release can run it unchanged.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

MS_PER_DAY = 86_400_000
FIRST_DAY = 20_362  # 2025-10-01
DAYS = 60
NOW_MS = (FIRST_DAY + DAYS) * MS_PER_DAY + 3_600_000
"""The moment the history ends: retention is applied as of then."""
RETENTION_DAYS = 30
"""Raw events older than this were deleted (their rollups stay)."""
FORGOTTEN = ("argilla", "install-7")
"""An install whose data was forgotten before the fixture was saved."""

_AGENTS = ("Mozilla/5.0 Chrome/120.0", "argilla/1.29.0 python-requests/2.31", "curl/8.0", "")
_LANGUAGES = ("en-US,en;q=0.9", "de", "fr-FR", "", "*")
_VERSIONS = ("1.27.0", "1.28.0", "1.29.0", "1.29.1")


def history(
    count: int = 1500, seed: int = 20251001, installs: int = 30
) -> Iterator[dict[str, Any]]:
    """``count`` events as keyword arguments of ``StoredEvent``, in time order."""
    rng = random.Random(seed)
    moments = sorted(
        FIRST_DAY * MS_PER_DAY + rng.randrange(DAYS * MS_PER_DAY) for _ in range(count)
    )
    for moment in moments:
        install = rng.randrange(installs)
        app = "argilla" if install % 5 else "other"
        kind = rng.randrange(6)
        props: dict[str, Any]
        if kind == 0:
            name = "LogRecordsRequested"
            props = {
                "task": rng.choice(["Text2Text", "TextClassification"]),
                "records": rng.randrange(500),
            }
        elif kind == 1:
            name = "UserInfoRequested"
            props = {"user-agent": rng.choice(_AGENTS), "accept-language": rng.choice(_LANGUAGES)}
        elif kind == 2:
            name = "ServerErrorFound"
            props = {
                "code": f"argilla.api.errors::E{rng.randrange(3)}",
                "type": rng.choice(["Dataset", None]),
            }
        elif kind == 3:
            name = "TrainerUsage"
            props = {"framework": rng.choice(["setfit", "spacy"]), "task": "TextClassification"}
        else:
            name, props = "ServerStarted", {}
        # Versions move forward with time, as installs upgrade.
        progress = (moment // MS_PER_DAY - FIRST_DAY) / DAYS
        version = _VERSIONS[min(len(_VERSIONS) - 1, int(progress * len(_VERSIONS) + rng.random()))]
        yield {
            "message_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "app": app,
            "event": name,
            "anonymous_id": f"install-{install}",
            "timestamp_ms": moment,
            "received_ms": moment + rng.randrange(2000),
            "app_version": version,
            "python_version": rng.choice(["3.10.12", "3.11.9", "3.12.4"]),
            "system": rng.choice(["Linux", "Linux", "Darwin", "Windows"]),
            "release": "6.1.0",
            "machine": rng.choice(["x86_64", "arm64"]),
            "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
            "library": "pigeon/0.1.0",
            "catalog_version": "1",
            "properties": props,
        }
