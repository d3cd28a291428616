"""Configuration of the WhatsApp channel: every ``WHATSAPP_*`` variable, validated once at start.

Why one module: a webhook that runs with an empty app secret accepts forged payloads, a wrong
phone number id only shows up when the first reply fails, and a negative pause makes no sense
anywhere. So :meth:`WhatsAppSettings.load` is the only place that reads the channel's
environment; each variable has one row in :data:`SETTINGS` with one rule, and the result is
one frozen :class:`WhatsAppSettings`. The Graph client, the pacer and the claim protocol are
built from it (:mod:`.adapter`, :mod:`.resources`); none of them reads the environment.
A missing or malformed value stops the server with a :class:`SettingsError` that names the
variable (never its value: most of them are secrets).

Where values come from (documented in ``docs/whatsapp-delivery.md``):

1. the channel's section in ``credentials.yml`` (keys below, e.g. ``app_secret``), which
   may itself reference the environment with ``${WHATSAPP_APP_SECRET}``;
2. otherwise the environment variable (``WHATSAPP_APP_SECRET``).

A non-empty value in ``credentials.yml`` wins over the environment, because a value
written into the deployment's own file is the more deliberate choice; an absent, ``null``
or empty key falls back to the environment. The tuning variables (claim lease, throughput,
send retries, timeout) are read from the environment only, as before.

Next to them, the operator port of the Rasa process (Prometheus ``GET /metrics``) is read by
:func:`observability.exposition.serve_metrics_from_env`, called from
:meth:`connectors.whatsapp.adapter.WhatsAppInput.from_credentials`, from the environment only:
``BLAUPAUSE_METRICS_PORT`` (unset or empty: no port), ``BLAUPAUSE_METRICS_HOST`` (default
``127.0.0.1``), ``BLAUPAUSE_METRICS_TOKEN`` (optional bearer token). A bad value stops the
server with a :class:`SettingsError` naming the variable, like the ``WHATSAPP_*`` ones.

This module imports nothing heavy (no pywa, httpx, aiohttp, Redis): the Graph client imports
its default host and version from here, not the other way round.

Meta's documentation for the values:
https://developers.facebook.com/docs/whatsapp/cloud-api/get-started
https://developers.facebook.com/docs/graph-api/webhooks/getting-started
https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

# The Graph API host and version: one source, next to GraphSettings (stdlib only, no HTTP stack).
from connectors.whatsapp.graph.config import DEFAULT_API_BASE_URL, DEFAULT_API_VERSION

__all__ = [
    "SettingsError",
    "WhatsAppSettings",
    "SETTINGS",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_API_VERSION",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_BUFFERING_REQUESTS",
    "DEFAULT_CLAIM_LEASE_SECONDS",
    "DEFAULT_MAX_MPS",
    "DEFAULT_API_TIMEOUT_SECONDS",
    "IDENTITY_ANCHORS",
    "DEFAULT_IDENTITY_ANCHOR",
]

# Meta documents webhook payloads of up to 3 MB; the margin covers JSON framing.
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024
#: How many POST bodies of the maximum size may be read (not yet authenticated) at once; the
#: buffering budget is this times max_body_bytes, each body reserving its declared length;
#: beyond it: 503. 16 bodies of the maximum size are about 50 MB; Meta's are mostly a few KB.
DEFAULT_MAX_BUFFERING_REQUESTS = 16
#: How long a crashed instance's claim blocks a redelivery: long enough that a slow but alive
#: turn (an LLM call) renews it in time (every third), short next to Meta's redelivery pauses.
DEFAULT_CLAIM_LEASE_SECONDS = 30.0
#: Meta's default throughput per business phone number (messages per second).
DEFAULT_MAX_MPS = 80.0
DEFAULT_API_TIMEOUT_SECONDS = 10.0

_API_VERSION = re.compile(r"^v\d{1,3}\.\d{1,3}$")
_PHONE_NUMBER_ID = re.compile(r"^\d{1,32}$")
_DEDUP_SCHEMES = ("redis", "rediss", "unix")

#: Values of ``WHATSAPP_IDENTITY_ANCHOR`` (see :attr:`WhatsAppSettings.identity_anchor`).
IDENTITY_ANCHORS = ("user_id", "parent_user_id")
DEFAULT_IDENTITY_ANCHOR = "user_id"


class SettingsError(ValueError):
    """A setting is missing or malformed; the server must not start.

    ``setting`` is the environment variable's name (the credentials.yml key is named in
    the message too). The message never contains the offending value.
    """

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}")


class _Refused(Exception):
    """A rule refuses a value; the reason never quotes it."""


@dataclass(frozen=True)
class WhatsAppSettings:
    """Validated channel settings. Secrets are left out of ``repr`` so a logged object leaks nothing.

    ``identity_anchor`` (``WHATSAPP_IDENTITY_ANCHOR``) chooses which identifier a user's
    pseudonym and data key are derived from (issue 9; facts in docs/privacy.md, "Identity"):

    * ``user_id`` (default): the business-scoped user id (BSUID) of this business portfolio,
      else the phone number for payloads without one. A BSUID is unique per portfolio, so a
      person's conversations with two linked portfolios stay two separate conversations, and
      an attacker holding another portfolio's database cannot match its pseudonyms to ours.
    * ``parent_user_id``: the portfolio-wide parent BSUID when the webhook carries one (linked
      portfolios with parent BSUIDs enabled), else as above. All linked businesses that share
      this server secret then derive the same pseudonym and key for a person, so one
      conversation follows the person across them; the price is exactly that linkability, and
      that a person's data is no longer separated per business. Only choose it when the
      linked businesses are one controller under the GDPR.

    Either way replies are addressed to the phone number when this webhook carried one, else
    to the per-business BSUID (the parent BSUID only when nothing else is there). Changing the
    setting later is safe: the identifier that was the anchor becomes an alias, and a
    conversation stored under an alias is moved to the new anchor on the person's next message.

    The tuning fields below ``identity_anchor`` feed the claim protocol (docs/whatsapp-delivery.md),
    the pacer (:mod:`.graph.pacing`) and the Graph client's retries and timeout (:mod:`.graph.retry`, :mod:`.graph.client`).
    """

    verify_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    phone_number_id: str
    api_base_url: str = DEFAULT_API_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_buffering_requests: int = DEFAULT_MAX_BUFFERING_REQUESTS
    dedup_url: str = field(default="", repr=False)
    identity_anchor: str = DEFAULT_IDENTITY_ANCHOR
    claim_lease_seconds: float = DEFAULT_CLAIM_LEASE_SECONDS
    max_mps: float = DEFAULT_MAX_MPS
    recipient_min_gap_seconds: float = 0.0
    api_timeout_seconds: float = DEFAULT_API_TIMEOUT_SECONDS
    send_max_attempts: int = 5
    send_backoff_base_seconds: float = 0.5
    send_backoff_max_seconds: float = 8.0

    def __post_init__(self) -> None:
        if self.identity_anchor not in IDENTITY_ANCHORS:
            raise SettingsError("WHATSAPP_IDENTITY_ANCHOR", f"must be one of {', '.join(IDENTITY_ANCHORS)}")

    @property
    def use_parent_user_id(self) -> bool:
        """True when the parent BSUID (if present) is the identity anchor."""
        return self.identity_anchor == "parent_user_id"

    @classmethod
    def load(cls, credentials: Mapping[str, Any] | None, environ: Mapping[str, str]) -> "WhatsAppSettings":
        """Build settings from credentials.yml values (preferred) and the environment.

        Raises :class:`SettingsError` naming the first missing or malformed setting. An unset
        optional variable keeps the field's default; a set one must pass its rule.
        """
        credentials = credentials or {}
        if not isinstance(credentials, Mapping):
            raise SettingsError("credentials.yml", "the whatsapp channel section must be a mapping of keys")
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            text = _pick(spec, credentials, environ)
            if not text:
                continue
            try:
                values[spec.field] = spec.rule(text)
            except _Refused as refused:
                raise SettingsError(spec.env, str(refused)) from None
        return cls(**values)


@dataclass(frozen=True)
class _Spec:
    """One variable: its name, the settings field, its one rule, its credentials.yml key if any."""

    env: str
    field: str
    rule: Callable[[str], Any]
    key: str | None = None
    required: bool = False


def _pick(spec: _Spec, credentials: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    value = credentials.get(spec.key) if spec.key else None
    if value is not None and not isinstance(value, (str, int)):
        raise SettingsError(spec.env, f"credentials.yml key {spec.key!r} must be a string")
    text = "" if value is None else str(value).strip()
    if not text:
        text = environ.get(spec.env, "").strip()
    if not text and spec.required:
        raise SettingsError(
            spec.env, f"is not set (set the environment variable or the key {spec.key!r} in credentials.yml)"
        )
    return text


# ----------------------------------------------------------------------------- rules


def _token(value: str) -> str:
    if any(ch.isspace() for ch in value):
        raise _Refused("must not contain whitespace")
    if not value.isprintable():
        raise _Refused("must contain printable characters only")
    return value


def _phone_number_id(value: str) -> str:
    if not _PHONE_NUMBER_ID.match(value):
        raise _Refused("must be the numeric phone number id from the Meta app dashboard (not the phone number)")
    return value


def _base_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise _Refused("must be an http(s) URL such as https://graph.facebook.com")
    if parsed.query or parsed.fragment:
        raise _Refused("must not carry a query or fragment")
    return value.rstrip("/")


def _api_version(value: str) -> str:
    if not _API_VERSION.match(value):
        raise _Refused("must look like v23.0")
    return value


def _dedup_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in _DEDUP_SCHEMES:
        raise _Refused("must be empty (in-process store) or a redis://, rediss:// or unix:// URL")
    if parsed.scheme != "unix" and not parsed.hostname:
        raise _Refused("must name the Redis host")
    return value


def _identity_anchor(value: str) -> str:
    if value not in IDENTITY_ANCHORS:
        raise _Refused(f"must be one of {', '.join(IDENTITY_ANCHORS)} (key 'identity_anchor' in credentials.yml)")
    return value


def _whole(minimum: int, unit: str = "") -> Callable[[str], int]:
    """A whole number of at least ``minimum`` (never negative)."""

    def rule(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise _Refused(f"must be a whole number{' of ' + unit if unit else ''}") from None
        if number < minimum:
            raise _Refused(f"must be at least {minimum}{' ' + unit if unit else ''}")
        return number

    return rule


def _seconds(minimum: float = 0.0, *, zero_means: float | None = None) -> Callable[[str], float]:
    """A finite, non-negative number (of seconds, or per second) of at least ``minimum``.

    ``zero_means``: for a rate or timeout where 0 cannot work, 0 stands for the default.
    """

    def rule(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise _Refused("must be a number") from None
        if not math.isfinite(number):
            raise _Refused("must be a finite number")
        if number < 0:
            raise _Refused("must not be negative")
        if number == 0 and zero_means is not None:
            return zero_means
        if number < minimum:
            raise _Refused(f"must be at least {minimum:g} second{'' if minimum == 1 else 's'}")
        return number

    return rule


#: Every variable the channel reads, in the order they are checked.
SETTINGS: tuple[_Spec, ...] = (
    _Spec("WHATSAPP_VERIFY_TOKEN", "verify_token", _token, "verify_token", required=True),
    _Spec("WHATSAPP_APP_SECRET", "app_secret", _token, "app_secret", required=True),
    _Spec("WHATSAPP_ACCESS_TOKEN", "access_token", _token, "access_token", required=True),
    _Spec("WHATSAPP_PHONE_NUMBER_ID", "phone_number_id", _phone_number_id, "phone_number_id", required=True),
    _Spec("WHATSAPP_API_BASE_URL", "api_base_url", _base_url, "api_base_url"),
    _Spec("WHATSAPP_API_VERSION", "api_version", _api_version, "api_version"),
    _Spec("WHATSAPP_MAX_BODY_BYTES", "max_body_bytes", _whole(1024, "bytes"), "max_body_bytes"),
    _Spec("WHATSAPP_MAX_BUFFERING_REQUESTS", "max_buffering_requests", _whole(1), "max_buffering_requests"),
    _Spec("WHATSAPP_DEDUP_URL", "dedup_url", _dedup_url, "dedup_url"),
    _Spec("WHATSAPP_IDENTITY_ANCHOR", "identity_anchor", _identity_anchor, "identity_anchor"),
    _Spec("WHATSAPP_CLAIM_LEASE_S", "claim_lease_seconds", _seconds(1.0)),
    _Spec("WHATSAPP_MAX_MPS", "max_mps", _seconds(zero_means=DEFAULT_MAX_MPS)),
    _Spec("WHATSAPP_RECIPIENT_MIN_GAP_S", "recipient_min_gap_seconds", _seconds()),
    _Spec("WHATSAPP_API_TIMEOUT_S", "api_timeout_seconds", _seconds(zero_means=DEFAULT_API_TIMEOUT_SECONDS)),
    _Spec("WHATSAPP_SEND_MAX_ATTEMPTS", "send_max_attempts", _whole(1)),
    _Spec("WHATSAPP_SEND_BACKOFF_BASE_S", "send_backoff_base_seconds", _seconds()),
    _Spec("WHATSAPP_SEND_BACKOFF_MAX_S", "send_backoff_max_seconds", _seconds()),
)
