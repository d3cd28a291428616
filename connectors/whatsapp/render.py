"""Render one Rasa bot message as native WhatsApp Cloud API messages (outbound).

Why: the generic connectors people use send Rasa buttons as plain text with the payload visible
(rasa #6773), show nothing for more than 3 buttons (heyoo #17), let over-long titles make messages
undeliverable (heyoo #18) and drop custom JSON. Here every Rasa response kind becomes the native
WhatsApp message that fits it, always inside the limits in limits.py:

- text -> text messages of at most 4,096 characters, split on paragraph, line, sentence, then word
  boundaries (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages);
- 1-3 buttons -> reply buttons
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages);
- 4-10 buttons, or 1-3 whose titles would be cut -> a list message; more than 10 -> a list of 9 plus
  a "more" row that pages through the rest
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages);
- buttons with a ``url`` -> CTA URL buttons
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages);
- image -> image message (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/image-messages);
- attachment URL -> document message; custom ``{"whatsapp": {...}}`` -> passed through natively
  (CTA URL, location request
  https://developers.facebook.com/docs/whatsapp/cloud-api/messages/location-request-messages,
  templates, anything with a ``type``).

Output objects omit ``messaging_product``, ``to`` and ``recipient``: the Graph client adds them. Rendering is pure
apart from the payload id map, which turns payloads too long for an id into tokens; odd input is
skipped with a warning, never raised. Message texts are only ever logged at DEBUG.
"""
from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from connectors.whatsapp.limits import (
    CTA_DISPLAY_TEXT_MAX,
    INTERACTIVE_BODY_MAX,
    LIST_BUTTON_TEXT_MAX,
    LIST_ROWS_MAX,
    MEDIA_CAPTION_MAX,
    REPLY_BUTTON_ID_MAX,
    REPLY_BUTTON_TITLE_MAX,
    REPLY_BUTTONS_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_ID_MAX,
    ROW_TITLE_MAX,
    TEXT_BODY_MAX,
    measure,
    validate_outbound,
)
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX, is_token, strip_disambiguator

__all__ = [
    "Language",
    "Choice",
    "ResolvedReply",
    "ReplyIdError",
    "UnknownReplyIdError",
    "CorruptPageStateError",
    "render_response",
    "resolve_reply_id",
    "split_text",
    "shorten",
]

logger = logging.getLogger(__name__)

Language = Literal["de", "en"]

ELLIPSIS = "…"
_NEUTRAL_BODY = {"de": "Bitte wählen:", "en": "Please choose:"}
_LIST_LABEL = {"de": "Optionen", "en": "Options"}
_MORE_TITLE = {"de": "Weitere …", "en": "More …"}
_MORE_DESCRIPTION = {"de": "Noch {count} weitere Optionen", "en": "{count} more options"}
_PAGE_BODY = {
    "de": "Weitere Optionen ({first}–{last} von {total}):",
    "en": "More options ({first}–{last} of {total}):",
}
_OPEN_LINK = {"de": "Öffnen", "en": "Open"}

_PARAGRAPH = r"\n[ \t]*\n\s*"
_LINE = r"\n\s*"
_SENTENCE = r"(?<=[.!?…])\s+"
_WORD = r"\s+"
_SPLIT_LEVELS = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)
_URL_IN_TEXT = re.compile(r"https?://\S", re.IGNORECASE)
_HTTP_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_PAGE_STATE_VERSION = 1
_ROWS_BEFORE_MORE = LIST_ROWS_MAX - 1


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class Choice:
    """One Rasa button or quick reply: what the user sees and what a tap sends to Rasa."""

    title: str
    payload: str


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
    """The stored paging state is not what render_response stores (a bug or a foreign writer)."""


# --------------------------------------------------------------------------- text helpers


def _normalise_language(language: str) -> Language:
    return "en" if isinstance(language, str) and language.lower().startswith("en") else "de"


def _pieces(text: str, pattern: str) -> list[str]:
    """Split ``text`` after each separator match, keeping separators: ''.join(result) == text."""
    parts = re.split(f"({pattern})", text)
    pieces = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    return [piece for piece in pieces if piece]


def _prefix_within(text: str, budget: int) -> str:
    """Longest prefix of ``text`` whose measure is at most ``budget`` (never splits a code point)."""
    used = 0
    for index, char in enumerate(text):
        used += measure(char)
        if used > budget:
            return text[:index]
    return text


