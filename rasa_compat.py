"""Every adjustment Blaupause makes to Rasa 3.6 internals, in one place, each guarded by its version.

Why one module: these reach into attributes and wrappers Rasa does not promise to keep
(private names, the wrappers ``rasa.core.agent.Agent`` puts around a tracker store). An
upgrade of Rasa must meet them all at once, and fail loudly instead of silently losing a
privacy guarantee (a store that no longer fails closed, an erasure that no longer finds
the store). Each adjustment therefore calls :func:`require_rasa` with the Rasa version it
was written for and checked against (the pinned version in requirements.lock); any other
version raises :class:`RasaVersionError` naming the adjustment to re-check.

Adjustments:

- :func:`unwrap_tracker_store` / :func:`find_encrypted_store`: Rasa's
  ``FailSafeTrackerStore`` / ``AwaitableTrackerStore`` keep the configured store in the
  private attribute ``_tracker_store``; the channel's privacy requests need the store
  itself (:mod:`privacy.requests.hook`).
- :func:`make_fail_closed`: sets ``FailSafeTrackerStore._on_tracker_store_error`` so the
  wrapper re-raises instead of hiding storage errors.
- :func:`tracker_saved_in_this_request`: the tracker Rasa handed to the encrypted store's
  ``save`` in this request, instead of a second ``retrieve`` after Rasa's turn.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Optional, TypeVar

__all__ = [
    "WRITTEN_FOR",
    "RasaVersionError",
    "require_rasa",
    "unwrap_tracker_store",
    "find_encrypted_store",
    "make_fail_closed",
    "tracker_saved_in_this_request",
]

#: The Rasa minor version every adjustment here was written for and tested against.
WRITTEN_FOR = "3.6"
_WRAPPER_DEPTH = 4
_F = TypeVar("_F", bound=Callable[..., Any])


class RasaVersionError(RuntimeError):
    """The installed Rasa is not the version an adjustment was written for."""


def require_rasa(written_for: str, adjustment: str) -> None:
    """Raise :class:`RasaVersionError` unless the installed Rasa is ``written_for`` (e.g. "3.6")."""
    import rasa

    installed = str(getattr(rasa, "__version__", "unknown"))
    if installed != written_for and not installed.startswith(written_for + "."):
        raise RasaVersionError(
            f"rasa_compat.{adjustment} was written for Rasa {written_for}.x, but Rasa {installed} is "
            f"installed: re-check it against the new Rasa (see rasa_compat.py) before upgrading"
        )


def _written_for(version: str) -> Callable[[_F], _F]:
    """Decorator: the adjustment checks the Rasa version on every call (cheap: one attribute)."""

    def decorate(function: _F) -> _F:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            require_rasa(version, function.__name__)
            return function(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


@_written_for(WRITTEN_FOR)
def unwrap_tracker_store(store: Any, wanted: type) -> Any:
    """The ``wanted`` store inside Rasa's tracker store wrappers; ``TypeError`` if there is none.

    Why: ``rasa.core.agent.Agent`` always wraps the configured store
    (``FailSafeTrackerStore`` around ``AwaitableTrackerStore``), and Rasa 3.6 keeps the
    wrapped store in the private attribute ``_tracker_store``.
    """
    seen = 0
    while not isinstance(store, wanted):
        inner = getattr(store, "_tracker_store", None)
        if inner is None or seen > _WRAPPER_DEPTH:
            raise TypeError(f"the agent's tracker store is not an {wanted.__name__}")
        store, seen = inner, seen + 1
    return store


def find_encrypted_store(store: Any) -> Any:
    """The :class:`~privacy.store.encrypted.EncryptedTrackerStore` inside Rasa's wrappers.

    The channel (``request.app.ctx.agent.tracker_store``) needs it to reach ``erase``.
    Raises ``TypeError`` when no encrypted store is configured.
    """
    from privacy.store.encrypted import EncryptedTrackerStore

    return unwrap_tracker_store(store, EncryptedTrackerStore)


def _reraise(error: Exception) -> None:
    raise error


@_written_for(WRITTEN_FOR)
def make_fail_closed(store: Any) -> bool:
    """Make Rasa's ``FailSafeTrackerStore`` wrapper pass our store's errors on.

    Why: ``rasa.core.agent.Agent`` wraps every tracker store in ``FailSafeTrackerStore``,
    which turns a failed ``retrieve`` into "no conversation" (the user silently starts
    afresh) and a failed ``save`` into a plaintext copy in an in-memory store, while the
    webhook is acknowledged. For an encrypted store neither is acceptable: a missing key
    must fail closed, and a database that is down must make the webhook fail so Meta
    redelivers the message later (nothing lost). The Rasa 3.6 wrapper calls its private
    ``_on_tracker_store_error`` instead of logging when it is set; setting it to re-raise
    keeps the wrapper in place for everything else.

    Returns True when a wrapper around an :class:`EncryptedTrackerStore` was changed
    (idempotent); False when no encrypted store is configured.
    """
    from rasa.core.tracker_store import FailSafeTrackerStore

    from privacy.store.encrypted import EncryptedTrackerStore

    try:
        unwrap_tracker_store(store, EncryptedTrackerStore)
    except TypeError:
        return False
    changed = False
    seen = 0
    while store is not None and not isinstance(store, EncryptedTrackerStore) and seen <= _WRAPPER_DEPTH:
        if isinstance(store, FailSafeTrackerStore):
            store._on_tracker_store_error = _reraise
            changed = True
        store, seen = getattr(store, "_tracker_store", None), seen + 1
    return changed


@_written_for(WRITTEN_FOR)
def tracker_saved_in_this_request(sender_id: str) -> Optional[Any]:
    """The tracker the encrypted store saved for ``sender_id`` in this request, else ``None``.

    Why: after Rasa's turn the channel needs the turn's final slots (the ``language``
    of the renderer's labels). Reading them back meant a second retrieve per turn:
    the record fetched, decrypted and replayed into a tracker by Rasa, about 7 % of
    the Rasa process's time in a profile under load. The store keeps the tracker Rasa
    3.6 handed to ``save`` (a ``DialogueStateTracker``, sealed on disk) in the request's
    memo (:mod:`privacy.memo`), which ends with the request's ``user_context`` block and
    answers only for the bound user; an erasure empties it. ``None`` when nothing was
    saved in this block (the caller then retrieves as before). Read it, do not change it.
    """
    from rasa.shared.core.trackers import DialogueStateTracker

    from privacy.memo import recall
    from privacy.store.saving import SAVED_TRACKER_MEMO

    tracker = recall(sender_id, SAVED_TRACKER_MEMO)
    return tracker if isinstance(tracker, DialogueStateTracker) else None
