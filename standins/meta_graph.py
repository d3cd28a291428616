"""A loopback stand-in for the WhatsApp Cloud API ``messages`` endpoint of Meta's Graph API.

Why: the channel's outbound path (rendering, limits, retries, typing indicators) must be testable
without Meta, without network and without a real phone number, and failures that are rare in
production (throttling, pair rate limits, 5xx, hangs) must be producible on demand. This server
answers like Meta does (same success and error shapes, same error codes) and records what it
accepted, so tests and the terminal chat (standins/chat.py) can read the bot's replies.

Endpoints (Meta's, as documented at
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages and
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read):

- ``POST /{version}/{phone_number_id}/messages``: a message send or a mark-as-read
  (``{"status": "read", "message_id": ..., "typing_indicator"?: {"type": "text"}}``).
  A send is addressed ``to`` a phone number or to a ``recipient`` (a business-scoped user id or
  parent BSUID, https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids);
  if both are present ``to`` wins, like at Meta. A BSUID in ``to`` is rejected (400, code 100),
  and the stand-in can be told to answer 131062 ("BSUID recipients not supported for this
  message") for all or some ``recipient`` sends (:meth:`MetaGraphStandIn.reject_bsuid_recipients`).
  Sends are answered with Meta's ``contacts`` shape: ``{"input", "wa_id"}`` for a phone number,
  ``{"input", "user_id"}`` for a BSUID.
  Checks the bearer token (401, code 190), the phone number id (400, code 100 subcode 33),
  required fields (400, code 100 / 131008) and every outbound limit via
  ``connectors.whatsapp.limits.validate_outbound`` (400, code 131009), with Meta's error shape
  (https://developers.facebook.com/docs/graph-api/guides/error-handling).

Control endpoints (not Meta's; loopback tooling only):

- ``GET /_standin/messages`` -> ``{"messages": [...], "reads": [...]}``; ``DELETE`` clears both.
  Each message shows ``to`` and ``recipient`` as sent (one is null) and ``address_field``.
- ``POST /_standin/bsuid-unsupported`` ``{"recipients"?: [BSUID, ...]}`` answers 131062 to
  ``recipient`` sends (to all when ``recipients`` is missing or null); ``DELETE`` turns it off.
- ``GET /_standin/faults`` -> ``{"queued": N, "random_probability": p, "served": [fault, ...]}``:
  the faults answered so far (status, code, subcode, message, timeout), for a test's report.
- ``POST /_standin/faults`` ``{"count": N, "status": 429, "code": 130429, "subcode"?, "message"?,
  "timeout"?: seconds}`` queues N faults for the next sends; ``DELETE`` clears faults.
- ``POST /_standin/faults/random`` ``{"probability": 0.2, "seed": 7, "kinds"?: [...],
  "timeout"?: seconds}`` turns on seeded random faults; ``DELETE`` turns them off.

Run: ``python -m standins.meta_graph --port 8765`` (binds 127.0.0.1 by default). Faults apply to
message sends only, not to mark-as-read calls. A "timeout" fault holds the request for
``timeout`` seconds without recording the message, then answers 504 (the client normally gave
up before).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import random
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_PHONE_NUMBER_ID",
    "RANDOM_FAULT_KINDS",
    "AcceptedMessage",
    "ReadReceipt",
    "looks_like_bsuid",
    "Fault",
    "MetaGraphStandIn",
    "meta_error",
    "main",
]

logger = logging.getLogger(__name__)

DEFAULT_ACCESS_TOKEN = "standin-access-token"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"

# Meta's messages for the codes the stand-in produces (error-codes reference page).
_ERROR_TEXT: Mapping[int, str] = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "(#4) Application request limit reached",
    100: "Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    80007: "(#80007) There have been too many messages sent from this WhatsApp Business Account",
    130429: "(#130429) Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131030: "Recipient phone number not in allowed list",
    131047: "Re-engagement message",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    131062: "(#131062) Business-scoped User ID (BSUID) recipients are not supported for this message",
}

_MESSAGE_TYPES = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "template", "reaction"}
)


@dataclasses.dataclass(frozen=True)
class Fault:
    """One injected failure: an error answer, or a hang of ``timeout`` seconds when set."""

    status: int = 500
    code: int | None = 131000
    subcode: int | None = None
    message: str | None = None
    timeout: float | None = None


#: Faults of the random mode, by name (the brief's 429 / 130429 / 131056 / 500 / timeout).
RANDOM_FAULT_KINDS: Mapping[str, Fault] = {
    "429": Fault(status=429, code=4),
    "130429": Fault(status=400, code=130429),
    "131056": Fault(status=400, code=131056),
    "500": Fault(status=500, code=131000),
    "timeout": Fault(status=504, code=2, timeout=5.0),
}


def looks_like_bsuid(identifier: str) -> bool:
    """True for a business-scoped user id (``DE.1000…``, ``DE.ENT.2000…``): a phone number
    never contains a letter. The same rule as ``connectors.whatsapp.recipient``, repeated so the
    stand-in, which plays Meta, does not import the channel it tests."""
    return any(ch.isalpha() for ch in identifier)


@dataclasses.dataclass(frozen=True)
class AcceptedMessage:
    """A message the stand-in accepted: its address, the request body as sent, the assigned id.

    ``to`` is the phone number when the send used ``to``; ``recipient`` the BSUID when it used
    ``recipient`` (the other one is None), so tests can assert which field addressed a reply.
    """

    to: str | None
    message: Mapping[str, Any]
    wamid: str
    received_at: float
    recipient: str | None = None

    @property
    def address_field(self) -> str:
        """``"to"`` or ``"recipient"``: the field Meta used to address this message."""
        return "to" if self.to is not None else "recipient"

    @property
    def address(self) -> str:
        """The phone number or BSUID this message went to, whichever field carried it."""
        return self.to if self.to is not None else str(self.recipient)

    def as_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "recipient": self.recipient,
            "address_field": self.address_field,
            "wamid": self.wamid,
            "message": dict(self.message),
            "received_at": self.received_at,
        }


@dataclasses.dataclass(frozen=True)
class ReadReceipt:
    """A mark-as-read call; ``typing`` is True when it also asked for the typing indicator."""

    message_id: str
    typing: bool
    received_at: float

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "typing": self.typing, "received_at": self.received_at}


def _fbtrace_id() -> str:
    return "A" + secrets.token_urlsafe(16)


def meta_error(
    status: int,
    code: int,
    message: str | None = None,
    *,
    subcode: int | None = None,
    details: str | None = None,
    error_type: str = "OAuthException",
) -> web.Response:
    """An error answer in Meta's shape: ``{"error": {"message", "type", "code", ...}}``."""
    error: dict[str, Any] = {
        "message": message or _ERROR_TEXT.get(code, "An unknown error occurred"),
        "type": error_type,
        "code": code,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = _fbtrace_id()
    return web.json_response({"error": error}, status=status)


def _load_validator() -> Callable[[Any], list[str]]:
    # Imported lazily so the stand-in module loads without the channel package; the limits
    # themselves live only in connectors/whatsapp/limits.py.
    from connectors.whatsapp.limits import validate_outbound

    return validate_outbound


class MetaGraphStandIn:
    """The stand-in server: build it, ``await start()`` (port 0 picks a free port), read
    ``base_url``, and ``await stop()``; or use it as an async context manager.

    Args:
        access_token: the only bearer token accepted.
        phone_number_id: the only business phone number id accepted.
        validate_limits: reject messages that break a limit (via limits.validate_outbound).
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
        self._validate: Callable[[Any], list[str]] | None = _load_validator() if validate_limits else None
        self._messages: list[AcceptedMessage] = []
        self._reads: list[ReadReceipt] = []
        self._faults: deque[Fault] = deque()
        self._served_faults: list[Fault] = []
        self._random_probability = 0.0
        self._random_kinds: tuple[Fault, ...] = ()
        self._random = random.Random()
        self._bsuid_unsupported: frozenset[str] | None = frozenset()
        self._subscribers: list[asyncio.Queue[AcceptedMessage]] = []
        self._stopping = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = self._build_app()

    # -- lifecycle -------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/{version}/{phone_number_id}/messages", self._handle_messages)
        app.router.add_get("/_standin/messages", self._handle_list)
        app.router.add_delete("/_standin/messages", self._handle_clear)
        app.router.add_get("/_standin/faults", self._handle_list_faults)
        app.router.add_post("/_standin/faults", self._handle_add_faults)
        app.router.add_delete("/_standin/faults", self._handle_clear_faults)
        app.router.add_post("/_standin/faults/random", self._handle_random_faults)
        app.router.add_delete("/_standin/faults/random", self._handle_random_off)
        app.router.add_post("/_standin/bsuid-unsupported", self._handle_bsuid_unsupported)
        app.router.add_delete("/_standin/bsuid-unsupported", self._handle_bsuid_supported)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` and return the base URL (``http://127.0.0.1:<port>``)."""
        if self._runner is not None:
            raise RuntimeError("stand-in already started")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        sockets = runner.addresses
        bound_host, bound_port = sockets[0][0], sockets[0][1]
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
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
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
        return tuple(self._served_faults)

    def clear(self) -> None:
        """Forget recorded messages, read receipts and served faults."""
        self._messages.clear()
        self._reads.clear()
        self._served_faults.clear()

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

    # -- faults ----------------------------------------------------------------------------
    def inject_faults(self, fault: Fault, count: int = 1) -> None:
        """Answer the next ``count`` sends with ``fault`` (queued after earlier faults)."""
        if count < 0:
            raise ValueError("count must not be negative")
        self._faults.extend([fault] * count)

    def inject_timeout(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` sends for ``seconds`` without recording them."""
        self.inject_faults(Fault(status=504, code=2, timeout=seconds), count)

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
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        chosen = []
        for name in kinds:
            if name not in RANDOM_FAULT_KINDS:
                raise ValueError(f"unknown fault kind {name!r}; known: {sorted(RANDOM_FAULT_KINDS)}")
            fault = RANDOM_FAULT_KINDS[name]
            if fault.timeout is not None and timeout is not None:
                fault = dataclasses.replace(fault, timeout=timeout)
            chosen.append(fault)
        if probability > 0 and not chosen:
            raise ValueError("kinds must not be empty")
        self._random_probability = probability
        self._random_kinds = tuple(chosen)
        self._random = random.Random(seed)

    def clear_faults(self) -> None:
        """Drop queued faults and turn random faults off."""
        self._faults.clear()
        self._random_probability = 0.0
        self._random_kinds = ()

    def reject_bsuid_recipients(self, recipients: Iterable[str] | None = None) -> None:
        """Answer 131062 ("BSUID recipients are not supported for this message") to sends
        addressed by ``recipient``: to every such send when ``recipients`` is None, else only to
        those BSUIDs. Meta answers so for messages that still need a phone number (one-tap,
        zero-tap and copy-code authentication templates). Sends ``to`` a number are unaffected.
        """
        self._bsuid_unsupported = None if recipients is None else frozenset(recipients)

    def accept_bsuid_recipients(self) -> None:
        """Undo :meth:`reject_bsuid_recipients`: ``recipient`` sends are accepted again."""
        self._bsuid_unsupported = frozenset()

    def _bsuid_refused(self, recipient: str) -> bool:
        return self._bsuid_unsupported is None or recipient in self._bsuid_unsupported

    def _next_fault(self) -> Fault | None:
        if self._faults:
            return self._faults.popleft()
        if self._random_probability > 0 and self._random.random() < self._random_probability:
            return self._random.choice(self._random_kinds)
        return None

    async def _apply_fault(self, fault: Fault) -> web.Response:
        if fault.timeout is not None:
            try:
                await asyncio.wait_for(self._stopping.wait(), fault.timeout)
            except asyncio.TimeoutError:
                pass
        if fault.code is None:
            return web.json_response({"error": {"message": fault.message or "Injected fault"}}, status=fault.status)
        return meta_error(fault.status, fault.code, fault.message, subcode=fault.subcode)

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
            return await self._mark_read(body)
        return await self._send(body)

    async def _mark_read(self, body: Mapping[str, Any]) -> web.Response:
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            return meta_error(400, 100, "(#100) The parameter message_id is required.")
        indicator = body.get("typing_indicator")
        if indicator is not None and indicator != {"type": "text"}:
            return meta_error(400, 131009, details="typing_indicator.type must be 'text'")
        self._reads.append(ReadReceipt(message_id=message_id, typing=indicator is not None, received_at=time.time()))
        return web.json_response({"success": True})

    async def _send(self, body: dict[str, Any]) -> web.Response:
        to, recipient = body.get("to"), body.get("recipient")
        if to is not None:
            # Meta: "If both are present, to wins"; the recipient is then ignored.
            recipient = None
            if not isinstance(to, str) or not to.strip():
                return meta_error(400, 100, "(#100) The parameter to is required.")
            if looks_like_bsuid(to):
                return meta_error(
                    400,
                    100,
                    "(#100) Invalid parameter",
                    details="The parameter to must be a phone number. "
                    "Send to a business-scoped user ID with the parameter recipient.",
                )
        elif recipient is not None:
            if not isinstance(recipient, str) or not recipient.strip():
                return meta_error(400, 100, "(#100) The parameter recipient must be a non-empty string.")
            if not looks_like_bsuid(recipient):
                return meta_error(
                    400,
                    100,
                    "(#100) Invalid parameter",
                    details="The parameter recipient must be a business-scoped user ID. "
                    "Send to a phone number with the parameter to.",
                )
        else:
            return meta_error(400, 100, "(#100) The parameter to is required.")
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            return meta_error(400, 131008, details="Parameter 'type' is required")
        if kind not in _MESSAGE_TYPES:
            return meta_error(400, 100, f"(#100) Param type must be one of {sorted(_MESSAGE_TYPES)}")
        if kind not in body:
            return meta_error(400, 131008, details=f"Parameter '{kind}' is required for type '{kind}'")
        if body.get("recipient_type", "individual") != "individual":
            return meta_error(400, 100, "(#100) Param recipient_type must be 'individual'")
        if self._validate is not None:
            message = {
                key: value
                for key, value in body.items()
                if key not in ("messaging_product", "recipient_type", "to", "recipient")
            }
            problems = self._validate(message)
            if problems:
                return meta_error(400, 131009, details="; ".join(problems))
        if recipient is not None and self._bsuid_refused(recipient):
            return meta_error(
                400,
                131062,
                details="This message cannot be sent to a business-scoped user ID. Send it to the user's phone number.",
            )
        fault = self._next_fault()
        if fault is not None:
            self._served_faults.append(fault)
            return await self._apply_fault(fault)
        wamid = "wamid.FAKE" + secrets.token_hex(16).upper()
        accepted = AcceptedMessage(to=to, recipient=recipient, message=body, wamid=wamid, received_at=time.time())
        self._messages.append(accepted)
        for queue in self._subscribers:
            queue.put_nowait(accepted)
        async with self._changed:
            self._changed.notify_all()
        if to is not None:
            contact = {"input": to, "wa_id": "".join(ch for ch in to if ch.isdigit())}
        else:
            contact = {"input": recipient, "user_id": recipient}
        return web.json_response({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]})

    # -- control endpoints -----------------------------------------------------------------
    async def _handle_list(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"messages": [m.as_json() for m in self._messages], "reads": [r.as_json() for r in self._reads]}
        )

    async def _handle_clear(self, request: web.Request) -> web.Response:
        self.clear()
        return web.json_response({"ok": True})

    async def _handle_list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({
            "queued": len(self._faults),
            "random_probability": self._random_probability,
            "served": [dataclasses.asdict(fault) for fault in self._served_faults],
        })

    async def _handle_add_faults(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            timeout = spec.get("timeout")
            fault = Fault(
                status=int(spec.get("status", 504 if timeout is not None else 500)),
                code=int(spec["code"]) if spec.get("code") is not None else (2 if timeout is not None else None),
                subcode=int(spec["subcode"]) if spec.get("subcode") is not None else None,
                message=spec.get("message"),
                timeout=float(timeout) if timeout is not None else None,
            )
            self.inject_faults(fault, int(spec.get("count", 1)))
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"queued": len(self._faults)})

    async def _handle_clear_faults(self, request: web.Request) -> web.Response:
        self._faults.clear()
        return web.json_response({"queued": 0})

    async def _handle_random_faults(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            self.set_random_faults(
                float(spec["probability"]),
                seed=spec.get("seed"),
                kinds=spec.get("kinds") or tuple(RANDOM_FAULT_KINDS),
                timeout=float(spec["timeout"]) if spec.get("timeout") is not None else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"probability": self._random_probability})

    async def _handle_random_off(self, request: web.Request) -> web.Response:
        self._random_probability = 0.0
        self._random_kinds = ()
        return web.json_response({"probability": 0.0})


    async def _handle_bsuid_unsupported(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json() if request.can_read_body else {}
            recipients = spec.get("recipients") if isinstance(spec, Mapping) else None
            if recipients is not None and (
                not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients)
            ):
                raise ValueError("recipients must be a list of strings or null")
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.reject_bsuid_recipients(recipients)
        return web.json_response({"bsuid_unsupported": "all" if recipients is None else sorted(recipients)})

    async def _handle_bsuid_supported(self, request: web.Request) -> web.Response:
        self.accept_bsuid_recipients()
        return web.json_response({"bsuid_unsupported": []})


async def _serve(args: argparse.Namespace) -> None:
    standin = MetaGraphStandIn(args.token, args.phone_number_id)
    if args.fault_probability:
        standin.set_random_faults(args.fault_probability, seed=args.seed)
    if args.bsuid_unsupported:
        standin.reject_bsuid_recipients()
    base_url = await standin.start(args.host, args.port)
    print(f"Meta Graph stand-in on {base_url} (phone number id {standin.phone_number_id})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await standin.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m standins.meta_graph [--host 127.0.0.1] [--port 8765] ...``"""
    parser = argparse.ArgumentParser(prog="python -m standins.meta_graph", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=os.environ.get("WHATSAPP_ACCESS_TOKEN") or DEFAULT_ACCESS_TOKEN)
    parser.add_argument(
        "--phone-number-id", default=os.environ.get("WHATSAPP_PHONE_NUMBER_ID") or DEFAULT_PHONE_NUMBER_ID
    )
    parser.add_argument("--fault-probability", type=float, default=0.0, help="random fault rate for sends (0..1)")
    parser.add_argument("--seed", type=int, default=None, help="seed for random faults")
    parser.add_argument(
        "--bsuid-unsupported", action="store_true", help="answer 131062 to every send addressed by 'recipient' (a BSUID)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
