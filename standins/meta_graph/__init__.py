"""A loopback stand-in for the WhatsApp Cloud API ``messages`` and ``media`` endpoints of Meta's Graph API.

Why: the channel's outbound path (rendering, limits, retries, typing indicators) must be testable
without Meta, without network and without a real phone number, and failures that are rare in
production (throttling, pair rate limits, 5xx, hangs) must be producible on demand. This server
answers like Meta does (same success and error shapes, same error codes) and records what it
accepted, so tests and the terminal chat (harness/chat.py) can read the bot's replies.

It checks outbound messages against its own table of Meta's limits (meta_limits.py, written from
Meta's pages), never against the channel's connectors/whatsapp/limits.py: a wrong production
limit then makes the stand-in refuse what the channel renders, instead of both agreeing on the
same mistake.

Modules, by what they do: ``server`` (the endpoint and what it accepted), ``addressing`` (``to``
versus ``recipient``), ``meta_limits`` and ``message_checks`` (Meta's limits and the checks
against them), ``errors`` (Meta's error shape), ``faults`` (injected failures), ``control``
(the ``/_standin/...`` endpoints), ``records`` (accepted messages, read receipts), ``media``
(upload, media URL, download and delete of media such as voice notes, with expiry), ``cli``
(``python -m standins.meta_graph --port 8765``). This package is their one import point.
"""
from __future__ import annotations

from standins.meta_graph.addressing import looks_like_bsuid
from standins.meta_graph.cli import main
from standins.meta_graph.errors import meta_error
from standins.meta_graph.faults import RANDOM_FAULT_KINDS, Fault
from standins.meta_graph.records import AcceptedMessage, ReadReceipt
from standins.meta_graph.server import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, MetaGraphStandIn

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_PHONE_NUMBER_ID",
    "RANDOM_FAULT_KINDS",
    "AcceptedMessage",
    "ReadReceipt",
    "looks_like_bsuid",
    "Fault",
    "MetaGraphStandIn",
    "meta_error",
    "main",
]
