"""One load client process: gzip batches over a keep-alive connection, timed, to a collector.

``python -m tests.hardening._load_client URL SECONDS WORKER OUT.json [fresh]``

The client builds a pool of batches up front and sends them in a loop: the
first pass stores new events (the warm-up), later passes resend the same
message ids, which the collector must deduplicate, so the store stops
growing and any growth of the collector's memory is its own. With
``fresh``, every batch carries new message ids for the whole run.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import sys
import time
import uuid

POOL = 600
BATCH = 50
KEY = "test-key"


def pool(worker: int) -> list[bytes]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    batches = []
    for n in range(POOL):
        messages = [
            {"type": "track", "event": "LogRecordsRequested",
             "anonymousId": f"load-{worker}-{n % 7}",
             "messageId": str(uuid.uuid4()), "timestamp": now,
             "properties": {"task": "Text2Text", "records": i},
             "context": {"app": {"name": "argilla", "version": f"1.{n % 5}.0"},
                         "library": {"name": "pigeon", "version": "0.1.0"}}}
            for i in range(BATCH)
        ]  # fmt: skip
        batches.append(gzip.compress(json.dumps({"batch": messages}).encode(), 6))
    return batches


def renewed(body: bytes) -> bytes:
    """``body`` (a gzip batch of the pool) with new message ids."""
    data = json.loads(gzip.decompress(body))
    for message in data["batch"]:
        message["messageId"] = str(uuid.uuid4())
    return gzip.compress(json.dumps(data).encode(), 1)


def main(url: str, seconds: float, worker: int, out: str, fresh: bool) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    headers = {
        "Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode(),
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    batches = pool(worker)
    results: list[tuple[float, float, int]] = []  # (started, seconds, status)
    first_pass_done = 0.0
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    deadline = time.time() + seconds
    n = 0
    while time.time() < deadline:
        body = batches[n % POOL] if not fresh or n < POOL else renewed(batches[n % POOL])
        began = time.time()
        try:
            conn.request("POST", "/v1/batch", body, headers)
            reply = conn.getresponse()
            reply.read()
            status = reply.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        results.append((began, time.time() - began, status))
        n += 1
        if n == POOL:
            first_pass_done = time.time()
    conn.close()
    with open(out, "w") as f:
        json.dump({"results": results, "first_pass_done": first_pass_done, "batch": BATCH}, f)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], "fresh" in sys.argv[5:])
