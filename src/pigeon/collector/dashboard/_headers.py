"""Security headers of every page, asset and stats response the read side serves.

The dashboard must work on an air-gapped network and may load nothing from
elsewhere: the policy allows the collector's own origin only, no inline script
or style, no framing, and no referrer leaves for another origin.
"""

from __future__ import annotations

from starlette.responses import Response

__all__ = ["API_HEADERS", "PAGE_CSP", "PAGE_HEADERS", "apply"]

PAGE_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The Content-Security-Policy of dashboard pages."""

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": that makes browsers send "Origin: null" on the login form,
    # which would blind the cross-site check. Other origins still get nothing.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

PAGE_HEADERS = {
    **_COMMON,
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
}
"""Headers of HTML pages: strict CSP, never cached (they show private numbers)."""

API_HEADERS = {
    **_COMMON,
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
"""Headers of stats and export responses."""


def apply(response: Response, extra: dict[str, str]) -> None:
    """Set every header of ``extra`` on ``response``."""
    for name, value in extra.items():
        response.headers[name] = value
