"""Plausible traffic for the browser test: installs that come and go, upgrade, err.

Deterministic (seeded) and relative to a given day, so the dashboard of a real
collector shows every chart with data, and shorter ranges show fewer installs.
"""

from __future__ import annotations

import random

from pigeon.catalog import PropertyValue
from pigeon.collector.storage import StoredEvent
from pigeon.collector.storage._base import MS_PER_DAY

RELEASES = [(-120, "1.26.0"), (-75, "1.27.0"), (-40, "1.28.0"), (-12, "1.29.0")]
PYTHONS = [("3.11.9", 45), ("3.10.14", 25), ("3.12.3", 20), ("3.9.19", 10)]
SYSTEMS = [("Linux", "x86_64", 60), ("Linux", "aarch64", 12), ("Darwin", "arm64", 18)]
SYSTEMS += [("Windows", "AMD64", 10)]
AGENTS = [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/125.0 Safari/537.36", 40),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0", 20),
    ("python-requests/2.32.3", 15),
    ("argilla/1.29.0 python-httpx/0.27.0", 25),
]
LANGUAGES = [("en-US,en;q=0.9", 60), ("de-DE,de;q=0.8", 15), ("es-ES,es;q=0.8", 15)]
LANGUAGES += [("fr-FR,fr;q=0.8", 10)]
ERRORS = [
    ("argilla.api.errors::EntityNotFoundError", "Dataset", 40),
    ("argilla.api.errors::EntityNotFoundError", "Workspace", 15),
    ("argilla.api.errors::ForbiddenOperationError", "", 20),
    ("argilla.api.errors::ValidationError", "Record", 25),
]
TASKS = [("TextClassification", 55), ("TokenClassification", 30), ("Text2Text", 15)]
CRASHES = [  # (signature, exception, stack variants): stacks differ in line numbers only
    ("a1b2c3d4e5f60718", "KeyError", ["argilla.api:get_dataset:41", "argilla.api:get_dataset:44"]),
    ("0f1e2d3c4b5a6978", "ValueError", ["argilla.search:query:7"]),
    ("9a8b7c6d5e4f3a2b", "TypeError", ["argilla.models:save:120"]),
]
TRAINERS = [("transformers", 40), ("setfit", 30), ("spacy", 20), ("peft", 10)]


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def traffic(
    today: int, installs: int = 90, days: int = 90, seed: int = 7, app: str = "argilla"
) -> list[StoredEvent]:
    """Events of ``installs`` installs of ``app`` over the ``days`` days up to ``today``."""
    rng = random.Random(seed)
    crash_rng = random.Random(seed + 1)  # its own stream: the rest of the traffic is unchanged
    out: list[StoredEvent] = []
    for n in range(installs):
        install = f"{app}-install-{n:04d}"
        python = _pick(rng, PYTHONS)
        system, machine, _ = rng.choices(SYSTEMS, [w for *_, w in SYSTEMS])[0]
        # A third of the installs stopped reporting a while ago: short ranges see fewer.
        first = today - rng.randrange(days)
        last = today
        if n % 3 == 0 and first < today - 15:
            last = rng.randrange(first, today - 14)
        activity = rng.uniform(0.3, 0.9)
        lag = rng.randrange(0, 20)
        for day in range(first, last + 1):
            if rng.random() > activity:
                continue
            version = next(
                (v for start, v in reversed(RELEASES) if today + start + lag <= day), "1.25.0"
            )
            events: list[tuple[str, dict[str, PropertyValue]]] = [("ServerStarted", {})]
            for _ in range(rng.randrange(1, 5)):
                events.append(
                    (
                        "UserInfoRequested",
                        {
                            "user-agent": _pick(rng, AGENTS),
                            "accept-language": _pick(rng, LANGUAGES),
                        },
                    )
                )
            for _ in range(rng.randrange(0, 4)):
                records = int(rng.lognormvariate(5, 1.2))
                events.append(
                    ("LogRecordsRequested", {"task": _pick(rng, TASKS), "records": records})
                )
            if rng.random() < 0.5:
                code, kind, _ = rng.choices(ERRORS, [w for *_, w in ERRORS])[0]
                props: dict[str, PropertyValue] = {"code": code}
                if kind:
                    props["type"] = kind
                events.append(("ServerErrorFound", props))
            # Crashes: more of them on the newest release.
            if crash_rng.random() < (0.3 if version == RELEASES[-1][1] else 0.1):
                signature, exception, variants = crash_rng.choice(CRASHES)
                frames = ("<other>", crash_rng.choice(variants))
                crash: dict[str, PropertyValue] = {
                    "exception": exception,
                    "signature": signature,
                    "frames": frames,
                }
                events.append(("CrashReported", crash))
            if rng.random() < 0.25:
                trainer = {"framework": _pick(rng, TRAINERS), "task": _pick(rng, TASKS)}
                events.append(("TrainerUsage", dict(trainer)))
            for name, properties in events:
                ts = day * MS_PER_DAY + rng.randrange(MS_PER_DAY)
                out.append(
                    StoredEvent(
                        message_id=f"{install}-{len(out)}",
                        app=app,
                        event=name,
                        anonymous_id=install,
                        timestamp_ms=ts,
                        received_ms=ts,
                        app_version=version,
                        python_version=python,
                        system=system,
                        release="6.1",
                        machine=machine,
                        platform=f"{system}-{machine}",
                        library="pigeon/0.1.0",
                        catalog_version="1",
                        properties=properties,
                    )
                )
    return out
