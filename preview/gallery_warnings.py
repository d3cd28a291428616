"""What the WhatsApp renderer changed in a response, told as short sentences for a designer.

Why by comparison: the renderer (connectors/whatsapp/render/) decides how to fit a response
into Meta's limits; repeating its rules here would drift from it. Instead the response as
written (placeholders filled) is laid next to the Graph API messages the renderer produced,
and every difference is named: a title cut or numbered, buttons that became a list, a list
paged behind a "more" row (the following pages are fetched from the payload id map like a
tap on "more" would, connectors/whatsapp/paging.py), a text split or moved out of the
buttons, a payload kept as a token, an image, attachment or custom payload dropped or sent
separately, markdown WhatsApp shows as typed, anything ``limits.validate_outbound`` says Meta
would reject. Counted in UTF-16 units like limits.measure (an emoji counts 2).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.whatsapp.limits import (
    INTERACTIVE_BODY_MAX,
    MEDIA_CAPTION_MAX,
    REPLY_BUTTON_ID_MAX,
    ROW_ID_MAX,
    TEXT_BODY_MAX,
    measure,
    validate_outbound,
)
from connectors.whatsapp.paging import resolve_reply_id
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX
from connectors.whatsapp.render import render_response
from connectors.whatsapp.render.labels import ChannelLabels
from connectors.whatsapp.render.layout import Choice, parse_choices

__all__ = ["response_warnings", "markdown_warnings"]

_NUMBERED = re.compile(r" \((\d+)\)$")
_MARKDOWN = (
    (re.compile(r"\*\*[^*\n]+\*\*"), "**double asterisks** show as typed: WhatsApp bolds *single* ones"),
    (re.compile(r"(?<!\w)__[^_\n]+__(?!\w)"), "__double underscores__ show as typed: WhatsApp italicises _single_ ones"),
    (re.compile(r"\[[^\]\n]+\]\(https?://[^)\s]+\)"), "a markdown link [text](url) shows as typed: write the URL itself"),
    (re.compile(r"(?m)^#{1,6} \S"), "a markdown heading (# …) shows as typed: WhatsApp has no headings"),
    (re.compile(r"</?(b|i|strong|em|br|p|a)(\s[^>]*)?/?>", re.IGNORECASE), "HTML tags show as typed"),
)


def _quote(text: str) -> str:
    return f"„{text}“"


def markdown_warnings(text: str | None) -> list[str]:
    """Markdown or HTML in ``text`` that WhatsApp does not format."""
    return [warning for pattern, warning in _MARKDOWN if text and pattern.search(text)]


def _interactive(message: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = message.get("interactive") if message.get("type") == "interactive" else None
    return inner if isinstance(inner, Mapping) else {}


def _rows(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    sections = _interactive(message).get("action", {}).get("sections", [])
    return [row for section in sections for row in section.get("rows", [])]


async def _following_pages(first: Mapping[str, Any], id_map: PayloadIdMap, count: int) -> list[dict[str, Any]]:
    """The list pages behind the "more" rows, as a tap on "more" gets them (at most ``count``)."""
    pages: list[dict[str, Any]] = []
    current = first
    while len(pages) < count:
        rows = _rows(current)
        if not rows or not rows[-1].get("id", "").startswith(MORE_TOKEN_PREFIX):
            break
        resolved = await resolve_reply_id(rows[-1]["id"], id_map)
        if not resolved.page:
            break
        current = resolved.page[0]
        pages.append(current)
    return pages


def _title_warning(kind: str, written: str, shown: str, description: str | None) -> str | None:
    written = " ".join(written.split())
    if shown == written:
        return None
    numbered = _NUMBERED.search(shown)
    if numbered and shown[: numbered.start()].rstrip("…") and written.startswith(shown[: numbered.start()].rstrip("…")):
        return f"{kind} title {_quote(written)} shown as {_quote(shown)}: two options read the same"
    warning = f"{kind} title cut from {measure(written)} to {measure(shown)} characters: {_quote(shown)}"
    if description == written:
        return warning + " (the full title is its description)"
    if description:
        return warning + " (its description is cut too)"
    return warning


def _id_warning(kind: str, choice: Choice, shown_id: str, others: Sequence[Choice]) -> str | None:
    if shown_id == choice.payload:
        return None
    limit = REPLY_BUTTON_ID_MAX if kind == "button" else ROW_ID_MAX
    length = measure(choice.payload)
    if length > limit:
        why = f"{length} characters, a {kind} id holds {limit}"
    elif sum(1 for other in others if other.payload == choice.payload) > 1:
        why = "another option has the same payload"
    else:
        why = "it cannot be an id as written"
    return f"payload of {_quote(choice.title)} stored as a token ({why})"


async def _choice_warnings(
    text: str | None, choices: list[Choice], main: list[dict[str, Any]], labels: ChannelLabels, id_map: PayloadIdMap
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(warnings, texts shown, following list pages) for the buttons or list made of ``choices``."""
    pages: list[dict[str, Any]] = []
    index = next((i for i, m in enumerate(main) if _interactive(m).get("type") in ("button", "list")), None)
    if index is None:
        return [f"{len(choices)} buttons were not sent"], [], []
    message = main[index]
    inner = _interactive(message)
    warnings: list[str] = []
    leading = [m["text"]["body"] for m in main[:index] if m.get("type") == "text"]
    body = inner.get("body", {}).get("text", "")
    if text is None:
        warnings.append(f"no text: the buttons come with {_quote(body)}")
    elif leading and body == labels.choose and text.strip() != body:
        warnings.append(
            f"text of {measure(text)} characters is too long for a message with buttons "
            f"({INTERACTIVE_BODY_MAX}): sent as {len(leading)} text message(s), the buttons say {_quote(body)}"
        )
    elif leading:
        warnings.append(
            f"text of {measure(text)} characters is too long for a message with buttons ({INTERACTIVE_BODY_MAX}): "
            f"{len(leading)} text message(s) go first, the buttons carry only the last part"
        )
    if text is None:
        shown_texts: list[str] = []
    elif leading and body == labels.choose and text.strip() != body:
        shown_texts = leading
    else:
        shown_texts = leading + [body]
    if inner.get("type") == "button":
        shown = [(b["reply"]["title"], None, b["reply"]["id"]) for b in inner["action"]["buttons"]]
        kind = "button"
    else:
        n = len(choices)
        warnings.append(
            f"{n} buttons became a list" if n > 3 else f"{n} button(s) became a list: a title is too long for a button"
        )
        pages = [message] + await _following_pages(message, id_map, n)
        rows = [row for page in pages for row in _rows(page) if not row.get("id", "").startswith(MORE_TOKEN_PREFIX)]
        if len(pages) > 1:
            first = len(_rows(message)) - 1
            warnings.append(
                f"{n} choices: the list shows {first} and a 'more' row, "
                f"the other {n - first} follow on {len(pages) - 1} more page(s)"
            )
        shown = [(r["title"], r.get("description"), r["id"]) for r in rows]
        kind = "row"
    for choice, (title, description, shown_id) in zip(choices, shown):
        warnings += [w for w in (_title_warning(kind, choice.title, title, description),
                                 _id_warning(kind, choice, shown_id, choices)) if w]
    if len(shown) < len(choices):
        warnings.append(f"{len(choices) - len(shown)} choices are missing from what is sent")
    return warnings, shown_texts, pages[1:]


