"""WhatsApp Cloud API channel for Rasa (inbound webhook, rendering, outbound Graph API client).

Configure ``connectors.whatsapp.WhatsAppInput`` in ``credentials.yml``; see
docs/whatsapp-delivery.md for the settings and the delivery guarantees.

The channel classes are imported lazily (PEP 562) so that light modules of this package
(settings, render, limits, the Graph client) can be used by the stand-ins and scripts without
importing Rasa and Sanic. ``rasa.shared.utils.common.class_from_module_path`` resolves
``connectors.whatsapp.WhatsAppInput`` through ``getattr`` and so works unchanged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.whatsapp.adapter import WhatsAppInput
    from connectors.whatsapp.output import WhatsAppOutput

__all__ = ["WhatsAppInput", "WhatsAppOutput"]


def __getattr__(name: str) -> Any:
    if name == "WhatsAppInput":
        from connectors.whatsapp.adapter import WhatsAppInput

        return WhatsAppInput
    if name == "WhatsAppOutput":
        from connectors.whatsapp.output import WhatsAppOutput

        return WhatsAppOutput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
