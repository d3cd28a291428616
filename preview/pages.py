"""The preview's pages and their files: whatever is in preview/static/, served from loopback.

``/`` is ``index.html`` (chat and inspector), ``/gallery`` is ``gallery.html``, ``/static/{name}``
any other file of that folder (flat: no subfolders). A name is a plain file name (letters, digits,
``.``, ``_``, ``-``, not starting with a dot) and must resolve inside the folder, so no request can
read a file elsewhere (``..``, encoded slashes, symbolic links out of the folder). Every answer
carries a Content-Security-Policy that allows only this server as a source: the pages can load
nothing from the internet (issue 15, item 4), and ``Cache-Control: no-store``, so a designer who
edits a file sees it on reload.
"""
from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

__all__ = ["STATIC_DIR", "CONTENT_TYPES", "SECURITY_HEADERS", "add_page_routes", "static_file"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain",
}
_TEXT_TYPES = ("text/", "application/json", "image/svg+xml")
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def static_file(static_dir: Path, name: str) -> web.Response:
    """The file ``name`` of ``static_dir`` with its content type; 404 for anything else."""
    root = static_dir.resolve()
    content_type = CONTENT_TYPES.get(Path(name).suffix.lower())
    if not _NAME.fullmatch(name) or content_type is None:
        raise web.HTTPNotFound(text="no such file")
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise web.HTTPNotFound(text="no such file")
    charset = "utf-8" if content_type.startswith(_TEXT_TYPES) else None
    return web.Response(body=path.read_bytes(), content_type=content_type, charset=charset, headers=SECURITY_HEADERS)


def add_page_routes(app: web.Application, static_dir: Path = STATIC_DIR) -> None:
    """``GET /``, ``GET /gallery`` and ``GET /static/{name}``."""

    async def index(request: web.Request) -> web.Response:
        return static_file(static_dir, "index.html")

    async def gallery(request: web.Request) -> web.Response:
        return static_file(static_dir, "gallery.html")

    async def named(request: web.Request) -> web.Response:
        return static_file(static_dir, request.match_info["name"])

    app.router.add_get("/", index)
    app.router.add_get("/gallery", gallery)
    app.router.add_get("/static/{name}", named)
