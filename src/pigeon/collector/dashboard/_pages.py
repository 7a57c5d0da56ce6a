"""The dashboard's pages: login, logout, the dashboard itself and its static files.

Pages are rendered by Jinja2 with autoescaping; every number on them is fetched
by ``dashboard.js`` from the stats API with the session cookie, and drawn by the
Chart.js copy shipped in ``static/``. Nothing is loaded from elsewhere.
"""

from __future__ import annotations

import mimetypes
import urllib.parse
from importlib import resources

import jinja2
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pigeon._version import __version__
from pigeon.collector.dashboard._auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminAuth,
    same_token,
)
from pigeon.collector.dashboard._headers import PAGE_HEADERS, apply

__all__ = ["STATIC_PREFIX", "dashboard_router"]

STATIC_PREFIX = "/dashboard/static/"
"""Where the dashboard's own scripts, styles and icons are served."""

_MAX_FORM_BYTES = 4096
_CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".md": "text/plain; charset=utf-8"}


def _load_static() -> dict[str, tuple[bytes, str]]:
    """Every shipped static file, read once: only these names can ever be served."""
    files: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("pigeon.collector.dashboard") / "static"
    for entry in folder.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            kind = _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(entry.name)[0]
            files[entry.name] = (entry.read_bytes(), kind or "application/octet-stream")
    return files


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pigeon.collector.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.globals["static"] = lambda name: f"{STATIC_PREFIX}{name}?v={__version__}"
    env.globals["version"] = __version__
    return env


def _secure(request: Request) -> bool:
    """Whether the browser reached us over https (directly, or through a TLS proxy).

    Trusting ``X-Forwarded-Proto`` here is safe either way: a client that sends it
    falsely only gets a cookie its own browser will not send back over http.
    """
    forwarded = request.headers.get("x-forwarded-proto", "").split(",", 1)[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _cross_site(request: Request) -> bool:
    """Whether a form post comes from another site (login CSRF, logout CSRF)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # No origin to compare (old browsers, privacy settings): the CSRF token decides.
        return False
    return urllib.parse.urlsplit(origin).netloc != request.headers.get("host", "")


async def _form(request: Request) -> dict[str, str] | None:
    """The fields of a small urlencoded form, or ``None`` when the body is not one."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return None
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


def dashboard_router(auth: AdminAuth, min_installs: int) -> APIRouter:
    """The dashboard routes: ``GET /``, ``POST /login``, ``POST /logout``, static files."""
    router = APIRouter(include_in_schema=False)
    env = _templates()
    static = _load_static()

    def page(request: Request, template: str, status: int = 200, **context: object) -> Response:
        csrf = request.cookies.get(CSRF_COOKIE, "")
        if not auth.csrf_valid(csrf):
            csrf = auth.new_csrf()
        html = env.get_template(template).render(csrf=csrf, **context)
        response = HTMLResponse(html, status_code=status)
        apply(response, PAGE_HEADERS)
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
        return response

    def login_page(request: Request, status: int = 200, error: str = "") -> Response:
        return page(request, "login.html", status, error=error)

    @router.get("/")
    async def index(request: Request) -> Response:
        if not auth.has_session(request):
            return login_page(request)
        return page(request, "dashboard.html", min_installs=min_installs)

    def checked_form(request: Request, form: dict[str, str] | None) -> Response | None:
        """A refusal when the form is malformed, cross-site or lacks its CSRF token."""
        if form is None:
            return login_page(request, 400, "The form could not be read; please try again.")
        field = form.get("csrf", "")
        if (
            _cross_site(request)
            or not auth.csrf_valid(field)
            or not same_token(field, request.cookies.get(CSRF_COOKIE, ""))
        ):
            return login_page(request, 403, "The form expired or came from another site.")
        return None

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        refusal = checked_form(request, form)
        if refusal is not None or form is None:
            return refusal or login_page(request, 400)
        if not auth.token_matches(form.get("token", "")):
            return login_page(request, 401, "That is not the admin token.")
        response = RedirectResponse("/", status_code=303)
        apply(response, PAGE_HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            auth.new_session(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        form = await _form(request)
        refusal = checked_form(request, form)
        if refusal is not None:
            return refusal
        auth.revoke(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/", status_code=303)
        apply(response, PAGE_HEADERS)
        response.delete_cookie(
            SESSION_COOKIE, httponly=True, samesite="strict", secure=_secure(request)
        )
        return response

    @router.get(STATIC_PREFIX + "{name}")
    async def static_file(name: str) -> Response:
        if name not in static:
            response = Response("not found", status_code=404, media_type="text/plain")
        else:
            body, kind = static[name]
            response = Response(body, media_type=kind)
            response.headers["Cache-Control"] = "public, max-age=3600"
        for header, value in PAGE_HEADERS.items():
            if header != "Cache-Control":
                response.headers[header] = value
        return response

    return router
