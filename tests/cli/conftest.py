"""Run the ``pigeon`` command two ways: in a child process and through ``main()``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pigeon.cli import main
from tests.conftest import clean_subprocess_env


@dataclass
class Run:
    """What a command printed and returned."""

    status: int
    out: str
    err: str


RunCommand = Callable[..., Run]


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    """The XDG data directory both ways of running use (the autouse fixture's)."""
    return tmp_path / "xdg-data"


@pytest.fixture
def pigeon_process(tmp_path: Path, data_home: Path) -> RunCommand:
    """``python -m pigeon ARGS`` with a clean environment plus ``env``, in an empty directory."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        result = subprocess.run(
            [sys.executable, "-m", "pigeon", *args],
            env=clean_subprocess_env(
                XDG_DATA_HOME=str(data_home), HOME=str(tmp_path / "home"), **(env or {})
            ),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Run(result.returncode, result.stdout, result.stderr)

    return run


@pytest.fixture
def pigeon_main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCommand:
    """``pigeon.cli.main([ARGS])`` in this process, with ``env`` added to the environment."""

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        status = main(list(args))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


@pytest.fixture(params=["process", "main"])
def pigeon_cli(request: pytest.FixtureRequest) -> RunCommand:
    """Both ways, one after the other."""
    fixture: RunCommand = request.getfixturevalue(f"pigeon_{request.param}")
    return fixture
