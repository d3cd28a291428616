"""Native WhatsApp messages a response carries itself: passed through, never rebuilt.

Why: a designer may need a message kind Rasa has no response key for - a CTA URL button
(https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages),
a location request
(https://developers.facebook.com/docs/whatsapp/cloud-api/messages/location-request-messages),
a template - and generic connectors drop custom JSON. A response's ``custom`` payload of the
form ``{"whatsapp": {...}}`` (one message or a list), or a ``custom`` that is itself a Graph
API message (it has a ``type`` and the object for it), is sent as it is. Routing keys are
dropped (the Graph client adds the address), the domain's dict is copied, never shared, and a
message outside Meta's limits is sent but logged (without its text) as likely to be rejected.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.whatsapp.limits import validate_outbound

__all__ = ["looks_native", "native", "custom_messages"]

logger = logging.getLogger(__name__)

_ROUTING_KEYS = ("to", "recipient", "messaging_product")


def looks_native(obj: Any) -> bool:
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


def native(obj: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A private copy (the domain's dict must never be mutated downstream) without routing keys."""
    message = {key: copy.deepcopy(value) for key, value in obj.items() if key not in _ROUTING_KEYS}
    problems = validate_outbound(message)
    if problems:
        logger.warning("%s of type %s may be rejected by Meta: %s", source, message["type"], "; ".join(problems))
    return message


def custom_messages(custom: Any) -> list[dict[str, Any]]:
    """The native messages of a response's ``custom`` payload; anything else is skipped with a warning."""
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
        if looks_native(candidate):
            messages.append(native(candidate, "custom message"))
        else:
            logger.warning("ignoring custom WhatsApp message without 'type' and its object")
    return messages
