"""Every limit the WhatsApp Cloud API puts on an outbound message, with its source.

Why this module exists: messages that break a limit are rejected by Meta (or, as users of other
connectors report, silently never delivered - heyoo #18, chatwoot #8288). The renderer shapes its
output to these numbers and ``validate_outbound`` lets tests and the local Meta stand-in reject
exactly what Meta would reject, so a too-long title fails in CI rather than on a user's phone.

Lengths are measured with ``measure``: UTF-16 code units. Meta documents "characters" without
saying how it counts them; UTF-16 units are never fewer than code points, so a text that fits by
this measure fits by any plausible count (an emoji counts as 2 here).

Sources (Meta's pages, read for this module):
- https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages
- https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
- https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
- https://developers.facebook.com/docs/whatsapp/cloud-api/messages/image-messages
- https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages
- https://developers.facebook.com/docs/whatsapp/cloud-api/messages/location-request-messages
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "TEXT_BODY_MAX",
    "INTERACTIVE_BODY_MAX",
    "HEADER_TEXT_MAX",
    "FOOTER_TEXT_MAX",
    "REPLY_BUTTONS_MAX",
    "REPLY_BUTTON_TITLE_MAX",
    "REPLY_BUTTON_ID_MAX",
    "LIST_BUTTON_TEXT_MAX",
    "LIST_SECTIONS_MAX",
    "LIST_ROWS_MAX",
    "SECTION_TITLE_MAX",
    "ROW_TITLE_MAX",
    "ROW_DESCRIPTION_MAX",
    "ROW_ID_MAX",
    "MEDIA_CAPTION_MAX",
    "CTA_DISPLAY_TEXT_MAX",
    "TEMPLATE_NAME_MAX",
    "LIMIT_SOURCES",
    "MEDIA_TYPES",
    "measure",
    "validate_outbound",
]

_TEXT = "https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages"
_BUTTONS = "https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages"
_LIST = "https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages"
_IMAGE = "https://developers.facebook.com/docs/whatsapp/cloud-api/messages/image-messages"
_CTA = "https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages"
_NODE_SDK = "https://whatsapp.github.io/WhatsApp-Nodejs-SDK/api-reference/types/"

#: Text message body ("Maximum 4096 characters").
TEXT_BODY_MAX = 4096
#: Body of reply-button, CTA-URL and location-request messages. Meta's list page allows 4,096
#: for list bodies, but the reply-button page and the Node SDK say 1,024: we apply 1,024 to
#: every interactive body so a message keeps fitting when it switches between button and list.
INTERACTIVE_BODY_MAX = 1024
#: Text header of an interactive message.
HEADER_TEXT_MAX = 60
#: Footer of an interactive message.
FOOTER_TEXT_MAX = 60
#: Reply buttons in one message.
REPLY_BUTTONS_MAX = 3
#: Reply button title (must be unique within the message).
REPLY_BUTTON_TITLE_MAX = 20
#: Reply button id (returned in the webhook on a tap).
REPLY_BUTTON_ID_MAX = 256
#: Label of the button that opens a list.
LIST_BUTTON_TEXT_MAX = 20
#: Sections in one list message (titles required when more than one).
LIST_SECTIONS_MAX = 10
#: Rows in one list message, all sections together.
LIST_ROWS_MAX = 10
#: Section title in a list message.
SECTION_TITLE_MAX = 24
#: Row title in a list message.
ROW_TITLE_MAX = 24
#: Row description in a list message.
ROW_DESCRIPTION_MAX = 72
#: Row id (returned in the webhook on a tap; unique within the message).
ROW_ID_MAX = 200
#: Caption of an image, video or document message.
MEDIA_CAPTION_MAX = 1024
#: Label of a CTA URL button.
CTA_DISPLAY_TEXT_MAX = 20
#: Name of a message template.
TEMPLATE_NAME_MAX = 512

#: Where each number above comes from (constant name -> page).
LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "TEXT_BODY_MAX": _TEXT,
        "INTERACTIVE_BODY_MAX": _BUTTONS + " ; " + _NODE_SDK + "InteractiveObject",
        "HEADER_TEXT_MAX": _LIST + " ; " + _NODE_SDK + "InteractiveObject",
        "FOOTER_TEXT_MAX": _LIST + " ; " + _NODE_SDK + "InteractiveObject",
        "REPLY_BUTTONS_MAX": _BUTTONS,
        "REPLY_BUTTON_TITLE_MAX": _BUTTONS + " ; " + _NODE_SDK + "ButtonObject",
        "REPLY_BUTTON_ID_MAX": _BUTTONS + " ; " + _NODE_SDK + "ButtonObject",
        "LIST_BUTTON_TEXT_MAX": _LIST,
        "LIST_SECTIONS_MAX": _LIST,
        "LIST_ROWS_MAX": _LIST,
        "SECTION_TITLE_MAX": _LIST,
        "ROW_TITLE_MAX": _LIST + " ; " + _NODE_SDK + "RowObject",
        "ROW_DESCRIPTION_MAX": _LIST + " ; " + _NODE_SDK + "RowObject",
        "ROW_ID_MAX": _LIST + " ; " + _NODE_SDK + "RowObject",
        "MEDIA_CAPTION_MAX": _IMAGE,
        "CTA_DISPLAY_TEXT_MAX": _CTA,
        "TEMPLATE_NAME_MAX": "https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates",
    }
)

#: Message types whose object carries a media ``id`` or ``link``.
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
_CAPTIONED = frozenset({"image", "video", "document"})
_BODY_REQUIRED = frozenset({"button", "list", "cta_url", "location_request_message"})
_URL = re.compile(r"^https?://\S+$")


def measure(text: str) -> int:
    """Length of ``text`` as checked against the limits: UTF-16 code units (see module doc)."""
    return len(text.encode("utf-16-le")) // 2


def _text_problems(where: str, value: Any, maximum: int, *, required: bool = True) -> list[str]:
    if value is None and not required:
        return []
    if not isinstance(value, str):
        return [f"{where}: must be a string"]
    if not value.strip():
        return [f"{where}: must not be empty"]
    if measure(value) > maximum:
        return [f"{where}: {measure(value)} characters, at most {maximum}"]
    return []


def _text_part(where: str, part: Any, maximum: int) -> list[str]:
    """Check a ``{"text": ...}`` object such as an interactive body or footer."""
    if not isinstance(part, Mapping):
        return [f"{where}: must be an object with 'text'"]
    return _text_problems(f"{where}.text", part.get("text"), maximum)


def _check_text(obj: Mapping[str, Any]) -> list[str]:
    problems = _text_problems("text.body", obj.get("body"), TEXT_BODY_MAX)
    if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
        problems.append("text.preview_url: must be a boolean")
    return problems


def _check_media(kind: str, obj: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    sources = [key for key in ("id", "link") if key in obj]
    if len(sources) != 1:
        problems.append(f"{kind}: needs exactly one of 'id' or 'link'")
    link = obj.get("link")
    if link is not None and not (isinstance(link, str) and _URL.match(link)):
        problems.append(f"{kind}.link: must be an http(s) URL")
    if "caption" in obj:
        if kind not in _CAPTIONED:
            problems.append(f"{kind}: does not take a caption")
        else:
            problems += _text_problems(f"{kind}.caption", obj["caption"], MEDIA_CAPTION_MAX)
    return problems


def _check_header(header: Any) -> list[str]:
    if not isinstance(header, Mapping) or not isinstance(header.get("type"), str):
        return ["interactive.header: must be an object with a 'type'"]
    if header["type"] == "text":
        return _text_problems("interactive.header.text", header.get("text"), HEADER_TEXT_MAX)
    if header["type"] in MEDIA_TYPES and isinstance(header.get(header["type"]), Mapping):
        return _check_media(f"interactive.header.{header['type']}", header[header["type"]])
    return [f"interactive.header: unsupported header type {header['type']!r}"]


def _unique(where: str, values: list[str], *, fold: bool) -> list[str]:
    seen: set[str] = set()
    problems = []
    for value in values:
        key = value.casefold() if fold else value
        if key in seen:
            problems.append(f"{where}: duplicate value")
        seen.add(key)
    return problems


def _check_buttons(action: Mapping[str, Any]) -> list[str]:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= REPLY_BUTTONS_MAX:
        return [f"interactive.action.buttons: needs 1 to {REPLY_BUTTONS_MAX} buttons"]
    problems: list[str] = []
    titles: list[str] = []
    ids: list[str] = []
    for index, button in enumerate(buttons):
        where = f"interactive.action.buttons[{index}]"
        if not isinstance(button, Mapping) or button.get("type") != "reply":
            problems.append(f"{where}: must be {{'type': 'reply', 'reply': {{...}}}}")
            continue
        reply = button.get("reply")
        if not isinstance(reply, Mapping):
            problems.append(f"{where}.reply: must be an object")
            continue
        problems += _text_problems(f"{where}.reply.title", reply.get("title"), REPLY_BUTTON_TITLE_MAX)
        problems += _text_problems(f"{where}.reply.id", reply.get("id"), REPLY_BUTTON_ID_MAX)
        titles += [reply["title"]] if isinstance(reply.get("title"), str) else []
        ids += [reply["id"]] if isinstance(reply.get("id"), str) else []
    problems += _unique("interactive.action.buttons titles", titles, fold=True)
    problems += _unique("interactive.action.buttons ids", ids, fold=False)
    return problems


def _check_list(action: Mapping[str, Any]) -> list[str]:
    problems = _text_problems("interactive.action.button", action.get("button"), LIST_BUTTON_TEXT_MAX)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= LIST_SECTIONS_MAX:
        return problems + [f"interactive.action.sections: needs 1 to {LIST_SECTIONS_MAX} sections"]
    ids: list[str] = []
    rows_total = 0
    for s_index, section in enumerate(sections):
        where = f"interactive.action.sections[{s_index}]"
        if not isinstance(section, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        problems += _text_problems(
            f"{where}.title", section.get("title"), SECTION_TITLE_MAX, required=len(sections) > 1
        )
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            problems.append(f"{where}.rows: needs at least one row")
            continue
        rows_total += len(rows)
        for r_index, row in enumerate(rows):
            row_where = f"{where}.rows[{r_index}]"
            if not isinstance(row, Mapping):
                problems.append(f"{row_where}: must be an object")
                continue
            problems += _text_problems(f"{row_where}.title", row.get("title"), ROW_TITLE_MAX)
            problems += _text_problems(f"{row_where}.id", row.get("id"), ROW_ID_MAX)
            problems += _text_problems(
                f"{row_where}.description", row.get("description"), ROW_DESCRIPTION_MAX, required=False
            )
            ids += [row["id"]] if isinstance(row.get("id"), str) else []
    if rows_total > LIST_ROWS_MAX:
        problems.append(f"interactive.action.sections: {rows_total} rows, at most {LIST_ROWS_MAX}")
    problems += _unique("interactive.action.sections row ids", ids, fold=False)
    return problems


def _check_cta_url(action: Mapping[str, Any]) -> list[str]:
    if action.get("name") != "cta_url" or not isinstance(action.get("parameters"), Mapping):
        return ["interactive.action: must be {'name': 'cta_url', 'parameters': {...}}"]
    parameters = action["parameters"]
    problems = _text_problems(
        "interactive.action.parameters.display_text", parameters.get("display_text"), CTA_DISPLAY_TEXT_MAX
    )
    url = parameters.get("url")
    if not (isinstance(url, str) and _URL.match(url)):
        problems.append("interactive.action.parameters.url: must be an http(s) URL")
    return problems


def _check_interactive(obj: Mapping[str, Any]) -> list[str]:
    kind = obj.get("type")
    if not isinstance(kind, str):
        return ["interactive.type: missing"]
    problems: list[str] = []
    if kind in _BODY_REQUIRED or "body" in obj:
        problems += _text_part("interactive.body", obj.get("body"), INTERACTIVE_BODY_MAX)
    if "header" in obj:
        problems += _check_header(obj["header"])
    if "footer" in obj:
        problems += _text_part("interactive.footer", obj["footer"], FOOTER_TEXT_MAX)
    action = obj.get("action")
    if not isinstance(action, Mapping):
        return problems + ["interactive.action: missing"]
    if kind == "button":
        problems += _check_buttons(action)
    elif kind == "list":
        problems += _check_list(action)
    elif kind == "cta_url":
        problems += _check_cta_url(action)
    elif kind == "location_request_message" and action.get("name") != "send_location":
        problems.append("interactive.action.name: must be 'send_location'")
    return problems


def validate_outbound(message: Any) -> list[str]:
    """Return what Meta would object to in one outbound message object; empty means it passes.

    Accepts the object with or without ``messaging_product``/``to``. Checks the types the
    renderer produces in full (text, media, reply buttons, lists, CTA URL, location request) and
    the basic shape of every other type (``type`` present and its object present), so the local
    Meta stand-in can reuse it. Problems never contain message text, only paths and numbers.
    """
    if not isinstance(message, Mapping):
        return ["message: must be an object"]
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        return ["type: missing"]
    if kind not in message:
        return [f"{kind}: the object for type {kind!r} is missing"]
    obj = message[kind]
    if kind == "contacts":
        return [] if isinstance(obj, list) and obj else ["contacts: must be a non-empty list"]
    if not isinstance(obj, Mapping):
        return [f"{kind}: must be an object"]
    if kind == "text":
        return _check_text(obj)
    if kind in MEDIA_TYPES:
        return _check_media(kind, obj)
    if kind == "interactive":
        return _check_interactive(obj)
    if kind == "template":
        language = obj.get("language")
        problems = _text_problems("template.name", obj.get("name"), TEMPLATE_NAME_MAX)
        if not (isinstance(language, Mapping) and isinstance(language.get("code"), str)):
            problems.append("template.language.code: missing")
        return problems
    return []
