"""Images and attachments of a response as WhatsApp media messages.

Why: Rasa's ``image`` (a URL) becomes an image message
(https://developers.facebook.com/docs/whatsapp/cloud-api/messages/image-messages), with the
response's text as its caption when that fits (1,024 characters, limits.MEDIA_CAPTION_MAX);
an ``attachment`` URL becomes a document message named after the URL's file
(https://developers.facebook.com/docs/whatsapp/cloud-api/messages/document-messages). Either
may also be a Graph API media message of its own, passed through (passthrough.py). Only
http(s) links are sent; anything else is skipped with a warning.
"""
from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote, urlparse

from connectors.whatsapp.render.passthrough import looks_native, native

__all__ = ["HTTP_URL", "image_messages", "attachment_messages"]

logger = logging.getLogger(__name__)

HTTP_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


def image_messages(image: Any, caption: str | None) -> list[dict[str, Any]]:
    """An image message for an http(s) URL or a native image object; [] otherwise."""
    if isinstance(image, str) and HTTP_URL.match(image.strip()):
        body: dict[str, Any] = {"link": image.strip()}
        if caption:
            body["caption"] = caption
        return [{"type": "image", "image": body}]
    if looks_native(image):
        return [native(image, "image")]
    logger.warning("ignoring image that is not an http(s) URL")
    return []


def attachment_messages(attachment: Any) -> list[dict[str, Any]]:
    """A document message for an http(s) URL, or a native media message passed through."""
    if isinstance(attachment, str) and HTTP_URL.match(attachment.strip()):
        link = attachment.strip()
        document: dict[str, Any] = {"link": link}
        filename = unquote(urlparse(link).path.rsplit("/", 1)[-1])
        if filename:
            document["filename"] = filename
        return [{"type": "document", "document": document}]
    if looks_native(attachment):
        return [native(attachment, "attachment")]
    logger.warning("ignoring attachment that is neither an http(s) URL nor a Graph API message")
    return []
