"""WhatsApp Cloud API channel for Rasa (inbound webhook, rendering, outbound Graph API client).

Configure ``connectors.whatsapp.WhatsAppInput`` in ``credentials.yml``; see
docs/whatsapp-delivery.md for the settings and the delivery guarantees.

The channel classes are imported lazily (PEP 562) so that light modules of this package
(render, limits, the Graph client) can be used by the stand-ins and scripts without
importing Rasa and Sanic. ``rasa.shared.utils.common.class_from_module_path`` resolves
``connectors.whatsapp.WhatsAppInput`` through ``getattr`` and so works unchanged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.whatsapp.channel import WhatsAppInput, WhatsAppOutput

__all__ = ["WhatsAppInput", "WhatsAppOutput"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from connectors.whatsapp import channel

        return getattr(channel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
