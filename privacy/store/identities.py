"""The pseudonyms under which one person's records may be sealed, and the settled-alias tags.

One person, one conversation (issue 9): the ``sender_id`` is the pseudonym of the
user's *anchor* (the BSUID when the webhook carries one, else the phone number; see
:class:`privacy.identity.UserIdentifiers`); the other identifiers of the request are
*aliases* (:attr:`privacy.context.UserKeys.aliases`). Key rotation adds the same
identifiers under every retired secret.

"Settled" is sealed in the anchor's live document: ``aliases_settled`` lists, per
alias, a tag keyed with the anchor's data key (an alias pseudonym is never stored in
it, and nobody without the key can tell which aliases it names). A request whose
aliases are all settled never looks anything up under an alias pseudonym again; an
alias the record does not name yet (a number shared again after months) is looked up
once and then settled (:mod:`privacy.store.saving`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from privacy.context import UserKeys

__all__ = ["SETTLED_MEMO", "MAX_SETTLED_TAGS"]

#: Memo name (:mod:`privacy.memo`) of the settled tags read or written in this request.
SETTLED_MEMO = "privacy.store.aliases_settled"
_SETTLED_TAG_LABEL = b"blaupause/alias-settled\x00"
MAX_SETTLED_TAGS = 16


@dataclass(frozen=True, slots=True)
class _Identity:
    """One (pseudonym, key version, key) under which a user's records may be sealed.

    Once resolved (:meth:`privacy.store.conversation_keys.ConversationKeys._resolve`) it also carries the
    unwrapped conversation key (``None``: no key record, legacy records only), the
    time of the pseudonym's last erasure (tombstone) and whether the key was created
    by this resolve.
    """

    pseudonym: str
    version: str
    key: bytes
    conversation_key: Optional[bytes] = None
    erased_at: Optional[datetime] = None
    resolved: bool = False
    fresh: bool = False

    def __repr__(self) -> str:
        return f"_Identity(pseudonym={self.pseudonym!r}, version={self.version!r})"


def _identities(keys: UserKeys) -> list[_Identity]:
    """The anchor's identities: current first, then the retired ones in keyring order."""
    return [_Identity(keys.pseudonym, keys.version, keys.key)] + [
        _Identity(retired.pseudonym, retired.version, retired.key) for retired in keys.retired
    ]


def _all_identities(keys: UserKeys) -> list[_Identity]:
    """Every identity of the person: the anchor's (current, retired), then every alias's."""
    return [_Identity(i.pseudonym, i.version, i.key) for i in keys.all_identities()]


@dataclass(frozen=True, slots=True)
class _AliasGroup:
    """One alias identifier: its identities under every secret and its settled tag."""

    tag: str
    identities: tuple[_Identity, ...]


def _alias_groups(keys: UserKeys) -> list[_AliasGroup]:
    """The aliases of ``keys``, one group per identifier (``UserKeys.aliases`` is flat).

    ``keys_for_user`` lays aliases out identifier by identifier, current secret first,
    then one per retired secret, so each group has ``1 + len(keys.retired)`` entries.
    The tag is a keyed digest (anchor's current data key) of the alias's current
    pseudonym: it can only be computed, or recognised, by whoever holds the anchor's key.
    """
    size = 1 + len(keys.retired)
    flat = [_Identity(i.pseudonym, i.version, i.key) for i in keys.aliases]
    groups: list[_AliasGroup] = []
    for start in range(0, len(flat), size):
        chunk = tuple(flat[start:start + size])
        mac = hmac.new(keys.key, _SETTLED_TAG_LABEL + chunk[0].pseudonym.encode("ascii"), hashlib.sha256).digest()
        groups.append(_AliasGroup(base64.urlsafe_b64encode(mac[:12]).decode("ascii"), chunk))
    return groups
