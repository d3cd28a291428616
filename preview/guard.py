"""The preview runs only locally: on loopback, against the Graph API stand-in, never with Meta.

Why: the page shows every message text, the raw Graph payloads and the decrypted conversation
of the people it plays, and it sends webhooks that a real deployment would take for real users.
So it refuses to start (issue 15, item 3) unless

- it binds to a loopback address (127.0.0.1, ::1 or localhost; anything else could be reached
  from the network);
- ``BLAUPAUSE_ENV`` is ``local`` (privacy/dev_key.py: anything else means production);
- ``WHATSAPP_API_BASE_URL`` is set and points at loopback (unset means Meta's
  https://graph.facebook.com, connectors/whatsapp/graph/config.py): the assistant then answers
  the preview's stand-in, not real phones;
- the webhook it posts to is on loopback, and the access token is not one of Meta's (they start
  with ``EAA``).

Each refusal is a :class:`PreviewRefused` whose message names the setting, never its value.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["PreviewRefused", "is_loopback_host", "is_loopback_url", "check_host", "check_environment"]

_API_BASE_URL = "WHATSAPP_API_BASE_URL"
_ENV = "BLAUPAUSE_ENV"


class PreviewRefused(Exception):
    """The preview must not start with this configuration (the message says which setting)."""


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str | None) -> bool:
    """True for an http(s) URL whose host is loopback."""
    if not url or not url.strip():
        return False
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname)


def check_host(host: str) -> None:
    """Refuse a bind address that is not loopback."""
    if not is_loopback_host(host):
        raise PreviewRefused("the preview binds to loopback only (--host 127.0.0.1, ::1 or localhost)")


def check_environment(
    environ: Mapping[str, str], *, webhook_url: str, access_token: str | None = None
) -> None:
    """Refuse anything but a local run against the Graph API stand-in (see the module docstring)."""
    if environ.get(_ENV, "").strip().lower() != "local":
        raise PreviewRefused(f"the preview is for local use only: set {_ENV}=local (scripts/run.sh does)")
    base_url = environ.get(_API_BASE_URL, "")
    if not base_url.strip():
        raise PreviewRefused(
            f"{_API_BASE_URL} is unset, which means Meta's Graph API: point it at the local stand-in "
            "(e.g. http://127.0.0.1:8765) so that no real phone gets the assistant's replies"
        )
    if not is_loopback_url(base_url):
        raise PreviewRefused(
            f"{_API_BASE_URL} is not a loopback URL (real Meta credentials?): the preview only runs "
            "against the local Graph API stand-in"
        )
    if not is_loopback_url(webhook_url):
        raise PreviewRefused("the webhook URL must be on loopback: the preview never posts to a deployment")
    if access_token and access_token.strip().startswith("EAA"):
        raise PreviewRefused(
            "the access token looks like a real Meta token (EAA…): the preview runs with a local one only"
        )
