"""Where the encrypted store keeps its data, for how long, and where its erasure journal lives.

Why one place: the bot (endpoints.yml, Rasa 3.6 calls a custom store as
``cls(host=<url>, domain=..., event_broker=..., **other_keys)``) and the maintenance CLI
(``python -m privacy.maintenance``) must read the same settings, so the bot and the purge
job can never disagree::

    tracker_store:
      type: privacy.store.encrypted.EncryptedTrackerStore
      url: "sqlite:///var/trackers.db"     # or postgresql://..., redis://...
      retention_days: 30                   # optional
      table: encrypted_trackers            # optional, SQL table / Redis namespace
      key_prefix: "blaupause:"             # optional, Redis only
      erasure_journal: var/erasures.journal  # optional; PRIVACY_ERASURE_JOURNAL wins

The environment wins over the file: ``TRACKER_STORE_URL`` and
``PRIVACY_RETENTION_DAYS``, when set, replace ``url`` and ``retention_days``. A
deployment then keeps the committed development default (SQLite) in endpoints.yml
and sets the production database in the environment.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

from privacy.errors import PrivacyConfigError

__all__ = [
    "TRACKER_STORE_URL_ENV",
    "RETENTION_DAYS_ENV",
    "DEFAULT_RETENTION_DAYS",
    "ERASURE_JOURNAL_ENV",
    "DEFAULT_ERASURE_JOURNAL",
    "resolve_url",
    "resolve_retention_days",
    "resolve_journal_path",
]

TRACKER_STORE_URL_ENV = "TRACKER_STORE_URL"
RETENTION_DAYS_ENV = "PRIVACY_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
ERASURE_JOURNAL_ENV = "PRIVACY_ERASURE_JOURNAL"
DEFAULT_ERASURE_JOURNAL = "var/erasures.journal"

def resolve_url(
    configured: Optional[str] = None, environ: Optional[Mapping[str, str]] = None
) -> str:
    """The tracker store URL: ``TRACKER_STORE_URL`` if set, else ``configured``.

    Raises :class:`~privacy.errors.PrivacyConfigError` when neither is given.
    """
    env = os.environ if environ is None else environ
    from_env = env.get(TRACKER_STORE_URL_ENV, "").strip()
    if from_env:
        return from_env
    if configured:
        return configured
    raise PrivacyConfigError(
        f"no tracker store URL: set `url` under tracker_store in endpoints.yml or {TRACKER_STORE_URL_ENV}"
    )


def resolve_retention_days(
    configured: Any = None, environ: Optional[Mapping[str, str]] = None
) -> int:
    """Retention in days: ``PRIVACY_RETENTION_DAYS`` if set, else ``configured``, else 30."""
    env = os.environ if environ is None else environ
    raw: Any = env.get(RETENTION_DAYS_ENV, "").strip() or configured
    source = RETENTION_DAYS_ENV if env.get(RETENTION_DAYS_ENV, "").strip() else "retention_days"
    if raw is None or raw == "":
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except (TypeError, ValueError) as error:
        raise PrivacyConfigError(f"{source} must be a whole number of days") from error
    if isinstance(raw, float) and raw != days or days < 1:
        raise PrivacyConfigError(f"{source} must be a whole number of days, at least 1")
    return days


def resolve_journal_path(configured: Any = None, environ: Optional[Mapping[str, str]] = None) -> Path:
    """The erasure journal: ``PRIVACY_ERASURE_JOURNAL`` if set, else ``configured``, else ``var/erasures.journal``.

    Relative paths are relative to the working directory (like ``sqlite:///var/...``).
    """
    env = os.environ if environ is None else environ
    raw = env.get(ERASURE_JOURNAL_ENV, "").strip() or (str(configured) if configured else DEFAULT_ERASURE_JOURNAL)
    return Path(raw).expanduser().absolute()
