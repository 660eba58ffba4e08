"""The web console: plain HTML, ES modules and CSS from hub/web/static, served as they are (no build step).

The files carry no secret and need no token; every API call the page makes carries the operator's
bearer token. The browser may have no internet at all in a command center, so nothing is loaded from
anywhere but the hub, and the Content-Security-Policy says so.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".ico": "image/x-icon"}
# blob: for evidence and snapshots fetched with the token; data: for a stream test's preview JPEG.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def router() -> APIRouter:
    web = APIRouter(tags=["console"], include_in_schema=False)

    @web.api_route("/", methods=["GET", "HEAD"])
    def index() -> FileResponse:
        return _file(STATIC / "index.html")

    @web.api_route("/console/{name:path}", methods=["GET", "HEAD"])
    def static(name: str) -> FileResponse:
        return _file(_resolve(name))

    del index, static
    return web


def _resolve(name: str) -> Path:
    """A file inside the static folder, never outside it (`..`, absolute paths, symlinks out)."""
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file() or path.suffix not in _TYPES:
        raise HTTPException(404, "no such console file")
    return path


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_HEADERS)
