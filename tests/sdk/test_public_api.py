"""The public surface is pinned, documented, and cheap to import."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import pigeon
import pigeon.catalog
import pigeon.errors
import pigeon.testing
from tests.conftest import clean_subprocess_env

PUBLIC_API = {
    pigeon: [
        "CatalogError",
        "Client",
        "MissingExtraError",
        "PigeonError",
        "UnknownCatalogError",
        "__version__",
    ],
    pigeon.catalog: [
        "FRAME_PATTERN",
        "OTHER_FRAMES",
        "Catalog",
        "EventSpec",
        "Problem",
        "PropertySpec",
        "PropertyType",
        "PropertyValue",
        "Validation",
        "available_catalogs",
    ],
    pigeon.errors: ["CatalogError", "MissingExtraError", "PigeonError", "UnknownCatalogError"],
    pigeon.testing: ["CapturedEvents", "MemoryTransport", "capture_events"],
}

CLIENT_API = {
    "track",
    "report_exception",
    "enabled",
    "disabled_reason",
    "anonymous_id",
    "flush",
    "shutdown",
}


@pytest.mark.parametrize("module", PUBLIC_API, ids=lambda m: m.__name__)
def test_all_is_pinned(module: ModuleType) -> None:
    assert sorted(module.__all__) == sorted(PUBLIC_API[module])
    for name in module.__all__:
        assert hasattr(module, name)


def test_client_has_the_documented_api() -> None:
    public = {name for name in dir(pigeon.Client) if not name.startswith("_")}
    assert public >= CLIENT_API


def documented_names(module: ModuleType) -> dict[str, bool]:
    """For each top-level definition of a module: does it carry a docstring?

    Classes and functions need one; assignments (constants, type aliases) need a
    string literal on the line after them, the convention Sphinx reads.
    """
    tree = ast.parse(Path(inspect.getfile(module)).read_text())
    found: dict[str, bool] = {}
    body = tree.body
    for index, node in enumerate(body):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            found[node.name] = bool(ast.get_docstring(node))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            after = body[index + 1] if index + 1 < len(body) else None
            has_doc = (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            )
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = has_doc
    return found


def defining_module(module: ModuleType, name: str) -> ModuleType:
    home = getattr(getattr(module, name), "__module__", None)
    if isinstance(home, str) and home.startswith("pigeon"):
        return sys.modules[home]
    return module  # a type alias or constant: documented where it is assigned


@pytest.mark.parametrize("module", PUBLIC_API, ids=lambda m: m.__name__)
def test_every_public_name_has_a_docstring(module: ModuleType) -> None:
    missing = []
    for name in module.__all__:
        if name == "__version__":  # documented by its own one-line module
            assert sys.modules["pigeon._version"].__doc__
            continue
        source = defining_module(module, name)
        if not documented_names(source).get(name, False):
            missing.append(f"{source.__name__}.{name}")
    assert missing == []


@pytest.mark.parametrize(
    "cls",
    [
        pigeon.Client,
        pigeon.catalog.Catalog,
        pigeon.catalog.EventSpec,
        pigeon.catalog.PropertySpec,
        pigeon.catalog.Validation,
        pigeon.testing.CapturedEvents,
        pigeon.testing.MemoryTransport,
    ],
    ids=lambda c: c.__name__,
)
def test_every_public_member_has_a_docstring(cls: type) -> None:
    missing = [
        name
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and (callable(member) or isinstance(member, property | classmethod | staticmethod))
        and not inspect.getdoc(member)
    ]
    assert missing == []
    assert inspect.getdoc(cls)


# -- import cost -------------------------------------------------------------------------------

# Never imported by `import pigeon`: networking, TLS, TOML, encoding, the system context,
# and the parts of pigeon that only an enabled client needs.
NOT_ON_IMPORT = [
    "http",
    "http.client",
    "ssl",
    "socket",
    "selectors",
    "urllib",
    "urllib.request",
    "tomllib",
    "json",
    "gzip",
    "zlib",
    "base64",
    "platform",
    "threading",
    "logging",
    "uuid",
    "random",
    "dataclasses",
    "pathlib",
    "asyncio",
    "pigeon.catalog",
    "pigeon._identity",
    "pigeon._system",
    "pigeon._sender",
    "pigeon._http",
    "pigeon._wire",
    "pigeon._pipeline",
    "typing",
    "re",
    "enum",
    "contextlib",
    "functools",
]

# Imported when an enabled client is built, on the caller's thread: its sender
# thread must never import (a fork could catch it half-way), and a disabled
# client imports none of them.
SENDER_MODULES = [
    "ssl",
    "socket",
    "tomllib",
    "zlib",
    "json",
    "platform",
    "encodings.idna",
    "email.utils",
    "pigeon._http",
    "pigeon._catalog_parse",
]

_REPORT_MODULES = textwrap.dedent(
    """
    import sys
    before = set(sys.modules)
    import pigeon
    after_import = sorted(set(sys.modules) - before)
    off = pigeon.Client("argilla", "1.0", endpoint="http://127.0.0.1:9", write_key="k",
                        home=sys.argv[1], enabled=False)
    after_disabled = sorted(set(sys.modules) - before)
    client = pigeon.Client("argilla", "1.0", endpoint="http://127.0.0.1:9", write_key="k",
                           home=sys.argv[1])
    assert client.enabled
    after_client = sorted(set(sys.modules) - before)
    import json
    print(json.dumps({"import": after_import, "disabled": after_disabled, "client": after_client}))
    """
)


@pytest.fixture(scope="module")
def imported_modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    home = tmp_path_factory.mktemp("home")
    result = subprocess.run(
        [sys.executable, "-c", _REPORT_MODULES, str(home)],
        env=clean_subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report: dict[str, list[str]] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("module", NOT_ON_IMPORT)
def test_import_pigeon_stays_light(imported_modules: dict[str, list[str]], module: str) -> None:
    assert module not in imported_modules["import"]


@pytest.mark.parametrize("module", SENDER_MODULES)
def test_an_enabled_client_imports_what_its_sender_needs_and_a_disabled_one_nothing(
    imported_modules: dict[str, list[str]], module: str
) -> None:
    assert module in imported_modules["client"]
    assert module not in imported_modules["disabled"]


def test_the_import_report_is_real(imported_modules: dict[str, list[str]]) -> None:
    assert "pigeon" in imported_modules["import"]
    assert "pigeon._client" in imported_modules["import"]
    assert "pigeon._identity" in imported_modules["client"]
