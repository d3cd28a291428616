"""The Graph API stand-in server: Meta's ``messages`` endpoint on loopback, with what it accepted.

Endpoint (Meta's, as documented at
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages and
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read):
``POST /{version}/{phone_number_id}/messages``, a message send or a mark-as-read
(``{"status": "read", "message_id": ..., "typing_indicator"?: {"type": "text"}}``).

Checks, in Meta's order and with Meta's error shape (standins/meta_graph/errors.py): the bearer
token (401, code 190), the phone number id (400, code 100 subcode 33), the address
(standins/meta_graph/addressing.py), required fields (400, code 100 / 131008) and every outbound
limit of standins/meta_graph/meta_limits.py (400, code 131009). Then queued or random faults
(standins/meta_graph/faults.py); a message that passes is recorded and answered with a fake
``wamid``. Control endpoints: standins/meta_graph/control.py.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from standins.meta_graph.addressing import Address, BsuidRecipients, resolve_address
from standins.meta_graph.control import ControlEndpoints
from standins.meta_graph.errors import meta_error
from standins.meta_graph.faults import RANDOM_FAULT_KINDS, Fault, FaultPlan, answer_fault
from standins.meta_graph.message_checks import outbound_problems
from standins.meta_graph.records import AcceptedMessage, ReadReceipt

__all__ = ["DEFAULT_ACCESS_TOKEN", "DEFAULT_PHONE_NUMBER_ID", "MetaGraphStandIn"]

logger = logging.getLogger(__name__)

DEFAULT_ACCESS_TOKEN = "standin-access-token"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"

_MESSAGE_TYPES = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "template", "reaction"}
)
_ENVELOPE_KEYS = frozenset({"messaging_product", "recipient_type", "to", "recipient"})


class MetaGraphStandIn:
    """The stand-in server: build it, ``await start()`` (port 0 picks a free port), read
    ``base_url``, and ``await stop()``; or use it as an async context manager.

    Args:
        access_token: the only bearer token accepted.
        phone_number_id: the only business phone number id accepted.
        validate_limits: reject messages that break one of Meta's limits (meta_limits.py).
    """

    def __init__(
        self,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        *,
        validate_limits: bool = True,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.validate_limits = validate_limits
        self.faults = FaultPlan()
        self.bsuid_recipients = BsuidRecipients()
        self._messages: list[AcceptedMessage] = []
        self._reads: list[ReadReceipt] = []
        self._subscribers: list[asyncio.Queue[AcceptedMessage]] = []
        self._stopping = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = web.Application(client_max_size=4 * 1024 * 1024)
        self.app.router.add_post("/{version}/{phone_number_id}/messages", self._handle_messages)
        ControlEndpoints(self).add_routes(self.app)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` and return the base URL (``http://127.0.0.1:<port>``)."""
        if self._runner is not None:
            raise RuntimeError("stand-in already started")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][0], runner.addresses[0][1]
        self._base_url = f"http://{bound_host}:{bound_port}"
        logger.info("Meta Graph stand-in listening on %s", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        """Stop serving; requests held by a timeout fault are released first."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MetaGraphStandIn:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` once started; what GraphSettings.api_base_url should be."""
        if self._base_url is None:
            raise RuntimeError("stand-in not started")
        return self._base_url

    # -- recorded traffic ------------------------------------------------------------------
    @property
    def messages(self) -> tuple[AcceptedMessage, ...]:
        """Accepted messages, oldest first."""
        return tuple(self._messages)

    @property
    def reads(self) -> tuple[ReadReceipt, ...]:
        """Mark-as-read / typing calls, oldest first."""
        return tuple(self._reads)

    @property
    def served_faults(self) -> tuple[Fault, ...]:
        """Faults answered so far (queued and random), oldest first."""
        return self.faults.served

    def clear(self) -> None:
        """Forget recorded messages, read receipts and served faults."""
        self._messages.clear()
        self._reads.clear()
        self.faults.forget_served()

    def subscribe(self) -> asyncio.Queue[AcceptedMessage]:
        """A queue that receives every message accepted from now on."""
        queue: asyncio.Queue[AcceptedMessage] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AcceptedMessage]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def wait_for_messages(self, count: int, timeout: float = 5.0) -> tuple[AcceptedMessage, ...]:
        """Wait until at least ``count`` messages were accepted (TimeoutError otherwise)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self._messages) >= count), timeout)
        return self.messages

    # -- faults and BSUID refusals (see faults.py, addressing.py) --------------------------
    def inject_faults(self, fault: Fault, count: int = 1) -> None:
        """Answer the next ``count`` sends with ``fault`` (queued after earlier faults)."""
        self.faults.inject(fault, count)

    def inject_timeout(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` sends for ``seconds`` without recording them."""
        self.faults.inject(Fault(status=504, code=2, timeout=seconds), count)

    def set_random_faults(
        self,
        probability: float,
        *,
        seed: int | None = None,
        kinds: Iterable[str] = tuple(RANDOM_FAULT_KINDS),
        timeout: float | None = None,
    ) -> None:
        """Fail each send with ``probability`` with a random kind from RANDOM_FAULT_KINDS.

        Seeded, so a reliability test sees the same fault sequence on every run. ``timeout``
        overrides how long the "timeout" kind holds a request.
        """
        self.faults.set_random(probability, seed=seed, kinds=kinds, timeout=timeout)

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

    # -- the Graph API endpoint ------------------------------------------------------------
    async def _handle_messages(self, request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not secrets.compare_digest(
            authorization[len("Bearer "):].encode(), self.access_token.encode()
        ):
            return meta_error(401, 190)
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return meta_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{request.match_info['phone_number_id']}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                error_type="GraphMethodException",
            )
        try:
            body = await request.json()
        except ValueError:
            return meta_error(400, 100, "(#100) Invalid JSON in request body")
        if not isinstance(body, dict):
            return meta_error(400, 100, "(#100) Request body must be a JSON object")
        if body.get("messaging_product") != "whatsapp":
            return meta_error(400, 100, "(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._mark_read(body)
        return await self._send(body)

    def _mark_read(self, body: Mapping[str, Any]) -> web.Response:
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            return meta_error(400, 100, "(#100) The parameter message_id is required.")
        indicator = body.get("typing_indicator")
        if indicator is not None and indicator != {"type": "text"}:
            return meta_error(400, 131009, details="typing_indicator.type must be 'text'")
        self._reads.append(ReadReceipt(message_id=message_id, typing=indicator is not None, received_at=time.time()))
        return web.json_response({"success": True})

    def _refusal(self, body: Mapping[str, Any], address: Address) -> web.Response | None:
        """Meta's answer to a send it refuses (type, fields, limits, BSUID); None to accept."""
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            return meta_error(400, 131008, details="Parameter 'type' is required")
        if kind not in _MESSAGE_TYPES:
            return meta_error(400, 100, f"(#100) Param type must be one of {sorted(_MESSAGE_TYPES)}")
        if kind not in body:
            return meta_error(400, 131008, details=f"Parameter '{kind}' is required for type '{kind}'")
        if body.get("recipient_type", "individual") != "individual":
            return meta_error(400, 100, "(#100) Param recipient_type must be 'individual'")
        if self.validate_limits:
            problems = outbound_problems({key: value for key, value in body.items() if key not in _ENVELOPE_KEYS})
            if problems:
                return meta_error(400, 131009, details="; ".join(problems))
        return self.bsuid_recipients.answer(address)

    async def _send(self, body: dict[str, Any]) -> web.Response:
        address = resolve_address(body)
        if isinstance(address, web.Response):
            return address
        refusal = self._refusal(body, address)
        if refusal is not None:
            return refusal
        fault = self.faults.take()
        if fault is not None:
            return await answer_fault(fault, self._stopping)
        wamid = "wamid.FAKE" + secrets.token_hex(16).upper()
        accepted = AcceptedMessage(
            to=address.to, recipient=address.recipient, message=body, wamid=wamid, received_at=time.time()
        )
        self._messages.append(accepted)
        for queue in self._subscribers:
            queue.put_nowait(accepted)
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(
            {"messaging_product": "whatsapp", "contacts": [address.contact()], "messages": [{"id": wamid}]}
        )
