"""The mock's dashboard: one HTML page at ``/`` and its script and style under ``/dashboard/``.

Plain files shipped in the package (``gongji_mock/server/static``), no build step and nothing
fetched from elsewhere: the page reads ``GET /gongji-admin/dashboard`` every two seconds
and switches faults with ``POST`` / ``DELETE /gongji-admin/faults``
(docs/reference/mock-dashboard.md). Like the admin endpoint it is for one machine.
"""

from __future__ import annotations

from importlib import resources

import httpx

PREFIX = "/dashboard/"

_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # The page loads only its own files and talks only to this mock.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def static_file(name: str) -> bytes:
    """One of the dashboard's files, as shipped in the package."""
    return resources.files("gongji_mock.server").joinpath("static", name).read_bytes()


class DashboardPage:
    """Serves the page and its two files; anything else under ``/dashboard/`` is a 404."""

    def __init__(self) -> None:
        self._files = {name: static_file(name) for name in _TYPES}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        name = "index.html" if path == "/" else path.removeprefix(PREFIX)
        if name not in self._files:
            return httpx.Response(
                404, json={"error": "not_found", "message": f"No dashboard file {name[:40]!r}."}
            )
        if request.method not in ("GET", "HEAD"):
            return httpx.Response(405, json={"error": "method_not_allowed"})
        headers = {**_HEADERS, "Content-Type": _TYPES[name]}
        return httpx.Response(200, content=self._files[name], headers=headers)
