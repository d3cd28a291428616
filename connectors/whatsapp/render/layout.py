"""Rasa buttons and quick replies as WhatsApp reply buttons, lists and link buttons.

Why: the generic connectors send Rasa buttons as plain text with the payload visible (rasa
#6773) and show nothing for more than 3 buttons (heyoo #17). Here each choice becomes the
native message that fits it, inside the limits of limits.py:

- 1-3 buttons whose titles fit (20 characters) -> reply buttons
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages);
- 4-10 buttons, or 1-3 whose titles would be cut -> one list message, a cut title repeated in
  full as the row's description;
- more than 10 -> pages of 9 rows and a "more" row; the texts of every page are fitted now,
  the following pages are kept for the "more" tap by connectors/whatsapp/paging.py
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages);
  the unfitted options an older version kept there (version 1) are laid out the same way
  when their "more" row is tapped (legacy_pages);
- buttons with a ``url`` -> CTA URL buttons
  (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages).

A tap returns the id we sent: the payload itself when it fits the id field, else a token
(paging.reply_ids). The words the channel adds itself come from labels.yml (labels.py).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.whatsapp.limits import (
    CTA_DISPLAY_TEXT_MAX,
    INTERACTIVE_BODY_MAX,
    LIST_ROWS_MAX,
    REPLY_BUTTON_ID_MAX,
    REPLY_BUTTON_TITLE_MAX,
    REPLY_BUTTONS_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    measure,
)
from connectors.whatsapp.paging import LegacyRest, Page, Row, list_message, reply_ids
from connectors.whatsapp.payload_ids.maps import PayloadIdMap
from connectors.whatsapp.render.labels import ChannelLabels, channel_labels
from connectors.whatsapp.render.media import HTTP_URL
from connectors.whatsapp.render.text_fit import distinct_titles, shorten, split_for_interactive, text_message

__all__ = ["Choice", "parse_choices", "page_bounds", "choice_messages", "cta_messages", "legacy_pages"]

logger = logging.getLogger(__name__)

_ROWS_BEFORE_MORE = LIST_ROWS_MAX - 1


@dataclass(frozen=True)
class Choice:
    """One Rasa button or quick reply: what the user sees and what a tap sends to Rasa."""

    title: str
    payload: str


def _title_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    title = " ".join(str(value).split())
    return title or None


def parse_choices(raw: Any) -> tuple[list[Choice], list[Choice]]:
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
        elif isinstance(url, str) and HTTP_URL.match(url.strip()):
            links.append(Choice(title, url.strip()))
        elif url is None and (payload is None or isinstance(payload, str)):
            choices.append(Choice(title, title))  # no payload: the tap sends the title, as in Rasa
        else:
            skipped += 1
    if skipped:
        logger.warning("ignoring %d button(s) without a usable title, payload or url", skipped)
    return choices, links


def page_bounds(count: int) -> list[tuple[int, int]]:
    """(start, end) of each list page for ``count`` options: 9 per page plus "more", the last up to 10."""
    bounds = []
    start = 0
    while count - start > LIST_ROWS_MAX:
        bounds.append((start, start + _ROWS_BEFORE_MORE))
        start += _ROWS_BEFORE_MORE
    bounds.append((start, count))
    return bounds


async def _reply_buttons(body: str, choices: Sequence[Choice], id_map: PayloadIdMap) -> dict[str, Any]:
    titles = distinct_titles([c.title for c in choices], REPLY_BUTTON_TITLE_MAX)
    ids = await reply_ids([c.payload for c in choices], REPLY_BUTTON_ID_MAX, id_map)
    buttons = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in zip(ids, titles)]
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
    }


def _row(choice: Choice, title: str) -> Row:
    """A row; a title that was cut (possibly to make room for " (2)") is repeated as the description."""
    cut = not title.startswith(choice.title)
    return Row(title, shorten(choice.title, ROW_DESCRIPTION_MAX) if cut else None, choice.payload)


def _pages(
    body: str | None, choices: Sequence[Choice], labels: ChannelLabels, *, offset: int = 0, total: int | None = None
) -> list[Page]:
    """Every page of a list of ``choices`` with its texts fitted; all but the last end in "more".

    ``body`` is the first page's body; the others (and the first too when ``body`` is None)
    name their options' numbers. ``offset`` and ``total`` place ``choices`` in a longer list
    of which the first ``offset`` options were sent already (a version 1 rest, legacy_pages).
    """
    total = offset + len(choices) if total is None else total
    bounds = page_bounds(len(choices))
    pages = []
    for index, (start, end) in enumerate(bounds):
        shown = choices[start:end]
        has_more = index < len(bounds) - 1
        titles = distinct_titles([c.title for c in shown] + ([labels.more] if has_more else []), ROW_TITLE_MAX)
        rows = tuple(_row(choice, title) for choice, title in zip(shown, titles))
        more = (titles[-1], shorten(labels.more_count(len(choices) - end), ROW_DESCRIPTION_MAX)) if has_more else None
        page_body = body if index == 0 and body is not None else labels.page_range(offset + start + 1, offset + end, total)
        pages.append(Page(page_body, rows, more))
    return pages


def legacy_pages(rest: LegacyRest) -> list[Page]:
    """The pages of a version 1 rest (the options behind a "more" row sent before version 2).

    Laid out as the renderer of version 1 laid out each next page: a body naming the options'
    numbers, 9 rows and "more" while more than 10 are left, titles and descriptions fitted,
    the labels of the rest's language. paging.resolve_reply_id calls this (the turn passes it).
    """
    choices = [Choice(title, payload) for title, payload in rest.choices]
    return _pages(None, choices, channel_labels(rest.language), offset=rest.offset, total=rest.total)


async def choice_messages(
    text: str | None,
    choices: Sequence[Choice],
    *,
    id_map: PayloadIdMap,
    labels: ChannelLabels,
    label: str,
) -> list[dict[str, Any]]:
    """Text (if too long for a body) and the buttons or list for ``choices``."""
    leading, body = split_for_interactive(text, labels.choose) if text else ([], labels.choose)
    messages = [text_message(chunk) for chunk in leading]
    fits_buttons = len(choices) <= REPLY_BUTTONS_MAX and all(
        measure(c.title) <= REPLY_BUTTON_TITLE_MAX for c in choices
    )
    if fits_buttons:
        messages.append(await _reply_buttons(body, choices, id_map))
    else:
        pages = _pages(body, choices, labels)
        messages.append(await list_message(pages[0], pages[1:], label=label, id_map=id_map))
    return messages


def cta_messages(
    text: str | None, links: Sequence[Choice], labels: ChannelLabels
) -> tuple[list[dict[str, Any]], bool]:
    """(CTA URL messages, whether ``text`` was used as the body of the only one)."""
    messages = []
    use_text = text is not None and len(links) == 1
    for link in links:
        if use_text and text is not None:
            leading, body = split_for_interactive(text, labels.choose)
            messages += [text_message(chunk) for chunk in leading]
            display = shorten(link.title, CTA_DISPLAY_TEXT_MAX)
        else:
            body = shorten(link.title, INTERACTIVE_BODY_MAX)
            display = labels.open_link
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