def _cta_warnings(
    links: list[Choice], main: list[dict[str, Any]], labels: ChannelLabels, with_choices: bool
) -> tuple[list[str], list[str]]:
    """(warnings, texts shown) for the link buttons."""
    warnings: list[str] = []
    texts: list[str] = []
    ctas = [_interactive(m) for m in main if _interactive(m).get("type") == "cta_url"]
    for link, cta in zip(links, ctas):
        display = cta["action"]["parameters"]["display_text"]
        body = cta["body"]["text"]
        if display == labels.open_link and link.title != labels.open_link:
            where = "after the buttons" if with_choices else "of its own"
            warnings.append(f"link {_quote(link.title)} sent as a message {where} with an {_quote(display)} button")
            if body != " ".join(link.title.split()):
                warnings.append(f"link text cut from {measure(link.title)} to {measure(body)} characters: {_quote(body)}")
        else:
            texts.append(body)
            warning = _title_warning("link button", link.title, display, None)
            warnings += [warning] if warning else []
    if len(ctas) < len(links):
        warnings.append(f"{len(links) - len(ctas)} link button(s) were not sent")
    return warnings, texts


def _squashed(texts: Sequence[str]) -> str:
    return "".join("".join(texts).split())


async def _extra_warnings(message: Mapping[str, Any], id_map: PayloadIdMap, language: str) -> tuple[list[str], int]:
    """(warnings, rendered count) of ``custom``, ``attachment`` and ``elements``, rendered on their own."""
    warnings: list[str] = []
    total = 0
    custom = message.get("custom")
    if custom:
        sent = await render_response({"custom": custom}, id_map=id_map, language=language)
        total += len(sent)
        inner = custom.get("whatsapp") if isinstance(custom, Mapping) else None
        written = len(inner) if isinstance(inner, list) else 1
        if not sent:
            warnings.append("custom payload dropped: it needs a 'whatsapp' key with Graph API message(s)")
        elif len(sent) < written:
            warnings.append(f"custom payload: {written - len(sent)} of {written} messages dropped (not Graph API messages)")
    if message.get("attachment"):
        sent = await render_response({"attachment": message["attachment"]}, id_map=id_map, language=language)
        total += len(sent)
        if not sent:
            warnings.append("attachment dropped: it is neither an http(s) link nor a Graph API message")
    elements = message.get("elements")
    if elements:
        sent = await render_response({"elements": elements}, id_map=id_map, language=language)
        total += len(sent)
        count = len(elements) if isinstance(elements, list) else 0
        warnings.append(f"{count} elements sent as {len(sent)} separate messages: WhatsApp has no carousel")
    return warnings, total


