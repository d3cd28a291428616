"""Fake ids, timestamps and the default business account of the webhook builders.

Meta's ids are opaque strings (``wamid.…``) and digits (media ids); timestamps are Unix seconds
as decimal strings (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).
Every value here is obviously fake, so nothing a test sends can be mistaken for a real account.
"""
from __future__ import annotations

import secrets
import time

__all__ = [
    "DEFAULT_WABA_ID",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "fake_wamid",
    "fake_media_id",
    "timestamp",
    "as_timestamp",
]

DEFAULT_WABA_ID = "100000000000009"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"  # same default as the Graph API stand-in (standins/meta_graph)
DEFAULT_DISPLAY_PHONE_NUMBER = "4915550000000"


def fake_wamid() -> str:
    """A unique, obviously fake WhatsApp message id."""
    return "wamid.FAKE" + secrets.token_hex(16).upper()


def fake_media_id() -> str:
    """A unique, obviously fake media id (digits, like Meta's)."""
    return "9" + "".join(str(secrets.randbelow(10)) for _ in range(15))


def timestamp(at: float | None = None) -> str:
    """Unix seconds as Meta sends them: a decimal string."""
    return str(int(time.time() if at is None else at))


def as_timestamp(ts: str | float | None) -> str:
    """``ts`` as Meta sends it: a string is kept, a number (or None: now) is converted."""
    return ts if isinstance(ts, str) else timestamp(ts)
