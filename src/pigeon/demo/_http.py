"""A minimal JSON-over-HTTP client for the demo (standard library; never a proxy).

``http.client`` rather than ``urllib.request``: the demo only talks to
127.0.0.1, and ``urllib`` would route that through any ``http_proxy`` set in
the user's environment.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["ApiClient", "Reply", "Tally", "request"]


class Reply(NamedTuple):
    """A response: status and decoded JSON body (``None`` when not JSON)."""

    status: int
    body: Any


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    json_body: object = None,
    timeout: float = 10.0,
) -> Reply:
    """Send one request and read the whole answer.

    Raises:
        OSError: the server cannot be reached (refused, reset, timed out).
    """
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    all_headers = {"Accept": "application/json", **(headers or {})}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP exchange with {base_url}: {exc!r}") from None
    finally:
        conn.close()
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = None
    return Reply(response.status, decoded)


class Tally:
    """Calls made and error answers received, shared by the clients of one install."""

    def __init__(self) -> None:
        """Start at zero."""
        self.calls = 0
        self.errors = 0


class ApiClient:
    """Calls the reference server as one user of one client (user agent, language)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        user_agent: str,
        language: str,
        tally: Tally | None = None,
    ) -> None:
        """Remember who is calling; calls are counted in ``tally``."""
        self.base_url = base_url
        self.api_key = api_key
        self.user_agent = user_agent
        self.language = language
        self.tally = tally or Tally()

    def call(self, method: str, path: str, json_body: object = None) -> Reply:
        """One API call; counts it, and counts non-2xx answers as errors."""
        headers = {
            "X-Argilla-Api-Key": self.api_key,
            "User-Agent": self.user_agent,
            "Accept-Language": self.language,
        }
        reply = request(self.base_url, method, path, headers=headers, json_body=json_body)
        self.tally.calls += 1
        if not 200 <= reply.status < 300:
            self.tally.errors += 1
        return reply

    def as_user(self, api_key: str, user_agent: str | None = None) -> ApiClient:
        """The same client (and tally), authenticated as someone else."""
        return ApiClient(
            self.base_url, api_key, user_agent or self.user_agent, self.language, self.tally
        )
