"""Development keys for Rasa's own tools (``rasa shell``, ``rasa interactive``) in local use only.

Why: the encrypted tracker store (:mod:`privacy.store.encrypted`) gets a user's keys
only from the context the WhatsApp channel binds (:func:`privacy.context.user_context`),
derived from the WhatsApp identifiers. Rasa's own designer tools talk to the assistant
through other channels (``rasa shell``: the ``cmdline`` channel with a uuid or a
``--conversation-id``; ``rasa interactive``: Rasa's HTTP API with its own ids), so
there is no context, the store fails closed, and Rasa's ``FailSafeTrackerStore`` logs
three ERROR lines per turn and keeps the conversation in memory. In local use the store
may instead derive a *development* key from the sender id itself, so these tools store
and read their conversations encrypted like every other one (issue 15, item 6).

Rules (each one fails closed; tests in tests/unit/privacy/test_dev_context.py):

* Only with ``BLAUPAUSE_ENV=local`` (:func:`privacy.dev_key.is_local`); in production
  :meth:`DevelopmentKeys.for_runtime` returns ``None`` and nothing changes.
* Refused (:class:`DevContextRefusedError`) when ``WHATSAPP_API_BASE_URL`` points at
  Meta (unset means Meta), the same rule as the development key file
  (:mod:`privacy.dev_key`): a process that may receive real users' messages never
  hands out keys derived from a sender id.
* Only for a sender without any user context: a request that has one (the WhatsApp
  channel) keeps failing closed for any other pseudonym (the store checks this).
* Never for a WhatsApp pseudonym (``u_...``, :data:`privacy.identity.PSEUDONYM_PREFIX`,
  in any case) and never for a sender id shaped like a WhatsApp identifier (a phone
  number or a BSUID, which the store would then keep in clear as a record key):
  :class:`DevSenderRefusedError`, a :class:`~privacy.errors.NoKeyInContextError`.
  A real user's keys come only from their WhatsApp identifiers. Sender ids are 1-128
  printable ASCII characters without spaces (Rasa's uuids, ``default``, ``anna-test``).

Derivation (RFC 2104 HMAC-SHA256, RFC 5869 HKDF-SHA256; compare :mod:`privacy.identity`)::

    dev_key = HKDF(ikm=HMAC(secret, b"blaupause/dev-sender-key\\x00" + ascii(sender_id)),
                   salt=None, info=b"blaupause/dev-sender-key/v1", length=32)

The label and info differ from the real data key's (``blaupause/data-key``, with a
``tel:``/``bsuid:`` namespace), so a development key is an independent PRF output and
can never equal a real user's key. The secret is the keyring's current one
(:func:`privacy.dev_key.keyring_for_runtime`: ``PRIVACY_KEY`` or ``var/privacy.key``).
The pseudonym is the sender id itself (the store addresses conversations by it); no
retired secrets are used, so after a key rotation the development conversations
start afresh.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Optional
from urllib.parse import urlsplit

from privacy.context import UserKeys
from privacy.dev_key import API_BASE_URL_ENV, BLAUPAUSE_ENV, META_API_BASE_URL, is_local, is_meta_api, keyring_for_runtime
from privacy.errors import InvalidIdentifierError, NoKeyInContextError, PrivacyConfigError
from privacy.identity import BSUID_SHAPE, PSEUDONYM_PREFIX, is_bsuid, normalize_wa_id
from privacy.keyring import Keyring, Secret, derive_key

__all__ = [
    "DEV_KEY_LABEL",
    "DEV_KEY_INFO",
    "DevContextRefusedError",
    "DevSenderRefusedError",
    "DevelopmentKeys",
    "development_key",
    "check_development_sender",
]

logger = logging.getLogger(__name__)

DEV_KEY_LABEL = b"blaupause/dev-sender-key\x00"
DEV_KEY_INFO = b"blaupause/dev-sender-key/v1"
_SENDER_SHAPE = re.compile(r"[\x21-\x7e]{1,128}")


class DevContextRefusedError(PrivacyConfigError):
    """Development keys were asked for while ``WHATSAPP_API_BASE_URL`` points at Meta."""

    def __init__(self, api_base_url_host: str) -> None:
        self.variable = API_BASE_URL_ENV
        super().__init__(
            f"refusing development keys for Rasa's own tools ({BLAUPAUSE_ENV}=local) because "
            f"{API_BASE_URL_ENV} points at Meta ({api_base_url_host}); point it at a loopback "
            "stand-in for local use (make shell does)"
        )


class DevSenderRefusedError(NoKeyInContextError):
    """This sender id never gets a development key (a pseudonym, a WhatsApp identifier, a bad shape)."""


def check_development_sender(sender_id: str) -> str:
    """Return ``sender_id`` if it may get a development key; raise :class:`DevSenderRefusedError` otherwise.

    The error names the reason, never a phone number: a sender id shaped like one is
    replaced by a placeholder in the message.
    """
    if not isinstance(sender_id, str) or not _SENDER_SHAPE.fullmatch(sender_id):
        raise DevSenderRefusedError("<sender>", "development sender ids are 1-128 printable ASCII characters")
    if sender_id.lower().startswith(PSEUDONYM_PREFIX):
        raise DevSenderRefusedError(sender_id, "a WhatsApp pseudonym gets its keys only from the WhatsApp channel")
    if BSUID_SHAPE.fullmatch(sender_id):
        raise DevSenderRefusedError("<sender>", "a sender id shaped like a business-scoped user id")
    try:
        looks_like_number = not is_bsuid(sender_id) and bool(normalize_wa_id(sender_id))
    except InvalidIdentifierError:
        looks_like_number = False
    if looks_like_number:
        raise DevSenderRefusedError("<sender>", "a sender id shaped like a phone number")
    return sender_id


def development_key(secret: Secret, sender_id: str) -> bytes:
    """The 256-bit development key of ``sender_id`` under ``secret`` (see the module docstring)."""
    check_development_sender(sender_id)
    ikm = hmac.new(secret.value, DEV_KEY_LABEL + sender_id.encode("ascii"), hashlib.sha256).digest()
    return derive_key(ikm, DEV_KEY_INFO)


class DevelopmentKeys:
    """Hands out development :class:`~privacy.context.UserKeys` for senders of Rasa's own tools.

    Build it with :meth:`for_runtime` (which decides whether it may exist at all); the
    keyring is loaded on first use, once.
    """

    def __init__(self, keyring: Keyring | Callable[[], Keyring]) -> None:
        self._keyring: Optional[Keyring] = keyring if isinstance(keyring, Keyring) else None
        self._load = None if isinstance(keyring, Keyring) else keyring

    @classmethod
    def for_runtime(cls, environ: Mapping[str, str] | None = None) -> Optional[DevelopmentKeys]:
        """``None`` in production; raises :class:`DevContextRefusedError` locally against Meta.

        ``environ`` defaults to ``os.environ``; the keyring comes from
        :func:`privacy.dev_key.keyring_for_runtime` with the same environment.
        """
        env = os.environ if environ is None else environ
        if not is_local(env):
            return None
        base_url = env.get(API_BASE_URL_ENV)
        if is_meta_api(base_url):
            raise DevContextRefusedError(urlsplit((base_url or "").strip() or META_API_BASE_URL).hostname or "?")
        snapshot = dict(env)
        return cls(lambda: keyring_for_runtime(snapshot, api_base_url=base_url))

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            assert self._load is not None
            self._keyring = self._load()
        return self._keyring

    def keys_for(self, sender_id: str) -> UserKeys:
        """The development keys of ``sender_id`` (pseudonym = the sender id, current secret only)."""
        check_development_sender(sender_id)
        current = self.keyring.current
        return UserKeys(pseudonym=sender_id, version=current.version, key=development_key(current, sender_id))
