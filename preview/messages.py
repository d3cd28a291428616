"""What a page action sends: the inbound message object a WhatsApp user's action would produce.

The page posts one JSON body per action (``POST /api/sessions/{sid}/send``, see preview/server.py);
this module checks it and builds the ``messages[]`` object with harness/meta_payloads/ exactly as
the terminal chat does (harness/chat_input.py):

- ``{"type": "text", "text": …}``: a text message;
- ``{"type": "tap", "kind": "button_reply"|"list_reply", "id", "title", "description"?, "context"}``:
  a tap on a reply button or a list row, quoting the bot message tapped (``context`` is its
  wamid, as WhatsApp sends it);
- ``{"type": "location", "latitude", "longitude", "name"?}``: a shared location;
- ``{"type": "image", "caption"?}``: a photo (a tiny JPEG put on the stand-in, so its media id
  exists where the channel would look);
- ``{"type": "voice", "text", "unsure"?}``: a voice note saying ``text`` (harness/voice_notes.py
  via ``spoken`` of harness/chat_input.py), put on the stand-in before the webhook, as Meta holds media
  before it tells the business; ``unsure`` makes it one the transcriber hardly makes out.

A body that is not one of these raises :class:`BadAction` (the server answers 400 with its message,
which never repeats what the user typed).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness import meta_payloads as mp
from harness.chat_input import VoiceNoteRequest, spoken
from standins.meta_graph import MetaGraphStandIn

__all__ = ["BadAction", "ACTION_TYPES", "MAX_TEXT", "TINY_JPEG", "inbound_message"]

ACTION_TYPES = ("text", "tap", "location", "image", "voice")
#: WhatsApp lets a user type at most 4096 characters in one message.
MAX_TEXT = 4096
#: The smallest JPEG (start and end of image markers): the "photo" a preview user sends.
TINY_JPEG = b"\xff\xd8\xff\xd9"


class BadAction(ValueError):
    """The body of a send is not a valid action (the message says why, without its content)."""


def _string(body: Mapping[str, Any], key: str, *, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadAction(f"'{key}' must be a non-empty string")
    if len(value) > limit:
        raise BadAction(f"'{key}' is longer than {limit} characters")
    return value


def _coordinate(body: Mapping[str, Any], key: str, bound: float) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadAction(f"'{key}' must be a number")
    if not -bound <= value <= bound:
        raise BadAction(f"'{key}' must be between {-bound:g} and {bound:g}")
    return float(value)


def _tap(body: Mapping[str, Any], user: mp.WhatsAppUser) -> dict[str, Any]:
    kind = body.get("kind")
    reply_id = _string(body, "id", limit=256)
    title = _string(body, "title", limit=256)
    context = _string(body, "context", limit=256)
    if kind == "button_reply":
        return mp.button_reply(user, reply_id, title, reply_to=context)
    if kind == "list_reply":
        description = _string(body, "description", required=False, limit=256)
        return mp.list_reply(user, reply_id, title, description or None, reply_to=context)
    raise BadAction("'kind' must be 'button_reply' or 'list_reply'")


def inbound_message(body: Any, user: mp.WhatsAppUser, standin: MetaGraphStandIn) -> dict[str, Any]:
    """The ``messages[]`` object for the action ``body`` sent by ``user`` (media put on ``standin``)."""
    if not isinstance(body, Mapping):
        raise BadAction("the body must be a JSON object")
    kind = body.get("type")
    if kind == "text":
        return mp.text(user, _string(body, "text"))
    if kind == "tap":
        return _tap(body, user)
    if kind == "location":
        name = _string(body, "name", required=False, limit=256)
        return mp.location(
            user, _coordinate(body, "latitude", 90.0), _coordinate(body, "longitude", 180.0), name=name or None
        )
    if kind == "image":
        caption = _string(body, "caption", required=False, limit=1024)
        return mp.image(user, caption=caption or None, media_id=standin.add_media(TINY_JPEG, "image/jpeg"))
    if kind == "voice":
        unsure = body.get("unsure", False)
        if not isinstance(unsure, bool):
            raise BadAction("'unsure' must be true or false")
        request = spoken(_string(body, "text", limit=1000), unsure=unsure)
        if not isinstance(request, VoiceNoteRequest):
            raise BadAction("cannot make that voice note (too long?)")
        return request.upload(standin, user)
    raise BadAction(f"'type' must be one of {', '.join(ACTION_TYPES)}")
