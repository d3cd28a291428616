"""Meta's media endpoints on the stand-in: upload, retrieve URL, download, delete.

Why: an inbound voice note reaches the channel as a media id; the channel's downloader
(connectors/whatsapp/media/download.py) must be testable on loopback against the same two steps,
answers and failures as Meta's (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media):

- ``POST /{version}/{phone_number_id}/media``: multipart form ``messaging_product=whatsapp``,
  ``type=<mime type>``, ``file=<bytes>`` -> ``{"id": "<media id>"}``; the type and the size per
  kind are checked against Meta's supported media table (``MEDIA_KINDS``; anything else: 400,
  code 131053 "Media upload error").
- ``GET /{version}/{media_id}[?phone_number_id=<id>]`` -> ``{"messaging_product", "url",
  "mime_type", "sha256", "file_size", "id"}``; unknown, deleted or another number's media: 400,
  code 100, subcode 33 (``GraphMethodException``), as Meta answers.
- ``DELETE /{version}/{media_id}`` -> ``{"success": true}``.
- the URL: ``/_lookaside/whatsapp_business/attachments/?mid=<opaque>&ext=<time>&hash=<opaque>`` on
  the stand-in itself (absolute, on the origin the client used), so the downloader needs no
  host rewriting. It needs the bearer token (401 otherwise) and answers 404 once it expired
  (``media_url_ttl`` seconds, Meta's five minutes by default, or ``expire_urls()``) or the media
  was deleted. Each info request issues a fresh URL.

Every route needs the bearer token (401, code 190). Faults are queued per stage ("info",
"download") with faults.py's ``Fault`` and answered by its ``answer_fault``; a download fault
with status 404 looks like an expired URL. Media live in memory only, like everything here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from aiohttp import web

from standins.meta_graph.errors import meta_error
from standins.meta_graph.faults import Fault, FaultPlan, answer_fault

if TYPE_CHECKING:
    from standins.meta_graph.server import MetaGraphStandIn

__all__ = ["DEFAULT_MEDIA_URL_TTL", "MEDIA_KINDS", "MediaEndpoints", "MediaStore", "StoredMedia", "media_fault"]

MB = 1024 * 1024
DEFAULT_MEDIA_URL_TTL = 300.0
"""Meta: "the URL is only valid for 5 minutes"."""

#: Meta's supported media (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types):
#: kind -> (mime base types, maximum size in bytes). audio/ogg: Opus codecs only.
MEDIA_KINDS: Mapping[str, tuple[frozenset[str], int]] = {
    "audio": (frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}), 16 * MB),
    "image": (frozenset({"image/jpeg", "image/png"}), 5 * MB),
    "video": (frozenset({"video/mp4", "video/3gpp"}), 16 * MB),
    "sticker": (frozenset({"image/webp"}), 500 * 1024),
    "document": (
        frozenset({
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }),
        100 * MB,
    ),
}
_LARGEST = max(limit for _, limit in MEDIA_KINDS.values())
_LOOKASIDE_PATH = "/_lookaside/whatsapp_business/attachments/"
Stage = Literal["info", "download"]


def _limit_for(mime_type: str) -> int | None:
    """Meta's size limit for this mime type; None when Meta does not support it."""
    base = mime_type.split(";", 1)[0].strip().lower()
    for types, limit in MEDIA_KINDS.values():
        if base in types:
            if base == "audio/ogg" and "codecs=" in mime_type.lower() and "opus" not in mime_type.lower():
                return None
            return limit
    return None


@dataclasses.dataclass(frozen=True)
class StoredMedia:
    """One uploaded file; ``file_size`` and ``sha256`` are what the info answer announces
    (tests may make them lie)."""

    content: bytes = dataclasses.field(repr=False)
    mime_type: str
    phone_number_id: str
    file_size: int
    sha256: str


def media_fault(status: int | None = None, timeout: float | None = None) -> Fault:
    """A media fault: an answer with ``status`` (Graph code by status), or a hang of ``timeout`` s."""
    if status is None:
        status = 504 if timeout is not None else 500
    code = {429: 4, 401: 190, 403: 190, 400: 100, 404: 100}.get(status, 2 if timeout is not None else 131000)
    return Fault(status=status, code=code, timeout=timeout)


class MediaStore:
    """The stand-in's media, their issued URLs, served downloads and queued faults per stage."""

    def __init__(self, url_ttl: float = DEFAULT_MEDIA_URL_TTL) -> None:
        if url_ttl <= 0:
            raise ValueError("media_url_ttl must be positive")
        self.url_ttl = url_ttl
        self.items: dict[str, StoredMedia] = {}
        self.urls: dict[str, tuple[str, float]] = {}
        self.downloads = 0
        self.faults: dict[str, FaultPlan] = {"info": FaultPlan(), "download": FaultPlan()}

    def add(
        self, content: bytes, mime_type: str, phone_number_id: str, *, file_size: int | None = None, sha256: str | None = None
    ) -> str:
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.items[media_id] = StoredMedia(
            content=bytes(content),
            mime_type=mime_type,
            phone_number_id=phone_number_id,
            file_size=len(content) if file_size is None else file_size,
            sha256=hashlib.sha256(content).hexdigest() if sha256 is None else sha256,
        )
        return media_id

    def delete(self, media_id: str) -> bool:
        self.urls = {mid: issued for mid, issued in self.urls.items() if issued[0] != media_id}
        return self.items.pop(media_id, None) is not None

    def issue_url(self, media_id: str) -> str:
        """A fresh opaque ``mid`` for this media, valid for ``url_ttl`` seconds."""
        mid = secrets.token_urlsafe(24)
        self.urls[mid] = (media_id, time.monotonic())
        return mid

    def resolve(self, mid: str) -> StoredMedia | None:
        """The media behind a URL; None when unknown, expired or deleted."""
        issued = self.urls.get(mid)
        if issued is None or time.monotonic() - issued[1] > self.url_ttl:
            return None
        return self.items.get(issued[0])

    def expire_urls(self) -> None:
        self.urls.clear()

    def inject_fault(self, stage: str, fault: Fault, count: int = 1) -> None:
        if stage not in self.faults:
            raise ValueError(f"stage must be one of {sorted(self.faults)}")
        self.faults[stage].inject(fault, count)

    def clear_faults(self) -> None:
        for plan in self.faults.values():
            plan.clear()


