"""Configuration of the WhatsApp channel, validated once at start.

Why validate at start: a webhook that runs with an empty app secret accepts forged
payloads, and a wrong phone number id only shows up when the first reply fails. So
``from_credentials`` builds :class:`WhatsAppSettings` and a missing or malformed value
stops the server with a :class:`SettingsError` that names the setting (never its value:
most of them are secrets).

Where values come from (documented in ``docs/whatsapp-delivery.md``):

1. the channel's section in ``credentials.yml`` (keys below, e.g. ``app_secret``), which
   may itself reference the environment with ``${WHATSAPP_APP_SECRET}``;
2. otherwise the environment variable (``WHATSAPP_APP_SECRET``).

A non-empty value in ``credentials.yml`` wins over the environment, because a value
written into the deployment's own file is the more deliberate choice; an absent, ``null``
or empty key falls back to the environment.

Meta's documentation for the values:
https://developers.facebook.com/docs/whatsapp/cloud-api/get-started
https://developers.facebook.com/docs/graph-api/webhooks/getting-started
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

# One source of truth for the Graph API host and version: the client that uses them.
from connectors.whatsapp.graph.config import DEFAULT_API_BASE_URL, DEFAULT_API_VERSION

__all__ = [
    "SettingsError",
    "WhatsAppSettings",
    "SETTINGS",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_API_VERSION",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_BUFFERING_REQUESTS",
    "IDENTITY_ANCHORS",
    "DEFAULT_IDENTITY_ANCHOR",
]

# Meta documents webhook payloads of up to 3 MB; the margin covers JSON framing.
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024
#: How many POST bodies may be read (not yet authenticated) at once; beyond it: 503.
#: 16 bodies of the maximum size are about 50 MB; Meta's bodies are mostly a few KB.
DEFAULT_MAX_BUFFERING_REQUESTS = 16

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


@dataclass(frozen=True)
class _Spec:
    env: str
    key: str
    required: bool
    default: str = ""


# (environment variable, credentials.yml key)
SETTINGS: tuple[_Spec, ...] = (
    _Spec("WHATSAPP_VERIFY_TOKEN", "verify_token", True),
    _Spec("WHATSAPP_APP_SECRET", "app_secret", True),
    _Spec("WHATSAPP_ACCESS_TOKEN", "access_token", True),
    _Spec("WHATSAPP_PHONE_NUMBER_ID", "phone_number_id", True),
    _Spec("WHATSAPP_API_BASE_URL", "api_base_url", False, DEFAULT_API_BASE_URL),
    _Spec("WHATSAPP_API_VERSION", "api_version", False, DEFAULT_API_VERSION),
    _Spec("WHATSAPP_MAX_BODY_BYTES", "max_body_bytes", False, str(DEFAULT_MAX_BODY_BYTES)),
    _Spec("WHATSAPP_MAX_BUFFERING_REQUESTS", "max_buffering_requests", False, str(DEFAULT_MAX_BUFFERING_REQUESTS)),
    _Spec("WHATSAPP_DEDUP_URL", "dedup_url", False, ""),
    _Spec("WHATSAPP_IDENTITY_ANCHOR", "identity_anchor", False, DEFAULT_IDENTITY_ANCHOR),
)


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

    def __post_init__(self) -> None:
        if self.identity_anchor not in IDENTITY_ANCHORS:
            raise SettingsError("WHATSAPP_IDENTITY_ANCHOR", f"must be one of {', '.join(IDENTITY_ANCHORS)}")

    @property
    def use_parent_user_id(self) -> bool:
        """True when the parent BSUID (if present) is the identity anchor."""
        return self.identity_anchor == "parent_user_id"

    @classmethod
    def load(
        cls,
        credentials: Mapping[str, Any] | None,
        environ: Mapping[str, str],
    ) -> "WhatsAppSettings":
        """Build settings from credentials.yml values (preferred) and the environment.

        Raises :class:`SettingsError` naming the first missing or malformed setting.
        """
        credentials = credentials or {}
        if not isinstance(credentials, Mapping):
            raise SettingsError("credentials.yml", "the whatsapp channel section must be a mapping of keys")
        raw = {spec.key: _pick(spec, credentials, environ) for spec in SETTINGS}
        return cls(
            verify_token=_token(raw["verify_token"], "WHATSAPP_VERIFY_TOKEN"),
            app_secret=_token(raw["app_secret"], "WHATSAPP_APP_SECRET"),
            access_token=_token(raw["access_token"], "WHATSAPP_ACCESS_TOKEN"),
            phone_number_id=_phone_number_id(raw["phone_number_id"]),
            api_base_url=_base_url(raw["api_base_url"]),
            api_version=_api_version(raw["api_version"]),
            max_body_bytes=_max_body_bytes(raw["max_body_bytes"]),
            max_buffering_requests=_max_buffering(raw["max_buffering_requests"]),
            dedup_url=_dedup_url(raw["dedup_url"]),
            identity_anchor=_identity_anchor(raw["identity_anchor"]),
        )


def _pick(spec: _Spec, credentials: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    value = credentials.get(spec.key)
    if value is not None and not isinstance(value, (str, int)):
        raise SettingsError(spec.env, f"credentials.yml key {spec.key!r} must be a string")
    text = "" if value is None else str(value).strip()
    if not text:
        text = environ.get(spec.env, "").strip()
    if not text:
        if spec.required:
            raise SettingsError(
                spec.env,
                f"is not set (set the environment variable or the key {spec.key!r} in credentials.yml)",
            )
        text = spec.default
    return text


def _token(value: str, setting: str) -> str:
    if any(ch.isspace() for ch in value):
        raise SettingsError(setting, "must not contain whitespace")
    if not value.isprintable():
        raise SettingsError(setting, "must contain printable characters only")
    return value


def _phone_number_id(value: str) -> str:
    if not _PHONE_NUMBER_ID.match(value):
        raise SettingsError(
            "WHATSAPP_PHONE_NUMBER_ID",
            "must be the numeric phone number id from the Meta app dashboard (not the phone number)",
        )
    return value


def _base_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError("WHATSAPP_API_BASE_URL", "must be an http(s) URL such as https://graph.facebook.com")
    if parsed.query or parsed.fragment:
        raise SettingsError("WHATSAPP_API_BASE_URL", "must not carry a query or fragment")
    return value.rstrip("/")


def _api_version(value: str) -> str:
    if not _API_VERSION.match(value):
        raise SettingsError("WHATSAPP_API_VERSION", "must look like v23.0")
    return value


def _max_body_bytes(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError("WHATSAPP_MAX_BODY_BYTES", "must be a whole number of bytes") from None
    if number < 1024:
        raise SettingsError("WHATSAPP_MAX_BODY_BYTES", "must be at least 1024 bytes")
    return number


def _max_buffering(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError("WHATSAPP_MAX_BUFFERING_REQUESTS", "must be a whole number") from None
    if number < 1:
        raise SettingsError("WHATSAPP_MAX_BUFFERING_REQUESTS", "must be at least 1")
    return number


def _dedup_url(value: str) -> str:
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in _DEDUP_SCHEMES:
        raise SettingsError(
            "WHATSAPP_DEDUP_URL",
            "must be empty (in-process store) or a redis://, rediss:// or unix:// URL",
        )
    if parsed.scheme != "unix" and not parsed.hostname:
        raise SettingsError("WHATSAPP_DEDUP_URL", "must name the Redis host")
    return value


def _identity_anchor(value: str) -> str:
    if value not in IDENTITY_ANCHORS:
        raise SettingsError(
            "WHATSAPP_IDENTITY_ANCHOR",
            f"must be one of {', '.join(IDENTITY_ANCHORS)} (key 'identity_anchor' in credentials.yml)",
        )
    return value
