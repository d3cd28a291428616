"""The Graph API stand-in server: Meta's ``messages`` endpoint on loopback, with what it accepted.

Endpoint (Meta's, as documented at
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages and
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read):
``POST /{version}/{phone_number_id}/messages``, a message send or a mark-as-read
(``{"status": "read", "message_id": ..., "typing_indicator"?: {"type": "text"}}``).

What the endpoint checks and answers: standins/meta_graph/endpoint.py; the control endpoints
(``/_standin/...``): standins/meta_graph/control.py; the media endpoints (upload, retrieve URL,
download, delete, https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media):
standins/meta_graph/media.py. This class holds the state they share: the token and phone number
id, what was accepted (records.py), the fault plan (faults.py), the BSUID refusals
(addressing.py) and the media (media.py's ``MediaStore``).
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from standins.lifecycle import AppStandIn
from standins.meta_graph.addressing import BsuidRecipients
from standins.meta_graph.control import ControlEndpoints
from standins.meta_graph.endpoint import MessagesEndpoint
from standins.meta_graph.faults import Fault, FaultPlan
from standins.meta_graph.media import DEFAULT_MEDIA_URL_TTL, MediaEndpoints, MediaStore, Stage, media_fault
from standins.meta_graph.records import AcceptedMessage, ReadReceipt, Traffic

__all__ = ["DEFAULT_ACCESS_TOKEN", "DEFAULT_PHONE_NUMBER_ID", "MetaGraphStandIn"]

DEFAULT_ACCESS_TOKEN = "standin-access-token"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"


class MetaGraphStandIn(AppStandIn):
    """The stand-in server: build it, ``await start()`` (port 0 picks a free port), read
    ``base_url`` (``http://host:port``, what GraphSettings.api_base_url should be), and
    ``await stop()``; or use it as an async context manager (standins/lifecycle.py).

    Args:
        access_token: the only bearer token accepted.
        phone_number_id: the only business phone number id accepted.
        validate_limits: reject messages that break one of Meta's limits (meta_limits.py).
        media_url_ttl: seconds a media download URL stays valid (Meta: five minutes).
    """

    NAME = "Meta Graph stand-in"

    def __init__(
        self,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        *,
        validate_limits: bool = True,
        media_url_ttl: float = DEFAULT_MEDIA_URL_TTL,
    ) -> None:
        super().__init__(web.Application(client_max_size=4 * 1024 * 1024))
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.validate_limits = validate_limits
        self.faults = FaultPlan()
        self.bsuid_recipients = BsuidRecipients()
        self.traffic = Traffic()
        self.media = MediaStore(media_url_ttl)
        self.app.router.add_post("/{version}/{phone_number_id}/messages", MessagesEndpoint(self).handle)
        ControlEndpoints(self).add_routes(self.app)
        MediaEndpoints(self).add_routes(self.app)  # after /_standin/...: GET /{version}/{media_id}

    # -- recorded traffic ------------------------------------------------------------------
    @property
    def messages(self) -> tuple[AcceptedMessage, ...]:
        """Accepted messages, oldest first."""
        return tuple(self.traffic.messages)

    @property
    def reads(self) -> tuple[ReadReceipt, ...]:
        """Mark-as-read / typing calls, oldest first."""
        return tuple(self.traffic.reads)

    @property
    def served_faults(self) -> tuple[Fault, ...]:
        """Faults answered so far (queued and random), oldest first."""
        return self.faults.served

    def clear(self) -> None:
        """Forget recorded messages, read receipts and served faults."""
        self.traffic.clear()
        self.faults.forget_served()

    def subscribe(self) -> asyncio.Queue[AcceptedMessage]:
        """A queue that receives every message accepted from now on."""
        return self.traffic.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[AcceptedMessage]) -> None:
        self.traffic.unsubscribe(queue)

    async def wait_for_messages(self, count: int, timeout: float = 5.0) -> tuple[AcceptedMessage, ...]:
        """Wait until at least ``count`` messages were accepted (TimeoutError otherwise)."""
        await self.traffic.wait_for_messages(count, timeout)
        return self.messages

    # -- faults and BSUID refusals (see faults.py, addressing.py) --------------------------
    def inject_faults(self, fault: Fault, count: int = 1) -> None:
        """Answer the next ``count`` sends with ``fault`` (queued after earlier faults)."""
        self.faults.inject(fault, count)

    def inject_timeout(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` sends for ``seconds`` without recording them."""
        self.faults.inject(Fault(status=504, code=2, timeout=seconds), count)

    def set_random_faults(self, probability: float, **options: Any) -> None:
        """Fail each send with ``probability`` with a random kind from RANDOM_FAULT_KINDS.

        Seeded (``seed=``), so a reliability test sees the same fault sequence on every run;
        ``kinds=`` picks the kinds, ``timeout=`` how long the "timeout" kind holds a request
        (:meth:`FaultPlan.set_random`).
        """
        self.faults.set_random(probability, **options)

    def clear_faults(self) -> None:
        """Drop queued faults and turn random faults off."""
        self.faults.clear()

    def reject_bsuid_recipients(self, recipients: Iterable[str] | None = None) -> None:
        """Answer 131062 ("BSUID recipients are not supported for this message") to sends
        addressed by ``recipient``: to every such send when ``recipients`` is None, else only to
        those BSUIDs. Sends ``to`` a number are unaffected."""
        self.bsuid_recipients.refuse(recipients)

    def accept_bsuid_recipients(self) -> None:
        """Undo :meth:`reject_bsuid_recipients`: ``recipient`` sends are accepted again."""
        self.bsuid_recipients.accept_all()

    # -- media (see media.py) ----------------------------------------------------------------
    def add_media(
        self, content: bytes, mime_type: str, *, file_size: int | None = None, sha256: str | None = None
    ) -> str:
        """Store media as if uploaded by this number; returns its id (digits, like Meta's).

        Unlike the upload route, neither type nor size is checked, and ``file_size`` / ``sha256``
        may announce other values than the content's (to test a downloader against a lying host).
        """
        return self.media.add(content, mime_type, self.phone_number_id, file_size=file_size, sha256=sha256)

    def delete_media(self, media_id: str) -> bool:
        """Delete media and its URLs; False when there was none."""
        return self.media.delete(media_id)

    def expire_media_urls(self) -> None:
        """Every media URL issued so far answers 404 from now on (as after Meta's five minutes)."""
        self.media.expire_urls()

    @property
    def media_downloads(self) -> int:
        """How many media downloads were served (bytes sent), for tests."""
        return self.media.downloads

    def inject_media_faults(
        self, stage: Stage, status: int | None = None, *, count: int = 1, timeout: float | None = None
    ) -> None:
        """Answer the next ``count`` media ``stage`` requests ("info" or "download") with
        ``status`` (500 when unset), or hold them ``timeout`` seconds (then 504)."""
        self.media.inject_fault(stage, media_fault(status, timeout), count)

    def clear_media_faults(self) -> None:
        self.media.clear_faults()
