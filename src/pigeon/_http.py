"""The HTTP transport: one gzip-compressed Segment-style batch per request.

Imported only on the sender thread when the first batch is sent, so that
``import pigeon`` never loads ``http.client`` or ``ssl``.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import urllib.parse

from pigeon._transports import DELIVERED, Delivery
from pigeon._version import __version__
from pigeon._wire import encode_batch

__all__ = ["HTTPTransport"]


class HTTPTransport:
    """POSTs batches to ``{endpoint}/v1/batch`` with the write key as Basic auth user."""

    def __init__(self, endpoint: str, write_key: str) -> None:
        """Prepare the request line and headers for ``endpoint``."""
        url = urllib.parse.urlsplit(endpoint.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"telemetry endpoint must be an http(s) URL, got {endpoint!r}")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self._path = f"{url.path}/v1/batch"
        token = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"pigeon/{__version__}",
        }

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Send one batch; classify the outcome, never raise."""
        body = gzip.compress(encode_batch(messages), compresslevel=6)
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            response = conn.getresponse()
            response.read()
        except TimeoutError:
            return Delivery(delivered=False, retry=True, reason="timeout")
        except OSError:
            return Delivery(delivered=False, retry=True, reason="network")
        except http.client.HTTPException:
            return Delivery(delivered=False, retry=True, reason="protocol")
        finally:
            conn.close()
        status = response.status
        if 200 <= status < 300:
            return DELIVERED
        retry = status == 429 or status >= 500
        return Delivery(delivered=False, retry=retry, reason=f"http_{status}")
