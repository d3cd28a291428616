"""What the fuzz parts send and look for: obviously fake identities, texts, ids and limits.

The at-rest scan of tests/reliability/test_fuzz.py searches every store and log for each of these
identities and texts, so they are distinctive on purpose. ``new_wamid`` and ``serial`` share one
counter with the seeded generators of tests/support/fuzz/strategies.py (as in the suite before
its harness moved here), so the sequence of drawn values for a given seed is unchanged.
"""
from __future__ import annotations

import itertools
import secrets
import time

from connectors.whatsapp.core import DeliveryOptions
from harness import meta_payloads as mp

MAX_BODY = 65536  # WHATSAPP_MAX_BODY_BYTES of this stack: keeps oversized requests small
STALE_AGE_S = DeliveryOptions().max_message_age_seconds
#: RedisDedupStore's namespace; the channel has no setting for it, so the suite computes the
#: keys of the message ids it sent and deletes those (and the payload id map keys it caused).
DEDUP_NAMESPACE = "blaupause:wa:dedup"
PID_NAMESPACE = "blaupause:wa:pid"
WEBHOOK_PATH = "/webhooks/whatsapp/webhook"

# Obviously fake identities; the at-rest scan looks for every one of them.
POOL = tuple(f"49155500091{n:02d}" for n in range(12))
SANITY = ("4915550009190", "4915550009191", "4915550009192")  # normal messages before and after the fuzzing
PROFILE_NAMES = ("Fuzzina Quellbrunn", "Bertram Zackenfeld", "Ölga Wirrwarr")
TEXTS = (
    "Ich suche Arbeit als Glasbläserin in Quedlinburg",
    "Hallo Fuzzbot, hier spricht Zitronenfalter Nummer sieben",
    "I want a job as a falconer near Buxtehude",
    "Hufschmied Teilzeit Wunsiedel bitte",
    "Welche Daten habt ihr über Zackenfeld gespeichert?",
)
TEXT_WORDS = ("Glasbläserin", "Quedlinburg", "Zitronenfalter", "falconer", "Buxtehude", "Hufschmied", "Wunsiedel")
REPLY_PAYLOADS = (
    "/greet", "/help", "/search_job", "/privacy_info", "/export_data", "/delete_data", "/cancel_delete",
    "/more_results", "/new_search", '/switch_language{"language":"en"}', '/inform{"job_title":"Koch"}',
    '/select_job{"job_id":"nope"}', '/share_location{"latitude":"x"}', "/no_such_intent", "/",
)
MESSAGE_TYPES = mp.MESSAGE_TYPES

_counter = itertools.count(1)
_RUN = secrets.token_hex(3).upper()


def serial() -> int:
    """The next number of the run-wide counter (message ids and per-example seeds)."""
    return next(_counter)


def new_wamid() -> str:
    """A unique, obviously fake message id (one per generated message)."""
    return f"wamid.FUZZ{_RUN}{serial():07d}"


def fresh() -> str:
    return str(int(time.time()))


def stale_by(seconds: int) -> int:
    return int(time.time() - STALE_AGE_S - 3600 - seconds)

