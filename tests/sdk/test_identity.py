"""The anonymous install id: random, persisted 0600, robust to corruption and read-only homes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon._consent import CONSENT_FILENAME
from pigeon._identity import ID_FILENAME, data_dir, load_identity, new_id
from pigeon.testing import MemoryTransport
from tests.conftest import clean_subprocess_env


def make_client(home: Path | None = None, **kwargs: object) -> pigeon.Client:
    return pigeon.Client(
        "argilla",
        "1.0",
        transport=MemoryTransport(),
        home=home,
        **kwargs,  # type: ignore[arg-type]
    )


def is_uuid4(text: str | None) -> bool:
    return text is not None and uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory where no file can be created, even when the tests run as root.

    chmod 0500 is enough for a normal user; root ignores it, so then the
    directory is a path below a regular file, where mkdir and open both fail.
    """
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    probe = locked / "probe"
    try:
        probe.write_text("x")
    except OSError:
        yield locked
    else:
        probe.unlink()
        blocker = tmp_path / "a-regular-file"
        blocker.write_text("not a directory")
        yield blocker / "app"
    finally:
        locked.chmod(0o700)


# -- where -------------------------------------------------------------------------------


def test_home_argument_is_the_directory(tmp_path: Path) -> None:
    assert data_dir("argilla", tmp_path / "mine") == tmp_path / "mine"
    client = make_client(tmp_path / "mine")
    assert (tmp_path / "mine" / ID_FILENAME).read_text().strip() == client.anonymous_id


def test_xdg_data_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    client = make_client()
    expected = tmp_path / "xdg" / "argilla" / ID_FILENAME
    assert expected.read_text().strip() == client.anonymous_id
    assert client.home == tmp_path / "xdg" / "argilla"


@pytest.mark.parametrize("xdg", ["", "relative/dir"])
def test_unset_or_relative_xdg_falls_back_to_local_share(
    xdg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir("argilla") == tmp_path / ".local" / "share" / "argilla"


def test_macos_and_windows_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert data_dir("argilla") == tmp_path / "Library" / "Application Support" / "argilla"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert data_dir("argilla") == tmp_path / "Local" / "argilla"


# -- persistence ---------------------------------------------------------------------------


def test_id_is_a_random_uuid4_persisted_across_clients(tmp_path: Path) -> None:
    first = make_client(tmp_path)
    second = make_client(tmp_path)
    assert is_uuid4(first.anonymous_id)
    assert second.anonymous_id == first.anonymous_id
    assert (tmp_path / ID_FILENAME).read_text() == f"{first.anonymous_id}\n"
    other = make_client(tmp_path / "elsewhere")
    assert other.anonymous_id != first.anonymous_id


def test_id_persists_across_processes(tmp_path: Path) -> None:
    code = "import sys, pigeon.testing as t, pigeon; " + (
        "print(pigeon.Client('argilla', '1', transport=t.MemoryTransport(), "
        "home=sys.argv[1]).anonymous_id)"
    )
    ids = {
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            env=clean_subprocess_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(ids) == 1
    assert is_uuid4(ids.pop())


def test_id_file_has_mode_0600_and_no_temp_file_is_left(tmp_path: Path) -> None:
    old_umask = os.umask(0o000)  # the strictest test: nothing masks a lax mode
    try:
        make_client(tmp_path / "home")
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / "home" / ID_FILENAME) == 0o600
    assert mode(tmp_path / "home" / CONSENT_FILENAME) == 0o600
    assert mode(tmp_path / "home") == 0o700
    names = sorted(p.name for p in (tmp_path / "home").iterdir())
    assert names == sorted([ID_FILENAME, CONSENT_FILENAME])


def test_new_ids_are_distinct_uuid4() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_uuid4(i) for i in ids)


@pytest.mark.parametrize(
    "content",
    [b"", b"not-a-uuid\n", b"\xff\xfe\x00garbage", b"12345678-1234-1234-1234-1234567890123", b"{}"],
)
def test_corrupt_file_is_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ID_FILENAME
    path.write_bytes(content)
    path.chmod(0o644)
    identity = load_identity(tmp_path)
    assert identity.created
    assert identity.path == path
    assert is_uuid4(identity.anonymous_id)
    assert path.read_text() == f"{identity.anonymous_id}\n"
    assert mode(path) == 0o600
    again = load_identity(tmp_path)
    assert (again.anonymous_id, again.created) == (identity.anonymous_id, False)


def test_a_directory_in_place_of_the_file_gives_an_in_memory_id(tmp_path: Path) -> None:
    (tmp_path / ID_FILENAME).mkdir()
    identity = load_identity(tmp_path)
    assert identity.path is None
    assert is_uuid4(identity.anonymous_id)


