"""What a tapped reply id stands for: the state shared by the outbound and the inbound side.

Why a module of its own: a WhatsApp tap comes back with nothing but the ``id`` we sent, so
everything a tap needs later must be stored when the message is rendered, and read back when
the tap arrives. The renderer (connectors/whatsapp/render) writes through this module, the
inbound side (connectors/whatsapp/inbound.py) reads through it; neither imports the other.

Two kinds of state, both kept in the payload id map (connectors/whatsapp/payload_ids.py:
sealed in Redis, per person, erased with the person, expiring after 30 days):

- **long payloads**: a Rasa payload longer than the id field (256 characters for a reply
  button, 200 for a list row, see limits.py) or one that looks like a token is sent as a
  ``~`` token; a payload repeated within one message gets ``<token>.2`` etc., because
  WhatsApp rejects duplicate ids
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages);
- **"more" pages**: a list has at most 10 rows, so a longer option list is sent as pages of 9
  rows and a "more" row. The renderer renders every page when it renders the first one and
  stores each following page, ready to send, under a ``~more:`` token; tapping "more" sends
  the stored page without running the dialogue.

Stored page format (version 2): ``{"v": 2, "page": <Graph API list message>}``. Anything else
under a ``~more:`` token (e.g. version 1, which stored the remaining options) is reported as
:class:`CorruptPageStateError`, and the inbound side falls back to the tap's title.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connectors.whatsapp.limits import measure
from connectors.whatsapp.payload_ids import MORE_TOKEN_PREFIX, PayloadIdMap, is_token, strip_disambiguator

__all__ = [
    "PAGE_STATE_VERSION",
    "ResolvedReply",
    "ReplyIdError",
    "UnknownReplyIdError",
    "CorruptPageStateError",
    "reply_ids",
    "store_page",
    "resolve_reply_id",
]

PAGE_STATE_VERSION = 2


@dataclass(frozen=True)
class ResolvedReply:
    """What a tapped reply id stands for.

    ``kind == "payload"``: hand ``payload`` to Rasa as the user's message.
    ``kind == "more_page"``: the user asked for more options; send ``page`` directly, Rasa is not
    involved.
    """

    kind: Literal["payload", "more_page"]
    payload: str | None = None
    page: tuple[dict[str, Any], ...] = ()


class ReplyIdError(Exception):
    """Base class: a tapped reply id cannot be turned into a payload or a page."""


class UnknownReplyIdError(ReplyIdError):
    """The token is not (or no longer) in the id map, e.g. expired; fall back to the tap's title."""

    def __init__(self, token: str) -> None:
        super().__init__(f"reply id {token} is unknown or expired")
        self.token = token


class CorruptPageStateError(ReplyIdError):
    """The stored page is not what :func:`store_page` stores (an old version, a bug, a foreign writer)."""


async def reply_ids(payloads: Sequence[str], limit: int, id_map: PayloadIdMap) -> list[str]:
    """The ids for the options of one message: payloads as ids when they fit, else tokens.

    A repeated payload gets ``<token>.2`` etc. Literal ids never start with "~" (that marks a
    token) and never carry outer whitespace, so :func:`resolve_reply_id` can tell them apart.
    """
    used: set[str] = set()
    ids = []
    for payload in payloads:
        literal_ok = measure(payload) <= limit and not is_token(payload) and payload == payload.strip()
        candidate = payload if literal_ok and payload not in used else None
        if candidate is None:
            token = await id_map.remember(payload)
            candidate, number = token, 1
            while candidate in used:
                number += 1
                candidate = f"{token}.{number}"
        used.add(candidate)
        ids.append(candidate)
    return ids


async def store_page(page: Mapping[str, Any], id_map: PayloadIdMap) -> str:
    """Store a rendered list message as the target of a "more" row; returns its ``~more:`` token."""
    state = {"v": PAGE_STATE_VERSION, "page": page}
    return await id_map.remember(json.dumps(state, ensure_ascii=False, sort_keys=True), prefix=MORE_TOKEN_PREFIX)


async def resolve_reply_id(reply_id: str, id_map: PayloadIdMap) -> ResolvedReply:
    """Turn the id of a tapped reply button or list row into what it stands for.

    A literal id is the Rasa payload itself. A ``~`` token is looked up in ``id_map``; a
    ``~more:`` token yields the stored next page of a long option list, ready to send.
    Raises UnknownReplyIdError when a token is unknown or expired (the caller can fall back to
    the tap's title) and CorruptPageStateError when a stored page is unusable.
    """
    if not is_token(reply_id):
        return ResolvedReply(kind="payload", payload=reply_id)
    token = strip_disambiguator(reply_id)
    value = await id_map.resolve(token)
    if value is None:
        raise UnknownReplyIdError(token)
    if not token.startswith(MORE_TOKEN_PREFIX):
        return ResolvedReply(kind="payload", payload=value)
    return ResolvedReply(kind="more_page", page=(_stored_page(value, token),))


def _stored_page(value: str, token: str) -> dict[str, Any]:
    try:
        state = json.loads(value)
        version = state["v"]
        if version != PAGE_STATE_VERSION:
            raise CorruptPageStateError(f"unsupported page state version {version!r}")
        page = state["page"]
        inner = page["interactive"]
        rows = [row for section in inner["action"]["sections"] for row in section["rows"]]
        usable = page["type"] == "interactive" and inner["type"] == "list" and bool(rows)
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptPageStateError(f"paging state under {token} is unusable") from error
    if not usable:
        raise CorruptPageStateError(f"paging state under {token} is not a list with options")
    return page
