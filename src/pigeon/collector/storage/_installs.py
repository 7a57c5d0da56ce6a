"""How every store keys an install: a 64-bit hash of its anonymous id.

Rollups never keep the anonymous id itself, only this key, so distinct-install
counts need no raw events; SQLite and ClickHouse share the one definition, so
their counts agree.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["install_key"]

_install_keys: dict[str, int] = {}
_INSTALL_KEYS_MAX: Final = 100_000


def install_key(anonymous_id: str) -> int:
    """The 64-bit signed hash of an install id kept in the rollups."""
    key = _install_keys.get(anonymous_id)
    if key is None:
        digest = hashlib.blake2b(anonymous_id.encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        if len(_install_keys) >= _INSTALL_KEYS_MAX:
            _install_keys.clear()
        _install_keys[anonymous_id] = key
    return key
