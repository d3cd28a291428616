"""What a tapped reply id stands for: the state shared by the outbound and the inbound side.

Why a module of its own: a WhatsApp tap comes back with nothing but the ``id`` we sent, so
everything a tap needs later is stored when the message is rendered and read back when the tap
arrives. The renderer (connectors/whatsapp/render) writes through this module, the inbound side
(connectors/whatsapp/inbound.py) reads through it; neither imports the other.

Two kinds of state, both kept in the payload id map (connectors/whatsapp/payload_ids/: sealed
in Redis, per person, erased with the person, expiring 30 days after last use):

- **long payloads**: a Rasa payload longer than the id field (256 characters for a reply button,
  200 for a list row, limits.py) or one that looks like a token is sent as a ``~`` token; a
  payload repeated within one message gets ``<token>.2`` etc., because WhatsApp rejects
  duplicate ids (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages);
- **"more" pages**: a list has at most 10 rows, so a longer option list goes out as pages of 9
  rows and a "more" row. The renderer fits every text of every page (titles, descriptions,
  bodies, labels) when it renders the first page; the following pages are stored under one
  ``~more:`` token, and a tap on "more" turns the next of them into a list message here -
  assigning its ids and storing the pages after it - without the dialogue and without the
  renderer. So an id is remembered only when its page is sent, as before the split.

Stored pages (version 2): ``{"v": 2, "label": <list button>, "pages": [{"body": <text>,
"rows": [[title, description or null, payload], ...], "more": [title, description] or null},
...]}``.

Version 1, written before the pages were fitted in advance, is still read: a list sent before
a deploy must keep paging, and its token lives up to 30 days. It stored the options after the
page, unfitted: ``{"v": 1, "choices": [[title, payload], ...], "label": <list button>,
"language": <code>, "offset": <options before them>, "total": <options in all>}``. Fitting
them into pages is the renderer's job, and this module must not import the renderer, so the
caller hands in that layout (``legacy_layout``, a :data:`LegacyLayout`; the turn passes the
renderer's ``legacy_pages``). The pages it returns are sent like stored ones, the pages after
the first stored again as version 2.

Anything else under a ``~more:`` token (a malformed value, an unknown version, version 1
without a layout) is reported as :class:`CorruptPageStateError`; the inbound side then falls
back to the tap's title.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connectors.whatsapp.limits import ROW_ID_MAX, measure
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX, is_token, strip_disambiguator
from connectors.whatsapp.payload_ids.maps import PayloadIdMap

__all__ = [
    "PAGE_STATE_VERSION",
    "Row",
    "Page",
    "LegacyRest",
    "LegacyLayout",
    "ResolvedReply",
    "ReplyIdError",
    "UnknownReplyIdError",
    "CorruptPageStateError",
    "reply_ids",
    "list_message",
    "resolve_reply_id",
]

PAGE_STATE_VERSION = 2
_LEGACY_VERSION = 1


@dataclass(frozen=True)
class Row:
    """One list row, its texts already fitted: what the user sees and what a tap sends to Rasa."""

    title: str
    description: str | None
    payload: str


@dataclass(frozen=True)
class Page:
    """One page of a long list: its body, its rows and - unless it is the last - the "more" row."""

    body: str
    rows: tuple[Row, ...]
    more: tuple[str, str] | None = None  # (title, description) of the "more" row


@dataclass(frozen=True)
class LegacyRest:
    """A version 1 state: the options after a sent page, unfitted, as the renderer stored them.

    ``choices`` are (title, payload) pairs; ``offset`` options came before them, ``total`` in
    all; ``label`` is the (fitted) list button, ``language`` the language of the labels.
    """

    label: str
    language: str
    choices: tuple[tuple[str, str], ...]
    offset: int
    total: int


#: Fits a version 1 rest into pages (the next one first), as the renderer pages a long list.
LegacyLayout = Callable[[LegacyRest], Sequence[Page]]


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
    """The stored pages are not what :func:`list_message` stores (an old version, a bug, a foreign writer)."""


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


async def list_message(page: Page, following: Sequence[Page], *, label: str, id_map: PayloadIdMap) -> dict[str, Any]:
    """``page`` as a list message; ``following`` pages are stored behind its "more" row.

    ``label`` is the list button and section title. The texts of ``page`` must already fit
    their limits (the renderer fits them); ids are assigned here.
    """
    ids = await reply_ids([row.payload for row in page.rows], ROW_ID_MAX, id_map)
    rows: list[dict[str, Any]] = []
    for row, row_id in zip(page.rows, ids):
        item = {"id": row_id, "title": row.title}
        if row.description is not None:
            item["description"] = row.description
        rows.append(item)
    if following:
        if page.more is None:
            raise CorruptPageStateError("a page with following pages has no 'more' row")
        title, description = page.more
        rows.append({"id": await _store(following, label, id_map), "title": title, "description": description})
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": page.body},
            "action": {"button": label, "sections": [{"title": label, "rows": rows}]},
        },
    }


async def resolve_reply_id(
    reply_id: str, id_map: PayloadIdMap, *, legacy_layout: LegacyLayout | None = None
) -> ResolvedReply:
    """Turn the id of a tapped reply button or list row into what it stands for.

    A literal id is the Rasa payload itself. A ``~`` token is looked up in ``id_map``; a
    ``~more:`` token yields the next page of a long option list, ready to send; a version 1
    state is laid out into pages by ``legacy_layout`` (see the module docstring).
    Raises UnknownReplyIdError when a token is unknown or expired (the caller can fall back to
    the tap's title) and CorruptPageStateError when stored pages are unusable.
    """
    if not is_token(reply_id):
        return ResolvedReply(kind="payload", payload=reply_id)
    token = strip_disambiguator(reply_id)
    value = await id_map.resolve(token)
    if value is None:
        raise UnknownReplyIdError(token)
    if not token.startswith(MORE_TOKEN_PREFIX):
        return ResolvedReply(kind="payload", payload=value)
    label, pages = _load(value, token, legacy_layout)
    page = await list_message(pages[0], pages[1:], label=label, id_map=id_map)
    return ResolvedReply(kind="more_page", page=(page,))


async def _store(pages: Sequence[Page], label: str, id_map: PayloadIdMap) -> str:
    state = {
        "v": PAGE_STATE_VERSION,
        "label": label,
        "pages": [
            {
                "body": page.body,
                "rows": [[row.title, row.description, row.payload] for row in page.rows],
                "more": list(page.more) if page.more else None,
            }
            for page in pages
        ],
    }
    return await id_map.remember(json.dumps(state, ensure_ascii=False, sort_keys=True), prefix=MORE_TOKEN_PREFIX)


def _load(value: str, token: str, legacy_layout: LegacyLayout | None) -> tuple[str, list[Page]]:
    """(label, pages) stored under ``token``; a version 1 state is laid out by ``legacy_layout``."""
    try:
        state = json.loads(value)
        legacy = state["v"] == _LEGACY_VERSION and not isinstance(state["v"], bool)
        stored = _legacy_rest(state, token) if legacy else _stored_pages(state)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise CorruptPageStateError(f"paging state under {token} is unusable") from error
    if isinstance(stored, LegacyRest):
        if legacy_layout is None:
            raise CorruptPageStateError(f"paging state under {token} is version 1 and no layout for it was given")
        # Laid out outside the try above: a bug of the layout is not taken for bad state.
        label, pages = stored.label, list(legacy_layout(stored))
    else:
        label, pages = stored
    if not pages or not all(page.rows for page in pages):
        raise CorruptPageStateError(f"paging state under {token} has no options")
    return label, pages


def _stored_pages(state: Any) -> tuple[str, list[Page]]:
    """(label, pages) of a version 2 state (raises what _load catches)."""
    if state["v"] != PAGE_STATE_VERSION:
        raise CorruptPageStateError(f"unsupported page state version {state['v']!r}")
    pages = [
        Page(
            body=_text(raw["body"]),
            rows=tuple(Row(_text(title), _optional_text(description), _text(payload)) for title, description, payload in raw["rows"]),
            more=(_text(raw["more"][0]), _text(raw["more"][1])) if raw["more"] is not None else None,
        )
        for raw in state["pages"]
    ]
    return _text(state["label"]), pages


def _legacy_rest(state: Any, token: str) -> LegacyRest:
    """A version 1 state as the renderer wrote it, checked (raises what _load catches)."""
    choices = tuple((_text(title), _text(payload)) for title, payload in state["choices"])
    offset, total = _count(state["offset"]), _count(state["total"])
    if not choices or offset + len(choices) > total:
        raise CorruptPageStateError(f"paging state under {token} has no options or wrong counts")
    return LegacyRest(_text(state["label"]), _text(state["language"]), choices, offset, total)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a count, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a text, got {type(value).__name__}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)
