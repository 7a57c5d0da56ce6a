"""Who may read: the admin token, as a Bearer header or a signed session cookie.

The token itself never travels in a URL and is never written anywhere: the
login form posts it once, and the browser then holds a session cookie signed
with a key derived from the token (so rotating the token ends every session,
and several collector workers accept each other's cookies). Every comparison is
constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request

__all__ = ["CSRF_COOKIE", "SESSION_COOKIE", "SESSION_SECONDS", "AdminAuth", "new_csrf_token"]

SESSION_COOKIE = "pigeon_session"
"""The session cookie's name."""

CSRF_COOKIE = "pigeon_csrf"
"""The cookie half of the double-submit CSRF token of the login and logout forms."""

SESSION_SECONDS = 12 * 3600
"""How long a dashboard session lasts."""


def new_csrf_token() -> str:
    """A fresh random CSRF token."""
    return secrets.token_urlsafe(32)


def same_token(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets (``False`` when either is empty)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class AdminAuth:
    """Checks the admin token and issues, verifies and revokes session cookies."""

    def __init__(
        self,
        admin_token: str,
        clock: Callable[[], float] = time.time,
        *,
        revocations_dir: Path | None = None,
    ) -> None:
        """Guard reads with ``admin_token``; an empty token lets nobody in.

        ``revocations_dir`` (shared by the processes of one collector) notes
        logged-out sessions as empty files named by a hash of the session id,
        so that a logout in one worker process holds in every other.
        """
        self._token = admin_token
        self._key = hmac.new(
            admin_token.encode("utf-8"), b"pigeon dashboard session v1", hashlib.sha256
        ).digest()
        self._clock = clock
        # Logged-out session ids until they expire anyway (this process).
        self._revoked: dict[str, float] = {}
        self._shared = revocations_dir

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the admin token."""
        return same_token(given, self._token)

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def new_session(self) -> str:
        """A signed session cookie value: ``id.expiry.signature``."""
        expires = int(self._clock()) + SESSION_SECONDS
        payload = f"{secrets.token_urlsafe(16)}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def _session_id(self, value: str) -> str | None:
        """The id of a valid, unexpired, unrevoked session cookie, else ``None``."""
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        session_id, expires, signature = parts
        if not same_token(signature, self._sign(f"{session_id}.{expires}")):
            return None
        if int(expires) <= self._clock() or session_id in self._revoked:
            return None
        if self._shared is not None and self._note(session_id, expires).exists():
            return None
        return session_id

    def _note(self, session_id: str, expires: str) -> Path:
        assert self._shared is not None
        digest = hashlib.sha256(session_id.encode("ascii")).hexdigest()[:32]
        return self._shared / f"{expires}-{digest}"

    def revoke(self, value: str) -> None:
        """End the session of cookie ``value`` (logout)."""
        session_id = self._session_id(value)
        if session_id is None:
            return
        now = self._clock()
        expires = value.split(".")[1]
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        self._revoked[session_id] = int(expires)
        if self._shared is not None:
            self._note(session_id, expires).touch(mode=0o600)
            for note in self._shared.iterdir():  # notes of sessions expired anyway
                stamp = note.name.partition("-")[0]
                if stamp.isdigit() and int(stamp) <= now:
                    note.unlink(missing_ok=True)

    def new_csrf(self) -> str:
        """A CSRF token this collector issued: ``nonce.signature``.

        Signed, so that a cookie planted by someone else (another app on a
        sibling domain, a network attacker on plain http) cannot pair with a
        form field of their choosing.
        """
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign('csrf:' + nonce)}"

    def csrf_valid(self, value: str) -> bool:
        """Whether ``value`` is a CSRF token this collector issued."""
        nonce, _, signature = value.rpartition(".")
        if not nonce or not value.isascii():
            return False
        return same_token(signature, self._sign("csrf:" + nonce))

    def has_session(self, request: Request) -> bool:
        """Whether the request carries a valid session cookie."""
        value = request.cookies.get(SESSION_COOKIE, "")
        return bool(value) and self._session_id(value) is not None

    def allows(self, request: Request) -> bool:
        """Whether the request may read: ``Authorization: Bearer <token>`` or a session."""
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(credentials.strip()):
            return True
        return self.has_session(request)
