"""Interpreter exit, in real child processes: bounded whatever the network does."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

from pigeon._backoff import BACKOFF_FILENAME
from pigeon._spool import SPOOL_DIRNAME
from tests.sdk._sink import Blackhole, Sink, refused_port
from tests.sdk.conftest import records, run_python

TRACK_AND_EXIT = """
import sys, time
import pigeon
client = pigeon.Client("argilla", "1.29.0", endpoint=sys.argv[1], write_key="k",
                       home=sys.argv[2], environ={})
for n in range(20):
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": n})
print(time.time(), flush=True)
"""


def exit_seconds(endpoint: str, home: Path) -> float:
    """Seconds from the script's last statement to the end of its process."""
    done = run_python(TRACK_AND_EXIT, endpoint, str(home))
    ended = time.time()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return ended - float(done.stdout)


def spooled_records(home: Path) -> list[int]:
    lines = [
        line.split("\t", 1)[1]
        for file in sorted((home / SPOOL_DIRNAME).glob("spool-*"))
        for line in file.read_text().splitlines()[1:]
    ]
    return records([json.loads(line) for line in lines])


# Loose bounds: the exit budget is 1 s; the precise figure is the benchmark's.


def test_exit_with_a_collector_that_never_answers_is_bounded(
    blackhole: Blackhole, tmp_path: Path
) -> None:
    assert exit_seconds(blackhole.url, tmp_path) < 5.0
    assert blackhole.connections == 1
    assert spooled_records(tmp_path) == list(range(20))


def test_exit_with_an_unresolvable_collector_is_bounded(tmp_path: Path) -> None:
    assert exit_seconds("http://pigeon-test.invalid:8642", tmp_path) < 5.0
    assert spooled_records(tmp_path) == list(range(20))


def test_exit_with_a_refused_connection_is_quick_and_spools(tmp_path: Path) -> None:
    assert exit_seconds(f"http://127.0.0.1:{refused_port()}", tmp_path) < 5.0
    assert spooled_records(tmp_path) == list(range(20))
    assert (tmp_path / BACKOFF_FILENAME).exists()


def test_exit_delivers_to_a_working_collector(sink: Sink, tmp_path: Path) -> None:
    assert exit_seconds(sink.url, tmp_path) < 5.0
    assert records(sink.events()) == list(range(20))
    assert spooled_records(tmp_path) == []


def test_air_gapped_runs_stop_knocking_after_a_few_attempts(
    blackhole: Blackhole, tmp_path: Path
) -> None:
    script = TRACK_AND_EXIT.replace(
        "for n in range(20)",
        "from pigeon._sender import Policy\n"
        "from pigeon._backoff import BackoffPolicy\n"
        "client._sender.policy = Policy(\n"
        "    timeout=0.2, backoff=BackoffPolicy(base=0.01, attempts=2)\n"
        ")\n"
        "for n in range(20)",
    )
    for _ in range(5):
        done = run_python(script, blackhole.url, str(tmp_path))
        assert done.returncode == 0, done.stderr
    # Two failed runs start an hours-long pause shared through the state file;
    # the three later runs make no connection and only add to the spool.
    assert blackhole.connections == 2
    assert spooled_records(tmp_path) == sorted(list(range(20)) * 5)


IMPORTS = """
import sys
heavy = ["http", "http.client", "ssl", "_ssl", "socket", "_socket", "select", "selectors",
         "gzip", "zlib", "json", "tomllib", "urllib.request", "email"]
import pigeon
after_import = [m for m in heavy + ["urllib", "urllib.parse"] if m in sys.modules]
client = pigeon.Client("argilla", "1.29.0", endpoint=sys.argv[1], write_key="k",
                       home=sys.argv[2], environ={})
after_client = [m for m in heavy if m in sys.modules]
client.track("ServerStarted")
client.flush(timeout=10)
after_send = [m for m in heavy if m in sys.modules]
print(repr([after_import, after_client, after_send]))
"""


def test_the_network_stack_loads_with_an_enabled_client_and_sending_loads_nothing_more(
    sink: Sink, tmp_path: Path
) -> None:
    done = run_python(IMPORTS, sink.url, str(tmp_path))
    assert done.returncode == 0, done.stderr
    after_import, after_client, after_send = ast.literal_eval(done.stdout)
    assert after_import == []
    # Built on the caller's thread, so that the sender thread never imports.
    assert {"socket", "ssl", "zlib", "json", "tomllib"} <= set(after_client)
    assert after_send == after_client
    assert [m["event"] for m in sink.events()] == ["ServerStarted"]
