"""Every Prometheus metric Blaupause exports, defined once, with the vocabulary of its labels.

Why one module: the metric names are an interface (the alert rules, the
Grafana dashboard, docs/operations.md); defining them in one place keeps that interface
reviewable and lets a test check that every name a rule or panel uses exists. Each process
(Rasa with the channel, the action server) has its own :data:`REGISTRY`, exposed by
:mod:`observability.exposition`; with several instances each is scraped on its own and
Prometheus sums across ``instance``.

Label values come only from the vocabularies below or from :mod:`observability.labels`:
nothing that belongs to a person (sender, pseudonym, BSUID, text, job title, city) can
become a label. Durations are in seconds (https://prometheus.io/docs/practices/naming/).
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = [
    "REGISTRY",
    "WEBHOOK_METHODS", "WEBHOOK_OUTCOMES", "MESSAGE_TYPES", "TURN_OUTCOMES", "GRAPH_ENDPOINTS", "GRAPH_OUTCOMES",
    "PACING_KINDS", "STORE_BACKENDS", "STORE_OPERATIONS", "CRYPTO_KINDS", "DELIVERY_STATUSES",
    "FAILED_DELIVERY_ACTIONS", "PROVIDER_OUTCOMES", "LLM_OUTCOMES", "READINESS_COMPONENTS",
    "VOICE_OUTCOMES", "VOICE_STEPS", "voice_notes", "voice_step_duration",
    "webhook_requests", "webhook_duration", "inbound_messages", "turn_duration",
    "graph_requests", "graph_request_duration", "graph_retries", "pacing_waits", "pacing_wait_duration",
    "dedup_duplicates", "dedup_lease_expiries", "outbox_resumes",
    "store_operation_duration", "store_errors", "crypto_errors",
    "delivery_statuses", "failed_deliveries_handled",
    "job_provider_requests", "job_provider_duration", "llm_requests", "llm_duration",
    "ready", "readiness_check",
    "KNOWN_GRAPH_SERIES", "KNOWN_STATUS_SERIES", "initialise_channel_series", "initialise_action_series",
]

REGISTRY = CollectorRegistry(auto_describe=True)
# Resident memory, CPU seconds, open fds, GC (the capacity guide reads these per instance).

ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# ---------------------------------------------------------------- vocabularies (closed sets)

#: The ``method`` label of :data:`webhook_requests` (anything else, e.g. a request whose head Sanic could not parse: ``other``).
WEBHOOK_METHODS = frozenset({"GET", "POST"})
#: What became of one webhook request (``outcome`` label of :data:`webhook_requests`).
WEBHOOK_OUTCOMES = frozenset({
    "handled",          # 200, every message handled (or statuses only)
    "duplicate",        # 200, every message already handled
    "retry",            # 503 asked Meta to redeliver (delivery not finished, store down, duplicate busy)
    "busy",             # 503 too many bodies being read at once
    "too_large",        # 413
    "unsigned",         # 401 signature header missing or malformed
    "bad_signature",    # 403 wrong signature
    "bad_request",      # 400 not a WhatsApp payload
    "bad_framing",      # 400 malformed Content-Length / Transfer-Encoding, refused before any route (method "other")
    "error",            # 500 internal error
    "verified",         # GET handshake accepted
    "verify_refused",   # GET handshake refused
})
#: Inbound WhatsApp message types (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).
MESSAGE_TYPES = frozenset({
    "text", "interactive", "button", "location", "image", "audio", "video", "document", "sticker",
    "contacts", "reaction", "order", "system", "unsupported", "request_welcome",
})
TURN_OUTCOMES = frozenset({"handled", "duplicate", "retry", "failed", "stale", "identity_move"})
GRAPH_ENDPOINTS = frozenset({"messages", "read_receipt", "typing", "media"})
GRAPH_OUTCOMES = frozenset({"ok", "throttled", "pair_rate", "reengagement", "invalid_parameter",
                            "authentication", "recipient", "server_error", "transport", "unexpected"})
PACING_KINDS = frozenset({"recipient", "throughput", "pair_rate"})
STORE_BACKENDS = frozenset({"sqlite", "postgresql", "redis", "memory"})
STORE_OPERATIONS = frozenset({"retrieve", "save", "keys", "delete"})
CRYPTO_KINDS = frozenset({"key_derivation", "decrypt", "encrypt", "tampered"})
#: Statuses Meta reports for messages we sent (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object).
DELIVERY_STATUSES = frozenset({"sent", "delivered", "read", "failed", "deleted", "warning"})
#: What the channel did about a failed delivery status (docs/whatsapp-delivery.md, "Delivery statuses").
FAILED_DELIVERY_ACTIONS = frozenset({"recorded", "retried", "not_retryable", "unknown_message", "store_error"})
PROVIDER_OUTCOMES = frozenset({"ok", "empty", "error", "timeout", "rate_limited", "bad_response"})
LLM_OUTCOMES = frozenset({"ok", "error", "timeout", "rate_limited", "bad_response", "refused", "disabled"})
#: What became of one voice note (connectors/whatsapp/voice.py; docs/voice-notes.md).
VOICE_OUTCOMES = frozenset({
    "transcribed",      # handed to the dialogue as text
    "unsure",           # transcribed with low confidence: the user is asked to confirm
    "empty",            # nothing was heard
    "too_long",         # over STT_MAX_BYTES or STT_MAX_SECONDS (or Meta's audio limit)
    "not_fetched",      # the media download failed (expired, 4xx/5xx, timeout, wrong type)
    "not_transcribed",  # the transcription service failed
    "disabled",         # no transcription configured (STT_BASE_URL unset)
})
#: The timed steps of a voice note.
VOICE_STEPS = frozenset({"download", "transcription"})
READINESS_COMPONENTS = frozenset({"model", "privacy_key", "tracker_store", "dedup_store", "lock_store"})

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# ---------------------------------------------------------------- the webhook (Rasa process)

webhook_requests = Counter(
    "blaupause_webhook_requests", "Webhook requests by method, outcome and HTTP status.",
    ["method", "outcome", "status"], registry=REGISTRY,
)
webhook_duration = Histogram(
    "blaupause_webhook_duration_seconds",
    "Time from a webhook POST's arrival to its answer (Meta's partners ask: median < 0.25 s, < 1 % over 1 s).",
    ["kind"], buckets=_LATENCY, registry=REGISTRY,  # kind: messages | statuses | refused
)
inbound_messages = Counter(
    "blaupause_inbound_messages", "Inbound WhatsApp messages by type (before dedup).", ["type"], registry=REGISTRY,
)
turn_duration = Histogram(
    "blaupause_turn_duration_seconds",
    "One inbound message: from the webhook's arrival to the last reply accepted by the Graph API.",
    ["outcome"], buckets=_LATENCY, registry=REGISTRY,
)

# ---------------------------------------------------------------- the Graph API

graph_requests = Counter(
    "blaupause_graph_requests", "Graph API requests (each attempt) by endpoint, outcome and Meta error code.",
    ["endpoint", "outcome", "code"], registry=REGISTRY,
)
graph_request_duration = Histogram(
    "blaupause_graph_request_duration_seconds", "Duration of one Graph API attempt.", ["endpoint"],
    buckets=_LATENCY, registry=REGISTRY,
)
graph_retries = Counter(
    "blaupause_graph_retries", "Graph API attempts repeated after a retryable error, by outcome of the failed attempt.",
    ["outcome"], registry=REGISTRY,
)
pacing_waits = Counter(
    "blaupause_pacing_waits", "Sends that had to wait for pacing, by kind.", ["kind"], registry=REGISTRY,
)
pacing_wait_duration = Histogram(
    "blaupause_pacing_wait_seconds", "How long a send waited for pacing.", ["kind"], buckets=_LATENCY,
    registry=REGISTRY,
)

# ---------------------------------------------------------------- exactly-once delivery

dedup_duplicates = Counter(
    "blaupause_dedup_duplicates", "Redelivered messages recognised by the dedup store, by state found.",
    ["state"], registry=REGISTRY,  # state: done | in_progress | outbox
)
dedup_lease_expiries = Counter(
    "blaupause_dedup_lease_expiries", "Claims taken over after their lease expired (an instance died or stalled).",
    registry=REGISTRY,
)
outbox_resumes = Counter(
    "blaupause_outbox_resumes", "Redeliveries that resumed a sealed outbox instead of running the turn again.",
    registry=REGISTRY,
)

# ---------------------------------------------------------------- storage and crypto

store_operation_duration = Histogram(
    "blaupause_tracker_store_operation_seconds", "Encrypted tracker store operations by backend and operation.",
    ["backend", "operation"], buckets=_FAST, registry=REGISTRY,
)
store_errors = Counter(
    "blaupause_tracker_store_errors", "Tracker store operations that failed, by backend and operation.",
    ["backend", "operation"], registry=REGISTRY,
)
crypto_errors = Counter(
    "blaupause_crypto_errors", "Key derivation and sealing errors (a tampered ciphertext, a missing key).",
    ["kind"], registry=REGISTRY,
)

# ---------------------------------------------------------------- voice notes

voice_notes = Counter(
    "blaupause_voice_notes", "Inbound voice notes and audio files by what became of them.", ["outcome"],
    registry=REGISTRY,
)
voice_step_duration = Histogram(
    "blaupause_voice_step_seconds", "Duration of one step of a voice note (media download, transcription).",
    ["step"], buckets=_LATENCY, registry=REGISTRY,
)

# ---------------------------------------------------------------- delivery statuses

delivery_statuses = Counter(
    "blaupause_delivery_statuses", "Statuses Meta reported for messages we sent, by status and error code.",
    ["status", "code"], registry=REGISTRY,
)
failed_deliveries_handled = Counter(
    "blaupause_failed_deliveries_handled", "What the channel did about a failed delivery, by action and code.",
    ["action", "code"], registry=REGISTRY,
)

# ---------------------------------------------------------------- action server

job_provider_requests = Counter(
    "blaupause_job_provider_requests", "Job provider calls by provider and outcome.", ["provider", "outcome"],
    registry=REGISTRY,
)
job_provider_duration = Histogram(
    "blaupause_job_provider_request_seconds", "Duration of one job provider call.", ["provider"],
    buckets=_LATENCY, registry=REGISTRY,
)
llm_requests = Counter(
    "blaupause_llm_requests", "LLM fallback calls by outcome.", ["outcome"], registry=REGISTRY,
)
llm_duration = Histogram(
    "blaupause_llm_request_seconds", "Duration of one LLM call.", buckets=_LATENCY, registry=REGISTRY,
)

# ---------------------------------------------------------------- readiness

ready = Gauge("blaupause_ready", "1 when this instance is ready for traffic (docs/operations.md).", registry=REGISTRY)
readiness_check = Gauge(
    "blaupause_readiness_check", "1 when a readiness component answered at the last check, else 0.",
    ["component"], registry=REGISTRY,
)


# ---------------------------------------------------------------- series that exist from the start

#: Graph API (endpoint, outcome, code) series created at 0 when the channel starts: a counter series
#: that appears with its first increment never shows that increment in ``rate()``/``increase()``
#: (https://prometheus.io/docs/practices/instrumentation/#avoid-missing-metrics), so the first
#: errors of a kind would not alert. The codes are the ones docs/graph-client.md sorts into families.
KNOWN_GRAPH_SERIES = tuple(
    (endpoint, outcome, code)
    for endpoint in ("messages", "read_receipt", "typing")
    for outcome, code in (
        ("ok", "none"), ("throttled", "130429"), ("throttled", "80007"), ("pair_rate", "131056"),
        ("server_error", "131000"), ("server_error", "131016"), ("server_error", "none"), ("recipient", "131026"),
        ("reengagement", "131047"), ("authentication", "190"), ("invalid_parameter", "100"), ("transport", "none"),
    )
)
#: Delivery status series created at 0 (the codes Meta reports most for failed messages).
KNOWN_STATUS_SERIES = (
    ("sent", "none"), ("delivered", "none"), ("read", "none"),
    *(("failed", code) for code in ("131026", "131047", "131049", "131050", "131051", "131056", "130429",
                                    "131000", "131016", "none")),
)
_KNOWN_WEBHOOK_SERIES = (
    ("POST", "handled", "200"), ("POST", "duplicate", "200"), ("POST", "retry", "503"), ("POST", "busy", "503"),
    ("POST", "error", "500"), ("POST", "too_large", "413"), ("POST", "unsigned", "401"),
    ("POST", "bad_signature", "403"), ("POST", "bad_request", "400"), ("other", "bad_framing", "400"),
)


def initialise_channel_series() -> None:
    """Create the Rasa process's labelled series at 0 (the channel calls it once at start-up)."""
    for labels in _KNOWN_WEBHOOK_SERIES:
        webhook_requests.labels(*labels)
    for labels in KNOWN_GRAPH_SERIES:
        graph_requests.labels(*labels)
    for labels in KNOWN_STATUS_SERIES:
        delivery_statuses.labels(*labels)
    for outcome in VOICE_OUTCOMES:
        voice_notes.labels(outcome)
    # crypto_errors and readiness_check: their modules create every child at import
    # (privacy/store/metrics.py, connectors/whatsapp/readiness.py).


def initialise_action_series(provider: str | None = None) -> None:
    """Create the action server's labelled series at 0: the LLM outcomes, and the outcomes of the
    job ``provider`` when given (its wrapper calls this when it is built)."""
    if provider is not None:
        for outcome in PROVIDER_OUTCOMES:
            job_provider_requests.labels(provider, outcome)
    for outcome in LLM_OUTCOMES:
        llm_requests.labels(outcome)
