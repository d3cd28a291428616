"""Meta's limits on an outbound WhatsApp message, as the stand-in enforces them.

Why a table of its own: the channel shapes its messages to connectors/whatsapp/limits.py. If the
stand-in checked with that module, a wrong number there (a button title of 25 instead of 20)
would pass every test and fail only on a user's phone: Meta rejects such a message with 131009,
or, as users of other connectors report, it is silently never delivered (heyoo #18, chatwoot
#8288). So these numbers are copied from Meta's pages, not imported;
tests/unit/standins/meta_graph/test_meta_limits.py compares the two tables.

Where Meta's pages disagree, each message type keeps the number of its own page: a list body
may have 4,096 characters (list page), a reply-button, CTA-URL or location-request body 1,024.

Lengths are counted as UTF-16 code units (an emoji counts 2), the largest plausible count for
Meta's undocumented "characters" (and the length WhatsApp's own Node SDK, in JavaScript, sees):
a text that fits by this count fits by any other.

Pages (read for this table): :data:`PAGES`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["MetaLimit", "META_LIMITS", "PAGES", "limit", "length"]

_DOCS = "https://developers.facebook.com/docs/whatsapp/cloud-api/messages/"
#: Meta's page for each kind of message, by a short name.
PAGES: Mapping[str, str] = MappingProxyType({
    "text": _DOCS + "text-messages",
    "buttons": _DOCS + "interactive-reply-buttons-messages",
    "list": _DOCS + "interactive-list-messages",
    "cta_url": _DOCS + "interactive-cta-url-messages",
    "location_request": _DOCS + "location-request-messages",
    "media": _DOCS + "image-messages",
    "template": "https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates",
})


@dataclasses.dataclass(frozen=True)
class MetaLimit:
    """One of Meta's numbers: the most ``unit`` a field may hold, and the page that says so."""

    maximum: int
    page: str
    unit: str = "characters"

    @property
    def source(self) -> str:
        return PAGES[self.page]


#: Every limit the stand-in enforces, by the part of the message it applies to.
META_LIMITS: Mapping[str, MetaLimit] = MappingProxyType({
    # text message: "Maximum 4096 characters"
    "text.body": MetaLimit(4096, "text"),
    # interactive reply buttons: "Supports up to 3 buttons"
    "button.body": MetaLimit(1024, "buttons"),
    "button.count": MetaLimit(3, "buttons", unit="buttons"),
    "button.title": MetaLimit(20, "buttons"),
    "button.id": MetaLimit(256, "buttons"),
    # interactive list: "up to 10 sections, with up to 10 rows for all sections combined"
    "list.body": MetaLimit(4096, "list"),
    "list.button": MetaLimit(20, "list"),
    "list.sections": MetaLimit(10, "list", unit="sections"),
    "list.rows": MetaLimit(10, "list", unit="rows"),
    "section.title": MetaLimit(24, "list"),
    "row.title": MetaLimit(24, "list"),
    "row.description": MetaLimit(72, "list"),
    "row.id": MetaLimit(200, "list"),
    # header and footer of an interactive message (same on the buttons, list and CTA pages)
    "header.text": MetaLimit(60, "list"),
    "footer.text": MetaLimit(60, "list"),
    # call-to-action URL button
    "cta_url.body": MetaLimit(1024, "cta_url"),
    "cta_url.display_text": MetaLimit(20, "cta_url"),
    # location request
    "location_request.body": MetaLimit(1024, "location_request"),
    # media caption (image, video, document)
    "media.caption": MetaLimit(1024, "media"),
    # template name
    "template.name": MetaLimit(512, "template"),
})


def limit(name: str) -> int:
    """The maximum of one entry of :data:`META_LIMITS`."""
    return META_LIMITS[name].maximum


def length(text: str) -> int:
    """How long ``text`` is by the stand-in's count: UTF-16 code units (see module doc)."""
    return len(text.encode("utf-16-le")) // 2
