"""GET /: the chat page, and the few static files it needs, served from the package.

Only the files named in STATIC are served (no path is ever joined from user
input), and scripts are separate files so a strict CSP (``script-src 'self'``)
applies without exceptions.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Response

from ragagent.core import errors

router = APIRouter(tags=["web"], include_in_schema=False)

STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CACHE = {"Cache-Control": "no-cache"}


def read_static(name: str) -> bytes:
    """The bytes of a packaged static file; only names listed in STATIC exist."""
    if name not in STATIC:
        raise errors.NotFound("no such file")
    return resources.files("ragagent.web").joinpath("static", name).read_bytes()


@router.get("/")
async def chat_page() -> Response:
    return Response(read_static("index.html"), media_type=STATIC["index.html"], headers=CACHE)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(read_static("favicon.svg"), media_type=STATIC["favicon.svg"], headers=CACHE)


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    return Response(read_static(name), media_type=STATIC.get(name), headers=CACHE)
