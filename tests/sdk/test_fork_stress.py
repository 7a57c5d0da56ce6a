"""Forks at random moments of the sender's life: every process's events arrive exactly once.

Each scenario runs in fresh interpreters (the first moments of a sender, its
imports included, happen once per process) against a real sink on 127.0.0.1
whose script makes the sender retry, back off and reconnect.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.sdk._sink import Reply, Sink
from tests.sdk.processes.harness import REPO, assert_exactly_once, drive, probe_env

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

FRESH_RUNS = 40


def test_a_fork_in_the_first_moments_of_a_sender_loses_nothing(sink: Sink, tmp_path: Path) -> None:
    tracked = None
    for seed in range(FRESH_RUNS):
        outcome = drive(sink, tmp_path / f"home-{seed}", "fresh", str(seed), timeout=60)
        assert outcome.returncode == 0, (seed, outcome.flushes, outcome.stderr[-2000:])
        assert "internal error" not in outcome.stderr, outcome.stderr[-2000:]
        tracked = outcome.tracked if tracked is None else tracked + outcome.tracked
    assert tracked is not None
    assert len(tracked) == FRESH_RUNS * 103
    assert_exactly_once(sink, tracked)


def test_forks_while_sending_retrying_backing_off_and_reconnecting_lose_nothing(
    sink: Sink, tmp_path: Path
) -> None:
    # A repeating script of answers: failures to retry, a Retry-After to back off,
    # slow answers (a request in flight at the fork), connections the server closes.
    pattern = [
        Reply(),
        Reply(status=500),
        Reply(delay=0.03),
        Reply(status=429, headers={"Retry-After": "0.05"}),
        Reply(close_after=True),
        Reply(status=503),
        Reply(),
        Reply(delay=0.01, close_after=True),
    ]
    sink.script(*(pattern * 40))
    outcome = drive(sink, tmp_path / "home", "life", "7", "60", timeout=180)
    assert outcome.returncode == 0, (outcome.flushes[-3:], outcome.stderr[-2000:])
    assert "internal error" not in outcome.stderr, outcome.stderr[-2000:]
    assert len(outcome.flushes) == 61  # every child and the parent reported
    assert_exactly_once(sink, outcome.tracked)


def test_a_thread_forking_while_another_tracks_loses_nothing(sink: Sink, tmp_path: Path) -> None:
    outcome = drive(sink, tmp_path / "home", "threads", "3", "25", timeout=180)
    assert outcome.returncode == 0, (outcome.flushes[-3:], outcome.stderr[-2000:])
    assert len(outcome.flushes) == 26
    assert_exactly_once(sink, outcome.tracked)


def test_the_sender_threads_never_import_a_module(sink: Sink, tmp_path: Path) -> None:
    # A fork while a thread is inside an import leaves the child a half-initialised
    # module: every import the sender needs happens on the caller's thread. The
    # audit hook sees every import of the process (module already loaded: no event).
    sink.script(
        Reply(status=500),
        Reply(status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        Reply(body={"success": True, "accepted": 0, "rejected": [{"index": 0, "reason": "x"}]}),
        Reply(close_after=True),
    )
    script = textwrap.dedent(
        """
        import logging, os, sys, threading
        imports = []
        def hook(event, args):
            if event == "import" and threading.current_thread() is not threading.main_thread():
                imports.append((threading.current_thread().name, args[0]))
        sys.addaudithook(hook)
        logging.basicConfig(level=logging.DEBUG)  # the debug paths format tracebacks
        from tests.sdk.processes.probe import make_client, track
        # A host name, not an IP literal: the look-up runs on the resolver's thread.
        endpoint = os.environ["PROBE_ENDPOINT"]
        os.environ["PROBE_ENDPOINT"] = endpoint.replace("127.0.0.1", "localhost")
        client = make_client()
        for n in range(250):
            track(client, "Work", n)
        client.track("Work", {"process": "not a number"})  # refused: a warning
        assert client.flush(timeout=20) is False  # one event was rejected by the sink
        for n in range(250, 260):
            track(client, "Work", n)
        assert client.flush(timeout=20)
        client._sender._prepare_safely(None)  # an internal error: logged with its traceback
        client.shutdown(timeout=5)
        print("IMPORTS", imports)
        sys.exit(1 if imports else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=probe_env(sink, tmp_path / "home"),
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "IMPORTS []" in done.stdout
    assert len(sink.delivered()) == 260  # the sink keeps a batch whole, its rejected event too