def test_unwritable_directory_gives_an_in_memory_id(unwritable_dir: Path) -> None:
    client = make_client(unwritable_dir)
    assert client.enabled
    assert is_uuid4(client.anonymous_id)
    assert not (unwritable_dir / ID_FILENAME).exists()
    # Every process gets its own id then: nothing could be remembered.
    assert make_client(unwritable_dir).anonymous_id != client.anonymous_id


def test_directory_below_a_regular_file_gives_an_in_memory_id(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    identity = load_identity(blocker / "app")
    assert identity.path is None
    assert identity.created
    assert is_uuid4(identity.anonymous_id)
    assert blocker.read_text() == "x"


def test_existing_id_is_read_from_a_read_only_directory(tmp_path: Path) -> None:
    known = new_id()
    (tmp_path / ID_FILENAME).write_text(known + "\n")
    (tmp_path / ID_FILENAME).chmod(0o400)
    tmp_path.chmod(0o500)
    try:
        identity = load_identity(tmp_path)
    finally:
        tmp_path.chmod(0o700)
    assert (identity.anonymous_id, identity.created) == (known, False)


def test_unusable_paths_never_raise() -> None:
    for home in ("bad\x00path", os.devnull):
        identity = load_identity(Path(home))
        assert identity.path is None
        assert is_uuid4(identity.anonymous_id)


def test_first_publisher_wins_a_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes creating the id at once: the loser adopts the winner's id."""
    winner = new_id()
    real_link = os.link

    def link_after_a_competitor(src: str, dst: str) -> None:
        Path(dst).write_text(winner + "\n")  # another process published first
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_a_competitor)
    identity = load_identity(tmp_path)
    assert (identity.anonymous_id, identity.created) == (winner, False)
    assert (tmp_path / ID_FILENAME).read_text() == winner + "\n"
    assert [p.name for p in tmp_path.iterdir()] == [ID_FILENAME]


def test_without_hard_links_the_id_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    identity = load_identity(tmp_path)
    assert identity.created
    assert (tmp_path / ID_FILENAME).read_text() == identity.anonymous_id + "\n"
    assert mode(tmp_path / ID_FILENAME) == 0o600


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from pigeon._identity import load_identity

    go = Path(sys.argv[2])
    Path(sys.argv[3]).touch()  # ready
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        pass  # spin: the racers should leave the line together
    print(load_identity(Path(sys.argv[1])).anonymous_id)
    """
)


def test_processes_starting_together_agree_on_one_id(tmp_path: Path) -> None:
    go = tmp_path / "go"
    home = tmp_path / "home"
    ready = [tmp_path / f"ready-{i}" for i in range(6)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(home), str(go), str(flag)],
            env=clean_subprocess_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    ids = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert len(ids) == 1
    assert (home / ID_FILENAME).read_text().strip() == ids.pop()


# -- when --------------------------------------------------------------------------------------


def test_disabled_client_reads_and_writes_no_id(tmp_path: Path) -> None:
    client = make_client(tmp_path / "home", enabled=False)
    assert client.anonymous_id is None
    assert not (tmp_path / "home").exists()


# -- first-run notice ------------------------------------------------------------------------


# A phrase of the notice (other output on stderr, from threads of earlier tests, is ignored).
NOTICE = "collects anonymous usage statistics"


def test_first_run_notice_printed_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_client(tmp_path)
    err = capsys.readouterr().err
    assert err.count(NOTICE) == 1
    assert err.count("ARGILLA_ENABLE_TELEMETRY=0") == 1
    assert "DO_NOT_TRACK=1" in err
    assert "pigeon preview --app argilla" in err
    make_client(tmp_path)
    assert NOTICE not in capsys.readouterr().err


def test_first_run_notice_names_the_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = pigeon.Client(
        "argilla", "1.0", endpoint="https://telemetry.example.org", home=tmp_path
    )
    assert "https://telemetry.example.org" in capsys.readouterr().err
    client.shutdown(timeout=0.1)


def test_no_first_run_notice_in_ci(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("ARGILLA_ENABLE_TELEMETRY", "1")
    client = make_client(tmp_path)
    assert client.enabled
    assert (tmp_path / ID_FILENAME).exists()
    assert NOTICE not in capsys.readouterr().err


def test_no_first_run_notice_when_disabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    make_client(tmp_path)
    make_client(tmp_path, enabled=False)
    assert NOTICE not in capsys.readouterr().err
    assert not (tmp_path / ID_FILENAME).exists()


def test_first_run_notice_goes_to_stderr_not_stdout(tmp_path: Path) -> None:
    code = (
        "import sys, pigeon, pigeon.testing as t; "
        "pigeon.Client('argilla', '1', transport=t.MemoryTransport(), home=sys.argv[1])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        env=clean_subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert run.stdout == ""
    assert "ARGILLA_ENABLE_TELEMETRY=0" in run.stderr
