"""privacy.memo: one memo per user_context block, emptied at its end and by forget."""
from __future__ import annotations

from privacy.memo import forget, memo_block, recall, remember


def test_nested_blocks_have_their_own_memo_and_forget_empties_all_of_the_user() -> None:
    with memo_block("u_alice"):
        remember("u_alice", "outer", 1)
        with memo_block("u_bob"):
            assert recall("u_alice", "outer") is None  # the innermost block answers for bob only
            assert remember("u_bob", "inner", 2) is True
            forget("u_alice")
            assert recall("u_bob", "inner") == 2
        assert recall("u_alice", "outer") is None  # forgotten in the enclosing block too
        remember("u_alice", "again", 3)
    assert recall("u_alice", "again") is None