def _hard_cut(text: str, limit: int) -> list[str]:
    chunks = []
    rest = text.strip()
    while rest:
        chunk = _prefix_within(rest, limit)
        chunks.append(chunk)
        rest = rest[len(chunk) :].strip()
    return chunks


def _pack(text: str, limit: int, levels: Sequence[str]) -> list[str]:
    """Greedily pack the pieces of the first level into chunks; split oversized pieces deeper."""
    if measure(text.strip()) <= limit:
        return [text]
    if not levels:
        return _hard_cut(text, limit)
    chunks: list[str] = []
    current = ""
    current_len = 0
    for piece in _pieces(text, levels[0]):
        piece_len = measure(piece)
        if current_len + piece_len <= limit or measure((current + piece).strip()) <= limit:
            current += piece
            current_len += piece_len
            continue
        if current.strip():
            chunks.append(current)
        if measure(piece.strip()) <= limit:
            current, current_len = piece, piece_len
        else:
            deeper = _pack(piece, limit, levels[1:])
            chunks.extend(deeper[:-1])
            current, current_len = deeper[-1], measure(deeper[-1])
    if current.strip():
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int = TEXT_BODY_MAX) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` (see limits.measure), in order.

    Boundaries are tried from coarse to fine: blank lines (paragraphs), line breaks, sentence ends,
    whitespace; a single word longer than ``limit`` is cut. Chunks are stripped; whitespace at the
    cut is the only thing lost.
    """
    text = text.strip()
    if not text:
        return []
    return [chunk.strip() for chunk in _pack(text, limit, _SPLIT_LEVELS) if chunk.strip()]


def shorten(text: str, limit: int) -> str:
    """Fit ``text`` (whitespace collapsed) into ``limit``, ending in "…" on a word boundary if one
    lies in the second half of the allowed length, else mid-word."""
    text = " ".join(text.split())
    if measure(text) <= limit:
        return text
    budget = limit - measure(ELLIPSIS)
    cut = _prefix_within(text, budget)
    if not text[len(cut)].isspace():
        space = cut.rfind(" ")
        if space >= max(1, budget // 2):
            cut = cut[:space]
    cut = cut.rstrip(" ,;:-–—")
    return (cut or _prefix_within(text, budget)) + ELLIPSIS


def _text_message(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": bool(_URL_IN_TEXT.search(body))}}


def _text_messages(text: str) -> list[dict[str, Any]]:
    return [_text_message(chunk) for chunk in split_text(text)]


def _last_piece(text: str, pattern: str) -> tuple[str, str]:
    """(everything before the last non-empty piece, that piece stripped)."""
    pieces = _pieces(text.strip(), pattern)
    if len(pieces) < 2:
        return "", text.strip()
    return "".join(pieces[:-1]), pieces[-1].strip()


def _split_for_interactive(text: str, language: Language) -> tuple[list[str], str]:
    """(leading text chunks, interactive body) for a body that may exceed 1,024 characters.

    The body keeps the last paragraph (or line, or sentence) that fits - usually the question the
    buttons answer; everything before it goes out first as text messages.
    """
    text = text.strip()
    if measure(text) <= INTERACTIVE_BODY_MAX:
        return [], text
    remainder = text
    lead_parts: list[str] = []
    for pattern in (_PARAGRAPH, _LINE, _SENTENCE):
        before, last = _last_piece(remainder, pattern)
        if not before.strip():
            continue
        if measure(last) <= INTERACTIVE_BODY_MAX:
            return split_text("".join([*lead_parts, before])), last
        lead_parts.append(before)
        remainder = last
    return split_text(text), _NEUTRAL_BODY[language]


# --------------------------------------------------------------------------- input parsing


def _title_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    title = " ".join(str(value).split())
    return title or None


def _choices(raw: Any) -> tuple[list[Choice], list[Choice]]:
    """(payload choices, link choices) from Rasa buttons / quick replies; junk is skipped."""
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        if raw:
            logger.warning("ignoring buttons that are not a list (%s)", type(raw).__name__)
        return [], []
    choices: list[Choice] = []
    links: list[Choice] = []
    skipped = 0
    for item in raw:
        title = _title_text(item.get("title")) if isinstance(item, Mapping) else None
        if title is None:
            skipped += 1
            continue
        payload = item.get("payload")
        if isinstance(payload, (int, float)) and not isinstance(payload, bool):
            payload = str(payload)  # YAML turns `payload: 1` into a number
        url = item.get("url")
        if isinstance(payload, str) and payload.strip():
            choices.append(Choice(title, payload))
        elif isinstance(url, str) and _HTTP_URL.match(url.strip()):
            links.append(Choice(title, url.strip()))
        elif url is None and (payload is None or isinstance(payload, str)):
            choices.append(Choice(title, title))  # no payload: the tap sends the title, as in Rasa
        else:
            skipped += 1
    if skipped:
        logger.warning("ignoring %d button(s) without a usable title, payload or url", skipped)
    return choices, links


def _looks_native(obj: Any) -> bool:
    """Light shape check of a Graph API message object: a ``type`` and the object for it."""
    if not isinstance(obj, Mapping):
        return False
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in obj:
        return False
    if kind == "interactive":
        inner = obj[kind]
        return isinstance(inner, Mapping) and isinstance(inner.get("type"), str)
    return True


def _native(obj: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A private copy (the domain's dict must never be mutated downstream) without routing keys."""
    message = {key: copy.deepcopy(value) for key, value in obj.items() if key not in ("to", "recipient", "messaging_product")}
    problems = validate_outbound(message)
    if problems:
        logger.warning("%s of type %s may be rejected by Meta: %s", source, message["type"], "; ".join(problems))
    return message


def _custom_messages(custom: Any) -> list[dict[str, Any]]:
    if not isinstance(custom, Mapping):
        logger.warning("ignoring custom payload that is not an object (%s)", type(custom).__name__)
        return []
    if "whatsapp" in custom:
        candidates = custom["whatsapp"]
        is_many = isinstance(candidates, Sequence) and not isinstance(candidates, str)
        candidates = list(candidates) if is_many else [candidates]
    elif "type" in custom:
        candidates = [custom]
    else:
        logger.warning("ignoring custom payload without a 'whatsapp' key (keys: %s)", sorted(map(str, custom)))
        return []
    messages = []
    for candidate in candidates:
        if _looks_native(candidate):
            messages.append(_native(candidate, "custom message"))
        else:
            logger.warning("ignoring custom WhatsApp message without 'type' and its object")
    return messages


def _image_message(image: Any, caption: str | None) -> list[dict[str, Any]]:
    if isinstance(image, str) and _HTTP_URL.match(image.strip()):
        body: dict[str, Any] = {"link": image.strip()}
        if caption:
            body["caption"] = caption
        return [{"type": "image", "image": body}]
    if _looks_native(image):
        return [_native(image, "image")]
    logger.warning("ignoring image that is not an http(s) URL")
    return []


def _attachment_messages(attachment: Any) -> list[dict[str, Any]]:
    if isinstance(attachment, str) and _HTTP_URL.match(attachment.strip()):
        link = attachment.strip()
        document: dict[str, Any] = {"link": link}
        filename = unquote(urlparse(link).path.rsplit("/", 1)[-1])
        if filename:
            document["filename"] = filename
        return [{"type": "document", "document": document}]
    if _looks_native(attachment):
        return [_native(attachment, "attachment")]
    logger.warning("ignoring attachment that is neither an http(s) URL nor a Graph API message")
    return []


# --------------------------------------------------------------------------- interactive


def _distinct_titles(titles: Sequence[str], limit: int) -> list[str]:
    """Shorten titles to ``limit`` and make them unique (case-insensitively) with " (2)" etc."""
    seen: set[str] = set()
    result = []
    for title in titles:
        candidate = shorten(title, limit)
        number = 1
        while candidate.casefold() in seen:
            number += 1
            suffix = f" ({number})"
            candidate = shorten(title, limit - measure(suffix)) + suffix
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


async def _distinct_ids(choices: Sequence[Choice], limit: int, id_map: PayloadIdMap) -> list[str]:
    """Payloads as ids when they fit, else tokens; a repeated payload gets ``<token>.2`` etc.

    Literal ids never start with "~" (that marks a token) and never carry outer whitespace.
    """
    used: set[str] = set()
    ids = []
    for choice in choices:
        payload = choice.payload
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


async def _reply_buttons(body: str, choices: Sequence[Choice], id_map: PayloadIdMap) -> dict[str, Any]:
    titles = _distinct_titles([c.title for c in choices], REPLY_BUTTON_TITLE_MAX)
    ids = await _distinct_ids(choices, REPLY_BUTTON_ID_MAX, id_map)
    buttons = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in zip(ids, titles)]
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
    }


async def _list_page(
    body: str,
    choices: Sequence[Choice],
    *,
    id_map: PayloadIdMap,
    language: Language,
    label: str,
    offset: int,
    total: int,
) -> dict[str, Any]:
    """One list message: all choices if they fit in 10 rows, else 9 and a "more" row."""
    shown = list(choices) if len(choices) <= LIST_ROWS_MAX else list(choices[:_ROWS_BEFORE_MORE])
    rest = list(choices[len(shown) :])
    full_titles = [c.title for c in shown] + ([_MORE_TITLE[language]] if rest else [])
    titles = _distinct_titles(full_titles, ROW_TITLE_MAX)
    ids = await _distinct_ids(shown, ROW_ID_MAX, id_map)
    rows: list[dict[str, Any]] = []
    for choice, row_id, title in zip(shown, ids, titles):
        row = {"id": row_id, "title": title}
        if not title.startswith(choice.title):  # cut (possibly to make room for " (2)")
            row["description"] = shorten(choice.title, ROW_DESCRIPTION_MAX)
        rows.append(row)
    if rest:
        state = {
            "v": _PAGE_STATE_VERSION,
            "choices": [[c.title, c.payload] for c in rest],
            "label": label,
            "language": language,
            "offset": offset + len(shown),
            "total": total,
        }
        token = await id_map.remember(json.dumps(state, ensure_ascii=False, sort_keys=True), prefix=MORE_TOKEN_PREFIX)
        description = _MORE_DESCRIPTION[language].format(count=len(rest))
        rows.append({"id": token, "title": titles[-1], "description": shorten(description, ROW_DESCRIPTION_MAX)})
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": label, "sections": [{"title": label, "rows": rows}]},
        },
    }


async def _choice_messages(
    text: str | None,
    choices: Sequence[Choice],
    *,
    id_map: PayloadIdMap,
    language: Language,
    label: str,
) -> list[dict[str, Any]]:
    leading, body = _split_for_interactive(text, language) if text else ([], _NEUTRAL_BODY[language])
    messages = [_text_message(chunk) for chunk in leading]
    fits_buttons = len(choices) <= REPLY_BUTTONS_MAX and all(
        measure(c.title) <= REPLY_BUTTON_TITLE_MAX for c in choices
    )
    if fits_buttons:
        messages.append(await _reply_buttons(body, choices, id_map))
    else:
        messages.append(
            await _list_page(
                body, choices, id_map=id_map, language=language, label=label, offset=0, total=len(choices)
            )
        )
    return messages


def _cta_messages(text: str | None, links: Sequence[Choice], language: Language) -> tuple[list[dict[str, Any]], bool]:
    """(CTA URL messages, whether ``text`` was used as the body of the only one)."""
    messages = []
    use_text = text is not None and len(links) == 1
    for link in links:
        if use_text and text is not None:
            leading, body = _split_for_interactive(text, language)
            messages += [_text_message(chunk) for chunk in leading]
            display = shorten(link.title, CTA_DISPLAY_TEXT_MAX)
        else:
            body = shorten(link.title, INTERACTIVE_BODY_MAX)
            display = _OPEN_LINK[language]
        messages.append(
            {
                "type": "interactive",
                "interactive": {
                    "type": "cta_url",
                    "body": {"text": body},
                    "action": {"name": "cta_url", "parameters": {"display_text": display, "url": link.payload}},
                },
            }
        )
    return messages, use_text


# --------------------------------------------------------------------------- entry points


async def _render_card(
    text: str | None,
    choices: Sequence[Choice],
    links: Sequence[Choice],
    image: Any,
    *,
    id_map: PayloadIdMap,
    language: Language,
    label: str,
) -> list[dict[str, Any]]:
    """Text, buttons, links and image of one message, in the order described in the designer doc."""
    messages: list[dict[str, Any]] = []
    if image:
        caption_fits = text is not None and not choices and not links and measure(text) <= MEDIA_CAPTION_MAX
        if caption_fits:
            return _image_message(image, text)
        if text is not None and not choices and not links:
            return _text_messages(text) + _image_message(image, None)
        messages += _image_message(image, None)
    if choices:
        messages += await _choice_messages(text, choices, id_map=id_map, language=language, label=label)
        cta, _ = _cta_messages(None, links, language)
        return messages + cta
    cta, text_used = _cta_messages(text if links else None, links, language)
    if text is not None and not text_used:
        messages += _text_messages(text)
    return messages + cta


def _text_of(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


async def render_response(
    message: Mapping[str, Any],
    *,
    id_map: PayloadIdMap,
    language: str = "de",
    list_label: str | None = None,
) -> list[dict[str, Any]]:
    """Render a Rasa bot message (as OutputChannel.send_response gets it) as WhatsApp messages.

    Returns Graph API message objects, in sending order, without ``messaging_product``/``to``.
    ``language`` ("de" or "en"; anything starting with "en" is English, everything else German)
    picks the built-in labels; ``list_label`` overrides the label of the list button.
    Never raises on odd input (unknown keys are ignored, junk is skipped with a warning, an empty
    message gives []); errors of the id map (e.g. Redis down) do propagate.
    """
    if not isinstance(message, Mapping):
        logger.warning("ignoring bot message that is not an object (%s)", type(message).__name__)
        return []
    lang = _normalise_language(language)
    label = shorten(list_label, LIST_BUTTON_TEXT_MAX) if _text_of(list_label) else _LIST_LABEL[lang]
    text = _text_of(message.get("text"))
    if message.get("quick_replies"):
        if message.get("buttons"):
            logger.warning("message has quick_replies and buttons; using quick_replies like Rasa does")
        choices, links = _choices(message.get("quick_replies"))
    else:
        choices, links = _choices(message.get("buttons"))
    messages = await _render_card(
        text, choices, links, message.get("image"), id_map=id_map, language=lang, label=label
    )
    if message.get("custom"):
        messages += _custom_messages(message["custom"])
    if message.get("attachment"):
        messages += _attachment_messages(message["attachment"])
    elements = message.get("elements")
    if elements:
        if isinstance(elements, Sequence) and not isinstance(elements, str):
            for element in elements:
                if not isinstance(element, Mapping):
                    logger.warning("ignoring element that is not an object")
                    continue
                parts = [_text_of(element.get("title")), _text_of(element.get("subtitle"))]
                card_text = "\n".join(part for part in parts if part) or None
                card_choices, card_links = _choices(element.get("buttons") or [])
                messages += await _render_card(
                    card_text, card_choices, card_links, element.get("image_url"),
                    id_map=id_map, language=lang, label=label,
                )
        else:
            logger.warning("ignoring elements that are not a list")
    logger.debug("rendered bot message into %d WhatsApp message(s)", len(messages))
    return messages


async def resolve_reply_id(reply_id: str, id_map: PayloadIdMap) -> ResolvedReply:
    """Turn the id of a tapped reply button or list row into what it stands for.

    A literal id is the Rasa payload itself. A ``~`` token is looked up in ``id_map``; a
    ``~more:`` token yields the next page of a long option list, rendered and ready to send.
    Raises UnknownReplyIdError when a token is unknown or expired (the caller can fall back to
    the tap's title) and CorruptPageStateError when stored paging state is unusable.
    """
    if not is_token(reply_id):
        return ResolvedReply(kind="payload", payload=reply_id)
    token = strip_disambiguator(reply_id)
    value = await id_map.resolve(token)
    if value is None:
        raise UnknownReplyIdError(token)
    if not token.startswith(MORE_TOKEN_PREFIX):
        return ResolvedReply(kind="payload", payload=value)
    try:
        state = json.loads(value)
        if state["v"] != _PAGE_STATE_VERSION:
            raise CorruptPageStateError(f"unsupported page state version {state['v']!r}")
        choices = [Choice(str(title), str(payload)) for title, payload in state["choices"]]
        language = _normalise_language(state["language"])
        label, offset, total = str(state["label"]), int(state["offset"]), int(state["total"])
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptPageStateError(f"paging state under {token} is unusable") from error
    if not choices:
        raise CorruptPageStateError(f"paging state under {token} has no options")
    last = offset + min(len(choices), LIST_ROWS_MAX if len(choices) <= LIST_ROWS_MAX else _ROWS_BEFORE_MORE)
    body = _PAGE_BODY[language].format(first=offset + 1, last=last, total=total)
    page = await _list_page(
        body, choices, id_map=id_map, language=language, label=label, offset=offset, total=total
    )
    return ResolvedReply(kind="more_page", page=(page,))
