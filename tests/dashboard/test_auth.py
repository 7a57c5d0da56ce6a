"""Who may read: the admin token, login and logout, cookie flags, security headers."""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from pigeon.collector.dashboard import _auth
from pigeon.collector.dashboard._auth import AdminAuth
from pigeon.collector.storage._base import Store
from tests.dashboard._client import ReadClient, csrf_of
from tests.dashboard._data import ADMIN_TOKEN, AUTH

PROTECTED = ["/api/v1/stats", "/api/v1/stats/overview", "/api/v1/stats/errors", "/api/v1/export"]


def login(client: ReadClient, token: str = ADMIN_TOKEN, **headers: str) -> httpx.Response:
    csrf = csrf_of(client.get("/"))
    return client.post("/login", data={"csrf": csrf, "token": token}, headers=headers)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name."""
    return {value.split("=", 1)[0]: value for value in response.headers.get_list("set-cookie")}


@pytest.mark.parametrize("path", PROTECTED)
def test_no_token_is_401_json(client: ReadClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == "unauthorized"
    assert "Bearer" in body["message"]


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {ADMIN_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        "Bearer ",
        f"Basic {ADMIN_TOKEN}",
        ADMIN_TOKEN,
        f"Token {ADMIN_TOKEN}",
    ],
)
@pytest.mark.parametrize("path", PROTECTED)
def test_wrong_token_is_401(client: ReadClient, path: str, header: str) -> None:
    assert client.get(path, headers={"Authorization": header}).status_code == 401


def test_bearer_token_reads(client: ReadClient) -> None:
    assert client.get("/api/v1/stats/overview", headers=AUTH).status_code == 200
    lower = {"Authorization": f"bearer {ADMIN_TOKEN}"}
    assert client.get("/api/v1/stats/overview", headers=lower).status_code == 200


def test_token_is_compared_in_constant_time(
    client: ReadClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.get("/api/v1/stats", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (b"nope", ADMIN_TOKEN.encode()) in compared


def test_an_empty_admin_token_lets_nobody_in() -> None:
    auth = AdminAuth("")
    assert not auth.token_matches("")
    assert not auth.token_matches("anything")


def test_login_sets_a_strict_httponly_session(client: ReadClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'type="password"' in page.text
    assert ADMIN_TOKEN not in page.text
    response = login(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = set_cookies(response)["pigeon_session"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert ADMIN_TOKEN not in cookie
    # The session now reads the API and shows the dashboard.
    assert client.get("/api/v1/stats/overview").status_code == 200
    dashboard = client.get("/")
    assert 'id="chart-installs"' in dashboard.text
    assert ADMIN_TOKEN not in dashboard.text


def test_session_cookie_is_secure_over_https(known_store: Store, make_client: Any) -> None:
    client = make_client(known_store, base_url="https://testserver")
    assert "Secure" in set_cookies(client.get("/"))["pigeon_csrf"]
    response = login(client)
    assert response.status_code == 303
    assert "Secure" in set_cookies(response)["pigeon_session"]
    assert client.get("/api/v1/stats/overview").status_code == 200


def test_session_cookie_is_secure_behind_a_tls_proxy(client: ReadClient) -> None:
    response = login(client, **{"x-forwarded-proto": "https"})
    assert response.status_code == 303
    assert "Secure" in set_cookies(response)["pigeon_session"]


def test_wrong_token_login_is_refused(client: ReadClient) -> None:
    response = login(client, token="not-the-token")
    assert response.status_code == 401
    assert "not the admin token" in response.text
    assert "not-the-token" not in response.text
    assert "pigeon_session" not in set_cookies(response)
    assert client.get("/api/v1/stats/overview").status_code == 401


def test_login_without_the_csrf_token_is_refused(client: ReadClient) -> None:
    client.get("/")
    response = client.post("/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 403
    assert "pigeon_session" not in set_cookies(response)
    response = client.post("/login", data={"token": ADMIN_TOKEN, "csrf": "forged"})
    assert response.status_code == 403


def test_cross_site_login_is_refused(client: ReadClient) -> None:
    response = login(client, origin="https://evil.example")
    assert response.status_code == 403
    response = login(client, **{"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert login(client, origin="http://testserver").status_code == 303


def test_login_needs_a_form(client: ReadClient) -> None:
    client.get("/")
    response = client.post("/login", json={"token": ADMIN_TOKEN})
    assert response.status_code == 400
    response = client.post(
        "/login",
        content=b"token=" + b"a" * 10_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


def test_logout_ends_the_session(client: ReadClient) -> None:
    login(client)
    session = client.http.cookies["pigeon_session"]
    page = client.get("/")
    response = client.post("/logout", data={"csrf": csrf_of(page)})
    assert response.status_code == 303
    assert 'pigeon_session=""' in set_cookies(response)["pigeon_session"]
    assert client.get("/api/v1/stats/overview").status_code == 401
    # The old cookie, replayed, is dead too.
    client.http.cookies.set("pigeon_session", session)
    assert client.get("/api/v1/stats/overview").status_code == 401


def test_logout_without_csrf_keeps_the_session(client: ReadClient) -> None:
    login(client)
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/api/v1/stats/overview").status_code == 200


@pytest.mark.parametrize(
    "cookie",
    ["", "garbage", "a.b.c", "abc.9999999999.forged", "abc.1.AAAA"],
)
def test_forged_session_cookies_are_refused(client: ReadClient, cookie: str) -> None:
    client.http.cookies.set("pigeon_session", cookie)
    assert client.get("/api/v1/stats/overview").status_code == 401


def test_a_session_of_another_token_is_refused(client: ReadClient) -> None:
    client.http.cookies.set("pigeon_session", AdminAuth("another-token").new_session())
    assert client.get("/api/v1/stats/overview").status_code == 401


def test_expired_sessions_are_refused() -> None:
    now = [1_000_000.0]
    auth = AdminAuth("token", clock=lambda: now[0])
    cookie = auth.new_session()
    session_id = auth._session_id(cookie)
    assert session_id is not None
    now[0] += _auth.SESSION_SECONDS + 1
    assert auth._session_id(cookie) is None


def test_page_security_headers(client: ReadClient) -> None:
    for response in (client.get("/"), login(client), client.get("/")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "http" not in csp  # no external origin is allowed
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"


def test_api_security_headers(client: ReadClient) -> None:
    response = client.get("/api/v1/stats/overview", headers=AUTH)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(client: ReadClient) -> None:
    login_page = client.get("/")
    login(client)
    for page in (login_page, client.get("/")):
        text = page.text
        assert "<style" not in text
        assert " style=" not in text
        assert " on" + "click=" not in text
        for script in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S):
            assert script.strip() == ""


def test_static_files_are_served_without_login(client: ReadClient) -> None:
    js = client.get("/dashboard/static/chart.umd.min.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert b"Chart.js v4" in js.content
    assert client.get("/dashboard/static/dashboard.js").status_code == 200
    assert (
        client.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    )
    licence = client.get("/dashboard/static/chart.js.LICENSE.md")
    assert "MIT License" in licence.text


@pytest.mark.parametrize(
    "name", ["missing.js", "..%2F_auth.py", "..%2F..%2Fstats%2F__init__.py", "%2Fetc%2Fpasswd"]
)
def test_only_shipped_static_files_are_served(client: ReadClient, name: str) -> None:
    assert client.get(f"/dashboard/static/{name}").status_code == 404


def test_a_logout_noted_in_a_shared_directory_holds_in_every_process(tmp_path: Path) -> None:
    # Worker processes of one collector share the directory (see --workers).
    now = [1_000_000.0]
    first = AdminAuth("token", clock=lambda: now[0], revocations_dir=tmp_path)
    second = AdminAuth("token", clock=lambda: now[0], revocations_dir=tmp_path)
    ended, kept = first.new_session(), first.new_session()
    assert second._session_id(ended) is not None
    first.revoke(ended)
    assert second._session_id(ended) is None
    assert second._session_id(kept) is not None
    notes = list(tmp_path.iterdir())
    assert len(notes) == 1
    assert ended.split(".")[0] not in notes[0].name  # a hash, never the session id
    # Once the session has expired anyway, the next logout clears its note.
    now[0] += _auth.SESSION_SECONDS + 1
    later = second.new_session()
    second.revoke(later)
    assert [n.name.partition("-")[0] for n in tmp_path.iterdir()] == [later.split(".")[1]]
