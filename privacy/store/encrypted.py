"""``EncryptedTrackerStore``: the Rasa tracker store that seals each conversation with the user's key.

Why it is assembled from parts: each part of the design has its own module and
docstring (see :mod:`privacy.store`): sealing under conversation keys
(:mod:`~privacy.store.conversation_keys`), reading (:mod:`~privacy.store.loading`),
saving and alias migration (:mod:`~privacy.store.saving`), the person operations
(:mod:`~privacy.store.person`). This class adds Rasa's constructor, the key lookup that
fails closed (in local use only, a sender without any context, such as ``rasa shell``'s,
gets a development key instead: :mod:`privacy.dev_context`), and closing. endpoints.yml names it as
``privacy.store.encrypted.EncryptedTrackerStore`` (options: :mod:`privacy.store.config`).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Iterable, Mapping, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from privacy.backends import (
    DEFAULT_REDIS_KEY_PREFIX,
    DEFAULT_TABLE,
    ConversationBackends,
    open_conversation_backends,
    safe_url,
)
from privacy.context import UserKeys, current_user_keys, user_context_active
from privacy.dev_context import DevContextRefusedError, DevelopmentKeys
from privacy.errors import NoKeyInContextError, PrivacyConfigError
from privacy.store.config import resolve_journal_path, resolve_retention_days, resolve_url
from privacy.store.conversation_keys import ConversationKeys
from privacy.store.loading import ConversationLoading
from privacy.store.metrics import StoreMetrics, count_crypto_error
from privacy.store.person import PersonOperations
from privacy.store.saving import ConversationSaving
from privacy.store.shredding import ErasureJournal

__all__ = ["EncryptedTrackerStore"]

logger = logging.getLogger(__name__)

#: Looked up by :meth:`EncryptedTrackerStore.ping`; never a pseudonym (those start with ``u_``).
_PING_PSEUDONYM = "readiness-ping"


class EncryptedTrackerStore(PersonOperations, ConversationSaving, ConversationLoading, ConversationKeys, TrackerStore):
    """Rasa ``TrackerStore`` that seals each conversation with the user's data key.

    Public extras beyond Rasa's interface: :meth:`erase`, :meth:`export` and
    :meth:`move` for the privacy actions and the channel (they take the user's keys
    explicitly, so they also work outside a request), and :meth:`close`.
    """

    #: Set from the environment in ``__init__``; ``None`` (production) means fail closed.
    development_keys: Optional[DevelopmentKeys] = None

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        *,
        url: Optional[str] = None,
        retention_days: Any = None,
        table: str = DEFAULT_TABLE,
        key_prefix: str = DEFAULT_REDIS_KEY_PREFIX,
        environ: Optional[Mapping[str, str]] = None,
        backends: Optional[ConversationBackends] = None,
        erasure_journal: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Open the backends for the configured URL (nothing connects until first use).

        ``host`` is what Rasa 3.6 passes for ``url:`` in endpoints.yml; ``url`` is
        accepted for direct construction. ``backends`` replaces URL handling entirely
        (for tests and embedding). An event broker is refused: it would publish every
        event, message texts included, in clear.
        """
        if event_broker is not None:
            raise PrivacyConfigError(
                "EncryptedTrackerStore does not publish events: an event broker would receive "
                "every message in clear; remove event_broker from endpoints.yml"
            )
        if url and host and url != host:
            raise PrivacyConfigError("tracker_store has both `url` and `host` with different values")
        unknown = sorted(k for k in kwargs if k not in ("type", "store_type"))
        if unknown:
            logger.warning("EncryptedTrackerStore ignores unknown options: %s", ", ".join(unknown))
        super().__init__(domain, None)
        self.retention = timedelta(days=resolve_retention_days(retention_days, environ))
        if backends is None:
            resolved = resolve_url(url or host, environ)
            backends = open_conversation_backends(
                resolved, retention=self.retention, table=table, key_prefix=key_prefix
            )
            logger.info(
                "Encrypted tracker store on %s (retention %d days)", safe_url(resolved), self.retention.days
            )
        self.backends = backends
        self.metrics = StoreMetrics(backends)
        self.journal = ErasureJournal(resolve_journal_path(erasure_journal, environ))
        self.development_keys = _development_keys(environ)

    # ------------------------------------------------------------------ keys
    def _keys_for(self, sender_id: str) -> UserKeys:
        """The context's keys for ``sender_id``, which must be the *current* pseudonym.

        ``current_user_keys`` also accepts a retired pseudonym; conversations are
        only ever addressed by the current one, so anything else fails closed. With no
        context at all and :attr:`development_keys` set (local use only), a sender that
        is no WhatsApp pseudonym gets its development key (:mod:`privacy.dev_context`).
        """
        try:
            if self.development_keys is not None and not user_context_active():
                return self.development_keys.keys_for(sender_id)
            keys = current_user_keys(sender_id)
            if sender_id != keys.pseudonym:
                raise NoKeyInContextError(sender_id, "conversations are addressed by the current pseudonym only")
        except NoKeyInContextError:
            count_crypto_error("key_derivation")
            raise
        return keys

    # ------------------------------------------------- measured operations
    # blaupause_tracker_store_operation_seconds / _errors (privacy.store.metrics); the
    # work itself is in the parts (loading, saving, person).
    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        with self.metrics.measure("retrieve"):
            return await super().retrieve(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.metrics.measure("save"):
            await super().save(tracker)

    async def keys(self) -> Iterable[str]:
        with self.metrics.measure("keys"):
            return await super().keys()

    async def erase(self, user_keys: UserKeys) -> int:
        """Erase the user for good (see :meth:`PersonOperations.erase`), measured as ``delete``."""
        with self.metrics.measure("delete"):
            return await super().erase(user_keys)

    async def ping(self) -> None:
        """Raise unless the database answers (readiness, :mod:`connectors.whatsapp.readiness`).

        A read of a fixed, never-written pseudonym through the live namespace: one indexed
        look-up (SQL) or ``HGETALL`` (Redis) on the backend's own connection path, so it
        fails exactly when a turn's read would (:class:`~privacy.backends.TrackerStorageUnavailable`).
        """
        await self.backends.live.get(_PING_PSEUDONYM)

    async def close(self) -> None:
        """Release database connections."""
        await self.backends.close()


def _development_keys(environ: Optional[Mapping[str, str]]) -> Optional[DevelopmentKeys]:
    """The store's development keys: ``None`` in production and when refused (logged once)."""
    try:
        keys = DevelopmentKeys.for_runtime(environ)
    except DevContextRefusedError as refused:
        logger.warning("%s; senders without a WhatsApp context fail closed", refused)
        return None
    if keys is not None:
        logger.warning(
            "Development keys for senders without a WhatsApp context (rasa shell, rasa interactive): "
            "BLAUPAUSE_ENV=local, never use this in production"
        )
    return keys