async def response_warnings(
    message: Mapping[str, Any],
    rendered: Sequence[dict[str, Any]],
    *,
    id_map: PayloadIdMap,
    labels: ChannelLabels,
) -> tuple[list[str], list[dict[str, Any]]]:
    """(every difference between the filled response ``message`` and the ``rendered`` messages,
    the list pages behind a "more" row)."""
    warnings, extra = await _extra_warnings(message, id_map, labels.language)
    main = list(rendered[: len(rendered) - extra])
    raw_text = message.get("text")
    text = raw_text.strip() if isinstance(raw_text, str) and raw_text.strip() else None
    raw = message.get("quick_replies") or message.get("buttons")
    if message.get("quick_replies") and message.get("buttons"):
        warnings.append("buttons ignored: the response also has quick_replies, which are sent instead")
    choices, links = parse_choices(raw)
    if isinstance(raw, list) and len(raw) > len(choices) + len(links):
        warnings.append(f"{len(raw) - len(choices) - len(links)} button(s) dropped: no usable title, payload or url")
    texts: list[str] = []
    following: list[dict[str, Any]] = []
    if choices:
        more, shown, following = await _choice_warnings(text, choices, main, labels, id_map)
        warnings += more
        texts += shown
    link_warnings, link_texts = _cta_warnings(links, main, labels, bool(choices))
    warnings += link_warnings
    texts += link_texts
    images = [m for m in main if m.get("type") == "image"]
    captions = [m["image"]["caption"] for m in images if isinstance(m.get("image"), Mapping) and m["image"].get("caption")]
    texts += captions
    if message.get("image"):
        if not images:
            warnings.append("image dropped: it is neither an http(s) link nor a Graph API message")
        elif text is not None and not captions and not choices and not links:
            warnings.append(
                f"text of {measure(text)} characters is too long for an image caption ({MEDIA_CAPTION_MAX}): "
                "sent as a separate message before the image"
            )
        elif text is not None and not captions:
            warnings.append("image sent as a separate message before the text: buttons and links cannot carry it")
    if not choices and not (links and link_texts):
        plain = [m["text"]["body"] for m in main if m.get("type") == "text"]
        if len(plain) > 1 and text is not None:
            warnings.append(
                f"text of {measure(text)} characters split into {len(plain)} messages ({TEXT_BODY_MAX} at most each)"
            )
        texts += plain
    elif links and link_texts:
        texts += [m["text"]["body"] for m in main if m.get("type") == "text"]
    if text is not None and not _squashed(texts):
        warnings.append("text dropped: none of it is sent")
    elif text is not None and _squashed(texts) != _squashed([text]):
        sent, written = len(_squashed(texts)), len(_squashed([text]))
        warnings.append(f"text cut: {sent} of {written} characters (without spaces) are sent")
    warnings += markdown_warnings(text)
    for number, sent in enumerate(rendered, start=1):
        warnings += [f"WhatsApp may reject message {number}: {problem}" for problem in validate_outbound(sent)]
    if not rendered:
        warnings.append("nothing is sent: the response has nothing WhatsApp can show")
    return list(dict.fromkeys(warnings)), following
