"""A real SQLite store filled with known events, and the read API in front of it.

The data set (app ``argilla``, days relative to ``TODAY``; ``T-1`` is yesterday):

    install  version  python   system   machine  library
    i1..i2   1.29.0   3.11.9   Linux    x86_64   pigeon/0.1.0
    i3       1.29.0   3.12.3   Linux    aarch64  pigeon/0.1.0
    i4       1.29.0   3.12.3   Linux    x86_64   pigeon/0.1.0
    i5       1.28.0   3.10.14  Linux    x86_64   pigeon/0.1.0
    i6       1.28.0   3.11.9   Darwin   arm64    pigeon/0.1.0
    i7       1.27.0   3.9.19   Windows  AMD64    analytics-python/2.3.0

    T     ServerStarted i1 i2 i3 i4; LogRecordsRequested TextClassification
          i1 (100 records) i2 (50) i3 (10), TokenClassification i3 (7)
    T-1   ServerErrorFound EntityNotFoundError/Dataset i1 i1 i2 i3,
          ForbiddenOperationError/(no type) i4; UserInfoRequested Firefox/de i1 i5 i6;
          ServerStarted i7
    T-10  ServerStarted i1..i7; TrainerUsage transformers/TextClassification i1 i2 i3,
          setfit/TextClassification i4
    T-40  ServerStarted i1 i2 on version 1.25.0

Over the last 30 days: 28 events, 7 installs. The expected numbers in the tests
are counted by hand from this table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

from pigeon.catalog import PropertyValue
from pigeon.collector.storage import StoredEvent
from pigeon.collector.storage._base import MS_PER_DAY, Store

TODAY = (dt.date(2024, 6, 30) - dt.date(1970, 1, 1)).days
ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ENF = "argilla.api.errors::EntityNotFoundError"
FORBIDDEN = "argilla.api.errors::ForbiddenOperationError"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

INSTALLS = {
    "i1": ("1.29.0", "3.11.9", "Linux", "x86_64", "pigeon/0.1.0"),
    "i2": ("1.29.0", "3.11.9", "Linux", "x86_64", "pigeon/0.1.0"),
    "i3": ("1.29.0", "3.12.3", "Linux", "aarch64", "pigeon/0.1.0"),
    "i4": ("1.29.0", "3.12.3", "Linux", "x86_64", "pigeon/0.1.0"),
    "i5": ("1.28.0", "3.10.14", "Linux", "x86_64", "pigeon/0.1.0"),
    "i6": ("1.28.0", "3.11.9", "Darwin", "arm64", "pigeon/0.1.0"),
    "i7": ("1.27.0", "3.9.19", "Windows", "AMD64", "analytics-python/2.3.0"),
}

_ids = itertools.count()


def event(
    install: str,
    name: str,
    day: int,
    properties: dict[str, PropertyValue] | None = None,
    *,
    app: str = "argilla",
    version: str | None = None,
) -> StoredEvent:
    """One event of ``install`` at noon of ``day`` (a day number)."""
    app_version, python, system, machine, library = INSTALLS.get(
        install, ("1.0.0", "3.11.9", "Linux", "x86_64", "pigeon/0.1.0")
    )
    ts = day * MS_PER_DAY + MS_PER_DAY // 2 + next(_ids)
    return StoredEvent(
        message_id=f"msg-{next(_ids):08d}",
        app=app,
        event=name,
        anonymous_id=f"anon-{app}-{install}",
        timestamp_ms=ts,
        received_ms=ts,
        app_version=version or app_version,
        python_version=python,
        system=system,
        release="6.1",
        machine=machine,
        platform=f"{system}-6.1-{machine}",
        library=library,
        catalog_version="1",
        properties=properties or {},
    )


def known_events() -> list[StoredEvent]:
    """The data set of the module docstring."""
    t = TODAY
    out = [event(i, "ServerStarted", t) for i in ("i1", "i2", "i3", "i4")]
    for install, task, records in (
        ("i1", "TextClassification", 100),
        ("i2", "TextClassification", 50),
        ("i3", "TextClassification", 10),
        ("i3", "TokenClassification", 7),
    ):
        out.append(event(install, "LogRecordsRequested", t, {"task": task, "records": records}))
    for install in ("i1", "i1", "i2", "i3"):
        out.append(event(install, "ServerErrorFound", t - 1, {"code": ENF, "type": "Dataset"}))
    out.append(event("i4", "ServerErrorFound", t - 1, {"code": FORBIDDEN}))
    for install in ("i1", "i5", "i6"):
        props: dict[str, PropertyValue] = {
            "user-agent": FIREFOX,
            "accept-language": "de-DE,de;q=0.9",
        }
        out.append(event(install, "UserInfoRequested", t - 1, props))
    out.append(event("i7", "ServerStarted", t - 1))
    out += [event(i, "ServerStarted", t - 10) for i in INSTALLS]
    for install, framework in (
        ("i1", "transformers"),
        ("i2", "transformers"),
        ("i3", "transformers"),
        ("i4", "setfit"),
    ):
        props = {"framework": framework, "task": "TextClassification"}
        out.append(event(install, "TrainerUsage", t - 10, props))
    out += [event(i, "ServerStarted", t - 40, version="1.25.0") for i in ("i1", "i2")]
    return out


def demo_app_events() -> list[StoredEvent]:
    """A second app: three installs that started today."""
    return [event(f"j{n}", "ServerStarted", TODAY, app="labelbox") for n in (1, 2, 3)]


def fill(store: Store, events: list[StoredEvent]) -> None:
    """Write ``events`` through the store's own write path."""
    asyncio.run(store.write(events))
