"""The channel's own words (the "choose" body, list and "more" labels) in one language.

Why from labels.yml: conversation designers change these words and add languages without
opening Python (issue 10 item 3). They live in the ``channel`` section of labels.yml (read
through :mod:`wording`); a language labels.yml does not list falls back to its default
language, and so does a label missing in a listed language. A designer's label longer than
its field allows (limits.py) is shortened with "…" rather than making the message undeliverable.
"""
from __future__ import annotations

from dataclasses import dataclass

import wording
from connectors.whatsapp.limits import CTA_DISPLAY_TEXT_MAX, INTERACTIVE_BODY_MAX, LIST_BUTTON_TEXT_MAX, measure
from connectors.whatsapp.render.text_fit import shorten

__all__ = ["ChannelLabels", "channel_labels"]

_SECTION = "channel"


@dataclass(frozen=True)
class ChannelLabels:
    """The ``channel`` labels of labels.yml, resolved for one language."""

    language: str
    choose: str
    options: str
    more: str
    more_description: str
    page: str
    open_link: str

    def more_count(self, count: int) -> str:
        """The description of the "more" row: how many options are still to come."""
        return self.more_description.format(count=count)

    def page_range(self, first: int, last: int, total: int) -> str:
        """The body of a following page: which options of how many it shows."""
        return _fit(self.page.format(first=first, last=last, total=total), INTERACTIVE_BODY_MAX)


def _fit(text: str, limit: int) -> str:
    return text if measure(text) <= limit else shorten(text, limit)


def channel_labels(language: object = None) -> ChannelLabels:
    """The channel labels for ``language`` ("en-GB" -> "en"; unknown or None -> the default)."""
    labels = wording.current()
    code = labels.normalize(language)

    def text(key: str) -> str:
        return labels.text(f"{_SECTION}.{key}", code)

    return ChannelLabels(
        language=code,
        choose=_fit(text("choose"), INTERACTIVE_BODY_MAX),
        options=_fit(text("options"), LIST_BUTTON_TEXT_MAX),
        more=text("more"),
        more_description=text("more_description"),
        page=text("page"),
        open_link=_fit(text("open_link"), CTA_DISPLAY_TEXT_MAX),
    )
