"""The dashboard and stats API of a real collector process, attacked from outside.

Every read route refuses anonymous callers, the write key, the token in a
URL or in Basic auth; a full login over HTTP never puts the token in a URL,
a page, a header or a cookie; every read response, refusals included, has
the security headers; and afterwards the collector's logs hold neither the
real token nor any token an attacker tried.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from pigeon.collector.stats import VIEWS
from tests.collector._running import ADMIN_TOKEN, WRITE_KEY, RunningCollector, basic
from tests.hardening.conftest import Record

GUESSES = [f"guess-{n:04d}-token" for n in range(50)]
READ_PATHS = [
    "/api/v1/stats",
    *(f"/api/v1/stats/{view}" for view in VIEWS),
    "/api/v1/export",
    "/api/v1/export?format=csv",
]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("read-side")
    running = RunningCollector.with_store(workdir, f"sqlite:///{workdir / 'data' / 'p.db'}")
    yield running
    running.stop()


def with_query(path: str, **params: str) -> str:
    return path + ("&" if "?" in path else "?") + urlencode(params)


def check_headers(headers: dict[str, str], where: str) -> None:
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("cache-control") == "no-store", where
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), where


def test_no_read_route_opens_without_the_token(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried(
        "auth", "stats and export without a token, with the write key, a guessed token, the "
        "token in the query string, the token as Basic auth"
    )  # fmt: skip
    attempts: list[tuple[str, dict[str, str]]] = []
    for path in READ_PATHS:
        attempts += [
            (path, {}),
            (path, {"Authorization": f"Bearer {WRITE_KEY}"}),
            (path, basic(WRITE_KEY)),
            (path, {"Authorization": f"Bearer {GUESSES[0]}"}),
            (path, {"Authorization": "Basic " + base64.b64encode(ADMIN_TOKEN.encode()).decode()}),
            (path, {"Authorization": f"Token {ADMIN_TOKEN}"}),
            (path, {"Cookie": f"pigeon_session={ADMIN_TOKEN}"}),
        ]
        for name in ("token", "admin_token", "access_token", "auth"):
            attempts.append((with_query(path, **{name: ADMIN_TOKEN}), {}))
    for path, headers in attempts:
        reply = collector.request("GET", path, headers=headers)
        assert reply.status == 401, (path, headers, reply.status)
        assert reply.json["code"]
        assert reply.json["message"]
        check_headers(reply.headers, f"401 of {path}")
    reliability.figures["refused_attempts"] = len(attempts)
    for path in READ_PATHS:  # and the real token does open them (the refusals mean something)
        reply = collector.request("GET", path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert reply.status == 200, path
        check_headers(reply.headers, path)


def login_flow(collector: RunningCollector) -> list[tuple[str, int, dict[str, str], bytes]]:
    """A browser's login over real HTTP; every exchange as (what, status, headers, body)."""
    seen: list[tuple[str, int, dict[str, str], bytes]] = []
    page = collector.request("GET", "/")
    seen.append(("GET /", page.status, page.headers, page.body))
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page.body)
    assert csrf is not None
    cookie = f"pigeon_csrf={csrf.group(1).decode()}"
    for token in (GUESSES[1], ADMIN_TOKEN):
        form = urlencode({"token": token, "csrf": csrf.group(1).decode()}).encode()
        reply = collector.request(
            "POST", "/login", form,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
             "Origin": collector.url},
        )  # fmt: skip
        seen.append((f"POST /login ({'right' if token == ADMIN_TOKEN else 'wrong'})",
                     reply.status, reply.headers, reply.body))  # fmt: skip
    assert seen[-2][1] == 401
    assert seen[-1][1] == 303
    session = re.search(r"pigeon_session=([^;]+)", seen[-1][2]["set-cookie"])
    assert session is not None
    cookies = f"{cookie}; pigeon_session={session.group(1)}"
    for path in ("/", *READ_PATHS):
        reply = collector.request("GET", path, headers={"Cookie": cookies})
        assert reply.status == 200, path
        seen.append((f"GET {path} (session)", reply.status, reply.headers, reply.body))
    return seen


def test_the_token_never_travels_in_a_url_page_header_or_cookie(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("auth", "a full login over HTTP: the token searched in every URL, page, "
                      "header and cookie sent back")  # fmt: skip
    seen = login_flow(collector)
    for what, _, headers, body in seen:
        assert ADMIN_TOKEN.encode() not in body, what
        assert GUESSES[1].encode() not in body, what
        for name, value in headers.items():
            assert ADMIN_TOKEN not in value, (what, name)
        location = headers.get("location", "")
        assert "token" not in location.lower(), what
        for url in re.findall(rb'(?:href|src|action)="([^"]*)"', body):
            assert b"token" not in url.lower(), (what, url)
        if what.startswith("GET /"):
            check_headers(headers, what)
    reliability.figures["exchanges_searched"] = len(seen)


def test_login_is_csrf_safe_over_real_http(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("auth", "login posted cross-site, without the CSRF pair, with a forged one")
    page = collector.request("GET", "/")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page.body)
    assert csrf is not None
    good = csrf.group(1).decode()
    cases = [
        ({"Origin": "https://evil.example", "Cookie": f"pigeon_csrf={good}"}, good),
        ({"Sec-Fetch-Site": "cross-site", "Cookie": f"pigeon_csrf={good}"}, good),
        ({}, good),  # no cookie half
        ({"Cookie": f"pigeon_csrf={good}"}, "forged"),
        ({"Cookie": "pigeon_csrf=forged"}, "forged"),
    ]
    for headers, field in cases:
        form = urlencode({"token": ADMIN_TOKEN, "csrf": field}).encode()
        reply = collector.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", **headers}
        )
        assert reply.status == 403, (headers, field, reply.status)
        assert "pigeon_session" not in reply.headers.get("set-cookie", "")
    reliability.figures["refused"] = len(cases)


def test_no_token_reaches_the_logs(collector: RunningCollector, reliability: Record) -> None:
    reliability.tried("auth", f"{len(GUESSES)} guessed tokens (Bearer and login), then the logs")
    for guess in GUESSES:
        collector.request("GET", "/api/v1/stats", headers={"Authorization": f"Bearer {guess}"})
        collector.request("GET", with_query("/api/v1/export", token=guess))
    reply = collector.request(
        "GET", "/api/v1/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert reply.status == 200
    logs = collector.stdout + collector.stderr
    assert logs.strip(), "the collector logged nothing: the search would prove nothing"
    assert ADMIN_TOKEN not in logs
    leaked = [g for g in GUESSES if g in logs]
    reliability.figures["log_bytes"] = len(logs)
    assert not leaked, leaked
