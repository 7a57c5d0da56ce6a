"""Host-app packages written to a temporary directory and imported for real.

Crash frames are read from real modules (their ``__name__``, their code's
qualified names, their line numbers), so tests build small apps on disk: the
directory can hold a canary in its path, and a module can be rewritten with
shifted lines and imported again.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

__all__ = ["AppLoader", "app_loader"]


class AppLoader:
    """Writes packages under one root and imports them; forgets them afterwards."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.packages: set[str] = set()

    def load(self, package: str, modules: Mapping[str, str]) -> dict[str, ModuleType]:
        """Write ``package/<name>.py`` for each module source, import and return them.

        A package loaded before is written and imported afresh (new code objects).
        """
        self.forget(package)
        directory = self.root / package
        directory.mkdir(parents=True, exist_ok=True)
        # A rewrite within the same second could otherwise reuse the old bytecode.
        shutil.rmtree(directory / "__pycache__", ignore_errors=True)
        (directory / "__init__.py").write_text("", encoding="utf-8")
        for name, source in modules.items():
            (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        self.packages.add(package)
        importlib.invalidate_caches()
        sys.path.insert(0, str(self.root))
        try:
            return {name: importlib.import_module(f"{package}.{name}") for name in modules}
        finally:
            sys.path.remove(str(self.root))

    def forget(self, package: str) -> None:
        """Drop ``package`` and its modules from ``sys.modules``."""
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]

    def close(self) -> None:
        for package in self.packages:
            self.forget(package)


@pytest.fixture
def app_loader(tmp_path: Path) -> Iterator[AppLoader]:
    """An :class:`AppLoader` writing under the test's temporary directory."""
    loader = AppLoader(tmp_path / "apps")
    yield loader
    loader.close()