def _authorised(request: web.Request, token: str) -> bool:
    authorization = request.headers.get("Authorization", "")
    return authorization.startswith("Bearer ") and secrets.compare_digest(
        authorization[len("Bearer "):].encode(), token.encode()
    )


def _no_such_object(object_id: str, method: str = "get") -> web.Response:
    return meta_error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )


def _upload_error(details: str) -> web.Response:
    return meta_error(400, 131053, "Media upload error", details=details)


class MediaEndpoints:
    """The media routes of one stand-in (Meta's and the lookaside download)."""

    def __init__(self, standin: MetaGraphStandIn) -> None:
        self.standin = standin

    def add_routes(self, app: web.Application) -> None:
        """Register after the ``/_standin/...`` routes; ``{version}`` only matches ``vNN.N``, so
        ``GET /{version}/{media_id}`` never shadows them."""
        version = r"{version:v\d+(?:\.\d+)?}"
        app.router.add_post(f"/{version}/{{phone_number_id}}/media", self.upload)
        app.router.add_get(f"/{version}/{{media_id}}", self.info)
        app.router.add_delete(f"/{version}/{{media_id}}", self.delete)
        app.router.add_get(_LOOKASIDE_PATH, self.download)

    @property
    def store(self) -> MediaStore:
        return self.standin.media

    async def upload(self, request: web.Request) -> web.StreamResponse:
        if not _authorised(request, self.standin.access_token):
            return meta_error(401, 190)
        if request.match_info["phone_number_id"] != self.standin.phone_number_id:
            return _no_such_object(request.match_info["phone_number_id"], "post")
        if not request.content_type.startswith("multipart/"):
            return meta_error(400, 100, "(#100) The request must be multipart/form-data")
        fields: dict[str, str] = {}
        content: bytes | None = None
        file_type = ""
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file":
                file_type = part.headers.get("Content-Type", "")
                limit = _limit_for(fields.get("type") or file_type) or _LARGEST
                chunks, size = [], 0
                while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
                    size += len(chunk)
                    if size > limit:
                        return _upload_error(f"File is larger than the {limit} bytes allowed for its type")
                    chunks.append(chunk)
                content = b"".join(chunks)
            elif part.name:
                fields[part.name] = (await part.text()).strip()  # type: ignore[union-attr]
        if fields.get("messaging_product") != "whatsapp":
            return meta_error(400, 100, "(#100) The parameter messaging_product is required.")
        mime_type = fields.get("type") or file_type
        if content is None:
            return meta_error(400, 100, "(#100) The parameter file is required.")
        limit = _limit_for(mime_type)
        if limit is None:
            return _upload_error("Param type is not a supported media type")
        if not content or len(content) > limit:
            return _upload_error(f"File must be 1 to {limit} bytes for its type")
        return web.json_response({"id": self.store.add(content, mime_type, self.standin.phone_number_id)})

    async def info(self, request: web.Request) -> web.StreamResponse:
        if not _authorised(request, self.standin.access_token):
            return meta_error(401, 190)
        fault = self.store.faults["info"].take()
        if fault is not None:
            return await answer_fault(fault, self.standin.stopping)
        media_id = request.match_info["media_id"]
        media = self.store.items.get(media_id)
        number = request.query.get("phone_number_id")
        if media is None or (number is not None and number != media.phone_number_id):
            return _no_such_object(media_id)
        mid = self.store.issue_url(media_id)
        query = {"mid": mid, "ext": str(int(time.time())), "hash": secrets.token_urlsafe(12)}
        url = f"{request.scheme}://{request.host}{_LOOKASIDE_PATH}?{urlencode(query)}"  # the client's origin
        return web.json_response({
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": str(media.file_size),
            "id": media_id,
        })

    async def delete(self, request: web.Request) -> web.StreamResponse:
        if not _authorised(request, self.standin.access_token):
            return meta_error(401, 190)
        media_id = request.match_info["media_id"]
        media = self.store.items.get(media_id)
        number = request.query.get("phone_number_id")
        if media is None or (number is not None and number != media.phone_number_id):
            return _no_such_object(media_id, "delete")
        self.store.delete(media_id)
        return web.json_response({"success": True})

    async def download(self, request: web.Request) -> web.StreamResponse:
        if not _authorised(request, self.standin.access_token):
            return web.Response(status=401, text="Unauthorized")
        fault = self.store.faults["download"].take()
        if fault is not None:
            if fault.status == 404 and fault.timeout is None:
                return web.Response(status=404, text="URL signature expired")
            return await answer_fault(fault, self.standin.stopping)
        media = self.store.resolve(request.query.get("mid", ""))
        if media is None:
            return web.Response(status=404, text="URL signature expired")
        self.store.downloads += 1
        return web.Response(body=media.content, headers={"Content-Type": media.mime_type})
