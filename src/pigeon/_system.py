"""The context sent with every event: exactly the fields the policy names, computed once.

Fields: app name and version, Python version, system, release, system version
string, machine type, platform string, plus the SDK's and the catalog's name
and version. Never a hostname, user name, path or address.
"""

from __future__ import annotations

import functools
import platform
from typing import TypedDict

from pigeon._version import __version__

__all__ = ["Runtime", "build_context", "runtime"]


class Runtime(TypedDict):
    """The ``context.runtime`` object of the wire format."""

    python_version: str
    system: str
    release: str
    sys_version: str
    machine: str
    platform: str


@functools.cache
def runtime() -> Runtime:
    """This interpreter's runtime facts (computed once per process, inherited by forks)."""
    return Runtime(
        python_version=platform.python_version(),
        system=platform.system(),
        release=platform.release(),
        sys_version=platform.version(),
        machine=platform.machine(),
        platform=platform.platform(),
    )


def build_context(
    app: str, app_version: str, catalog_name: str, catalog_version: str
) -> dict[str, object]:
    """The Segment-style ``context`` object sent with every event of one client."""
    facts = runtime()
    return {
        "app": {"name": app, "version": app_version},
        "library": {"name": "pigeon", "version": __version__},
        "os": {"name": facts["system"], "version": facts["release"]},
        "runtime": dict(facts),
        "catalog": {"name": catalog_name, "version": catalog_version},
    }
