"""The dashboard: login, session cookies, security headers, pages and static files.

Templates live in ``templates/`` and scripts, styles and the vendored Chart.js
(with its licence) in ``static/``; both ship inside the wheel. The routes are
mounted by :func:`pigeon.collector._read_api.read_router`.
"""

from pigeon.collector.dashboard._auth import AdminAuth
from pigeon.collector.dashboard._pages import dashboard_router

__all__ = ["AdminAuth", "dashboard_router"]
