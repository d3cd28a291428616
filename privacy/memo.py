"""A per-request memo: what one step of a request computed from a user's data, for a later step.

Why: the tracker store keeps the tracker it has just saved (and the conversation key it has
just unwrapped) so that a later step of the *same* request needs no second read, decryption
and replay (about 7 % of the Rasa process's time in a profile under load). Why a separate
module: the memo is a performance aid, not key handling; :mod:`privacy.context` only opens
and closes a memo block together with each :func:`privacy.context.user_context` block.

The memo lives exactly as long as that block, is emptied when it ends (a task that
outlives the block keeps the keys, never the memo) and only ever answers for the bound
user's current pseudonym, so nothing crosses requests or users. ``contextvars`` (PEP 567)
give the scope, as for the keys.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["memo_block", "remember", "recall", "forget"]


@dataclass(eq=False, slots=True)
class _Memo:
    """The memo of one block: whose it is, its values, the enclosing block's memo."""

    pseudonym: str
    outer: _Memo | None
    values: dict[str, object] = field(default_factory=dict)


_CURRENT_MEMO: contextvars.ContextVar[_Memo | None] = contextvars.ContextVar("blaupause_privacy_memo", default=None)


@contextmanager
def memo_block(pseudonym: str) -> Iterator[None]:
    """An empty memo for ``pseudonym`` until the block ends (opened by ``user_context``)."""
    memo = _Memo(pseudonym, _CURRENT_MEMO.get())
    token = _CURRENT_MEMO.set(memo)
    try:
        yield
    finally:
        _CURRENT_MEMO.reset(token)
        memo.values.clear()  # a task that outlives the block keeps the keys, never the memo


def _bound(pseudonym: str) -> _Memo | None:
    memo = _CURRENT_MEMO.get()
    return memo if memo is not None and memo.pseudonym == pseudonym else None


def remember(pseudonym: str, name: str, value: object) -> bool:
    """Keep ``value`` under ``name`` until the current :func:`privacy.context.user_context` block ends.

    Only for the bound user's *current* pseudonym: outside a block, or for anyone
    else, nothing is kept and False is returned (the caller then simply has no
    shortcut later). Child tasks created inside the block share the memo.
    """
    memo = _bound(pseudonym)
    if memo is None:
        return False
    memo.values[name] = value
    return True


def recall(pseudonym: str, name: str) -> object | None:
    """What :func:`remember` kept under ``name`` for ``pseudonym`` in this block, else None."""
    memo = _bound(pseudonym)
    return memo.values.get(name) if memo is not None else None


def forget(pseudonym: str) -> None:
    """Empty the memo of every active block of this user (e.g. after an erasure).

    Enclosing blocks of the same user are emptied too: after an erasure nothing
    from before it may be recalled anywhere in the request.
    """
    memo = _CURRENT_MEMO.get()
    while memo is not None:
        if memo.pseudonym == pseudonym:
            memo.values.clear()
        memo = memo.outer
