"""Whose keys a message is handled under, and what an identity change moves (issue 9).

One person, one conversation: a user's keys derive from the *anchor* (the BSUID when the
webhook carries one, else the phone number; ``WHATSAPP_IDENTITY_ANCHOR=parent_user_id``
prefers the parent BSUID), every other identifier of the webhook is an alias the tracker
store migrates from (:class:`privacy.identity.UserIdentifiers`, docs/privacy.md "Identity").

A system message announcing a changed number or BSUID (:class:`.updates.IdentityChange`)
moves the conversation from the identifiers the person no longer has to the new identity's
keys; :meth:`Identities.plan_move` works out the two sides (the move itself is the post-turn
hook's, :mod:`.turn`).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from connectors.whatsapp.updates.messages import IdentityChange, InboundMessage
from privacy.context import UserKeys, keys_for_user
from privacy.errors import InvalidIdentifierError
from privacy.identity import UserIdentifiers, normalize_wa_id
from privacy.keyring import Keyring

__all__ = ["Identities", "identifiers_of", "distinct"]

logger = logging.getLogger(__name__)


class Identities:
    """Derives users' keys from their identifiers under one keyring and one anchor setting."""

    def __init__(self, keyring: Keyring, *, use_parent_user_id: bool) -> None:
        self.keyring = keyring
        self.use_parent_user_id = use_parent_user_id

    def keys(self, phone: str | None, user_id: str | None, parent_user_id: str | None) -> UserKeys:
        """The user's keys: derived from the anchor, with every other identifier as an alias.

        Raises :class:`InvalidIdentifierError` when no identifier is usable.
        """
        identifiers = UserIdentifiers(phone=phone, user_id=user_id, parent_user_id=parent_user_id)
        use_parent = self.use_parent_user_id
        return keys_for_user(self.keyring, identifiers.anchor(use_parent), identifiers.aliases(use_parent))

    def keys_of(self, message: InboundMessage) -> UserKeys:
        """The keys of the sender of ``message`` (see :meth:`keys`)."""
        return self.keys(message.phone, message.user_id, message.parent_user_id)

    def plan_move(self, message: IdentityChange, ref: str) -> tuple[UserKeys, UserKeys] | None:
        """(source, target) keys of an identity change, or None (logged why) when nothing moves.

        Only what the person no longer is moves: identifiers on both sides stay with the
        target. Never a record onto itself (the same identity named twice).
        """
        previous = distinct((message.previous_phone, message.previous_user_id, message.previous_parent_user_id))
        new = distinct((message.new_phone, message.new_user_id, message.new_parent_user_id))
        new_set = {_normalized(identifier) for identifier in new}
        gone = [identifier for identifier in previous if _normalized(identifier) not in new_set]
        if not gone or not new:
            logger.info("message %s: identity change (%s) with nothing to move; acknowledged", ref, message.change)
            return None
        try:
            source = self.keys(*_slot(gone, message, "previous"))
            target = self.keys(message.new_phone, message.new_user_id, message.new_parent_user_id)
        except InvalidIdentifierError as error:
            logger.warning("message %s: identity change (%s) ignored: identifier unusable (%s)", ref, message.change, error)
            return None
        if set(source.pseudonyms()) & set(target.pseudonyms()):
            logger.warning("message %s: identity change (%s) names the same identity twice; acknowledged", ref, message.change)
            return None
        return source, target


def distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    """The non-empty values, first occurrence kept, in order."""
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return tuple(seen)


def identifiers_of(message: InboundMessage) -> tuple[str, ...]:
    """Every identifier of the person ``message`` is from (for an identity change: both sides)."""
    ids = [message.sender, message.phone, message.user_id, message.parent_user_id]
    if isinstance(message, IdentityChange):
        ids += [message.previous_phone, message.previous_user_id, message.previous_parent_user_id,
                message.new_phone, message.new_user_id, message.new_parent_user_id]
    return distinct(ids)


def _normalized(identifier: str) -> str:
    try:
        return normalize_wa_id(identifier)
    except InvalidIdentifierError:
        return identifier


def _slot(identifiers: Sequence[str], message: IdentityChange, side: str) -> tuple[str | None, str | None, str | None]:
    """(phone, user_id, parent_user_id) of ``identifiers`` as they stand on ``side`` of the change."""
    wanted = set(identifiers)
    phone = getattr(message, f"{side}_phone")
    user_id = getattr(message, f"{side}_user_id")
    parent = getattr(message, f"{side}_parent_user_id")
    return (
        phone if phone in wanted else None,
        user_id if user_id in wanted else None,
        parent if parent in wanted else None,
    )
