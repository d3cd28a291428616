"""Privacy by construction: pseudonyms, per-user keys, sealing and log redaction.

The public API is described in docs/architecture.md (section "Privacy seams"); import from
here or from the submodules named there. Nothing in this package reads a secret from
anywhere but the environment (or, with ``BLAUPAUSE_ENV=local``, a development key
file), and nothing in it logs a phone number, a profile name, message text or a key.
"""
from __future__ import annotations

from privacy.context import RetiredIdentity, UserKeys, current_user_keys, keys_for_user, user_context
from privacy.dev_key import ensure_dev_key, keyring_for_runtime
from privacy.errors import (
    DecryptionError,
    DuplicateSecretError,
    InsecureKeyFileError,
    InvalidIdentifierError,
    MalformedSecretError,
    MissingSecretError,
    NoKeyInContextError,
    PrivacyConfigError,
    PrivacyError,
    UnknownKeyVersionError,
)
from privacy.identity import data_key, is_bsuid, normalize_wa_id, pseudonym
from privacy.keyring import Keyring, Secret
from privacy.log_redaction import (
    RedactingFilter,
    install_redaction,
    redact,
    register_sensitive,
    sensitive_scope,
    sensitive_values,
    uninstall_redaction,
)
from privacy.sealing import seal, seal_json, unseal, unseal_json

__all__ = [
    # errors
    "PrivacyError",
    "PrivacyConfigError",
    "MissingSecretError",
    "MalformedSecretError",
    "DuplicateSecretError",
    "InsecureKeyFileError",
    "DecryptionError",
    "UnknownKeyVersionError",
    "NoKeyInContextError",
    "InvalidIdentifierError",
    # keys
    "Secret",
    "Keyring",
    "ensure_dev_key",
    "keyring_for_runtime",
    # identity
    "normalize_wa_id",
    "is_bsuid",
    "pseudonym",
    "data_key",
    # sealing
    "seal",
    "unseal",
    "seal_json",
    "unseal_json",
    # per-request context
    "RetiredIdentity",
    "UserKeys",
    "keys_for_user",
    "user_context",
    "current_user_keys",
    # logs
    "RedactingFilter",
    "redact",
    "register_sensitive",
    "sensitive_scope",
    "sensitive_values",
    "install_redaction",
    "uninstall_redaction",
]
