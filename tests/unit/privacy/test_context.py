"""Tests for privacy.context: per-user keys bound to the current (async) context."""
from __future__ import annotations

import asyncio

import pytest

from privacy.context import RetiredIdentity, UserKeys, current_user_keys, keys_for_user, user_context
from privacy.errors import InvalidIdentifierError, NoKeyInContextError, PrivacyError, UnknownKeyVersionError
from privacy.identity import data_key, pseudonym
from privacy.keyring import Keyring, parse_secret
from privacy.memo import forget, recall, remember

NUMBER = "4915550000001"
OTHER_NUMBER = "4915550000002"
CURRENT = parse_secret("a1" * 32)
OLD = parse_secret("b2" * 32)
OLDER = parse_secret("c3" * 32)
KEYRING = Keyring(current=CURRENT, retired=(OLD, OLDER))


@pytest.fixture
def alice() -> UserKeys:
    return keys_for_user(KEYRING, NUMBER)


@pytest.fixture
def bob() -> UserKeys:
    return keys_for_user(KEYRING, OTHER_NUMBER)


def test_keys_for_user_derives_current_and_retired(alice: UserKeys) -> None:
    assert alice.pseudonym == pseudonym(CURRENT, NUMBER)
    assert alice.version == CURRENT.version
    assert alice.key == data_key(CURRENT, NUMBER)
    assert alice.retired == (
        RetiredIdentity(version=OLD.version, pseudonym=pseudonym(OLD, NUMBER), key=data_key(OLD, NUMBER)),
        RetiredIdentity(version=OLDER.version, pseudonym=pseudonym(OLDER, NUMBER), key=data_key(OLDER, NUMBER)),
    )


def test_keys_for_user_is_format_insensitive(alice: UserKeys) -> None:
    assert keys_for_user(KEYRING, "+49 155 5000-0001") == alice


def test_keys_for_user_without_retired_secrets() -> None:
    keys = keys_for_user(Keyring(current=CURRENT), NUMBER)
    assert keys.retired == () and keys.pseudonyms() == (keys.pseudonym,)


def test_keys_for_user_rejects_invalid_identifier() -> None:
    with pytest.raises(InvalidIdentifierError):
        keys_for_user(KEYRING, "12")


def test_key_for_version(alice: UserKeys) -> None:
    assert alice.key_for_version(CURRENT.version) == alice.key
    assert alice.key_for_version(OLD.version) == data_key(OLD, NUMBER)
    assert alice.key_for_version(OLDER.version) == data_key(OLDER, NUMBER)
    with pytest.raises(UnknownKeyVersionError) as info:
        alice.key_for_version("ffffffff")
    assert info.value.version == "ffffffff"


def test_pseudonyms_current_first(alice: UserKeys) -> None:
    assert alice.pseudonyms() == (
        pseudonym(CURRENT, NUMBER),
        pseudonym(OLD, NUMBER),
        pseudonym(OLDER, NUMBER),
    )
    assert alice.owns(pseudonym(OLD, NUMBER)) and not alice.owns(pseudonym(OLD, OTHER_NUMBER))


def test_repr_hides_key_bytes(alice: UserKeys) -> None:
    text = repr(alice) + str(alice)
    for key in (alice.key, *(identity.key for identity in alice.retired)):
        assert key.hex() not in text
        assert repr(key) not in text
        assert repr(key)[2:12] not in text
    assert alice.pseudonym in text and alice.version in text


def test_no_context_fails_closed(alice: UserKeys) -> None:
    with pytest.raises(NoKeyInContextError) as info:
        current_user_keys(alice.pseudonym)
    assert info.value.pseudonym == alice.pseudonym
    assert alice.pseudonym in str(info.value)
    assert alice.key.hex() not in str(info.value)
    assert isinstance(info.value, PrivacyError)


def test_context_sets_and_resets(alice: UserKeys) -> None:
    with user_context(alice) as bound:
        assert bound is alice
        assert current_user_keys(alice.pseudonym) is alice
    with pytest.raises(NoKeyInContextError):
        current_user_keys(alice.pseudonym)


def test_context_resets_on_exception(alice: UserKeys) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with user_context(alice):
            raise RuntimeError("boom")
    with pytest.raises(NoKeyInContextError):
        current_user_keys(alice.pseudonym)


def test_other_pseudonym_fails_closed(alice: UserKeys, bob: UserKeys) -> None:
    with user_context(alice):
        with pytest.raises(NoKeyInContextError, match="another pseudonym") as info:
            current_user_keys(bob.pseudonym)
        assert info.value.pseudonym == bob.pseudonym
        assert alice.key.hex() not in str(info.value) and bob.key.hex() not in str(info.value)


def test_retired_pseudonym_finds_the_keys(alice: UserKeys) -> None:
    with user_context(alice):
        for name in alice.pseudonyms():
            assert current_user_keys(name) is alice


def test_nested_contexts_restore_outer(alice: UserKeys, bob: UserKeys) -> None:
    with user_context(alice):
        with user_context(bob):
            assert current_user_keys(bob.pseudonym) is bob
            with pytest.raises(NoKeyInContextError):
                current_user_keys(alice.pseudonym)
        assert current_user_keys(alice.pseudonym) is alice


def test_user_context_requires_user_keys() -> None:
    with pytest.raises(TypeError):
        with user_context("u_x"):  # type: ignore[arg-type]
            pass


async def test_context_survives_await_and_child_tasks(alice: UserKeys) -> None:
    async def read_later() -> UserKeys:
        await asyncio.sleep(0.01)
        return current_user_keys(alice.pseudonym)

    with user_context(alice):
        await asyncio.sleep(0)
        assert current_user_keys(alice.pseudonym) is alice
        task = asyncio.create_task(read_later())
        gathered = await asyncio.gather(read_later(), read_later())
    # the task copied the context at creation, so it still sees the keys after the block
    assert await task is alice
    assert gathered == [alice, alice]
    with pytest.raises(NoKeyInContextError):
        current_user_keys(alice.pseudonym)


async def test_task_started_outside_never_sees_keys(alice: UserKeys) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def outsider() -> None:
        started.set()
        await release.wait()
        with pytest.raises(NoKeyInContextError):
            current_user_keys(alice.pseudonym)

    task = asyncio.create_task(outsider())
    await started.wait()
    with user_context(alice):
        release.set()
        await task


async def test_concurrent_tasks_are_isolated(alice: UserKeys, bob: UserKeys) -> None:
    both_inside = asyncio.Barrier(2)
    seen: dict[str, list[str]] = {}

    async def handle(keys: UserKeys, other: UserKeys) -> None:
        with user_context(keys):
            await both_inside.wait()  # both contexts are active at the same time
            for _ in range(5):
                await asyncio.sleep(0)
                assert current_user_keys(keys.pseudonym) is keys
                with pytest.raises(NoKeyInContextError):
                    current_user_keys(other.pseudonym)
            seen[keys.pseudonym] = [current_user_keys(keys.pseudonym).pseudonym]

    await asyncio.wait_for(asyncio.gather(handle(alice, bob), handle(bob, alice)), timeout=5)
    assert seen == {alice.pseudonym: [alice.pseudonym], bob.pseudonym: [bob.pseudonym]}
    with pytest.raises(NoKeyInContextError):
        current_user_keys(alice.pseudonym)


# --------------------------------------------------------------- the per-request memo


def test_memo_lives_for_one_block_only(alice: UserKeys) -> None:
    with user_context(alice):
        assert remember(alice.pseudonym, "note", "value") is True
        assert recall(alice.pseudonym, "note") == "value"
        assert recall(alice.pseudonym, "other") is None
    assert recall(alice.pseudonym, "note") is None
    with user_context(alice):  # the next request of the same user starts empty
        assert recall(alice.pseudonym, "note") is None


def test_memo_outside_a_block_keeps_nothing(alice: UserKeys) -> None:
    assert remember(alice.pseudonym, "note", "value") is False
    assert recall(alice.pseudonym, "note") is None


def test_memo_answers_only_the_bound_users_current_pseudonym(alice: UserKeys, bob: UserKeys) -> None:
    retired = alice.retired[0].pseudonym
    with user_context(alice):
        remember(alice.pseudonym, "note", "alice's")
        assert remember(bob.pseudonym, "note", "bob's") is False
        assert remember(retired, "note", "old") is False
        assert recall(bob.pseudonym, "note") is None
        assert recall(retired, "note") is None
        assert recall(alice.pseudonym, "note") == "alice's"
    with user_context(bob):
        assert recall(alice.pseudonym, "note") is None and recall(bob.pseudonym, "note") is None


def test_memo_is_emptied_when_the_block_raises(alice: UserKeys) -> None:
    kept: list[object] = []
    with pytest.raises(RuntimeError):
        with user_context(alice):
            remember(alice.pseudonym, "note", kept)
            raise RuntimeError("boom")
    with user_context(alice):
        assert recall(alice.pseudonym, "note") is None


def test_nested_block_has_its_own_memo_and_forget_empties_the_enclosing_ones(alice: UserKeys, bob: UserKeys) -> None:
    with user_context(alice):
        remember(alice.pseudonym, "outer", 1)
        with user_context(alice):
            assert recall(alice.pseudonym, "outer") is None
            remember(alice.pseudonym, "inner", 2)
        assert recall(alice.pseudonym, "inner") is None
        assert recall(alice.pseudonym, "outer") == 1
        with user_context(bob):
            remember(bob.pseudonym, "bob", 3)
            forget(alice.pseudonym)  # e.g. an erasure of alice's data inside a nested block
            assert recall(bob.pseudonym, "bob") == 3
        assert recall(alice.pseudonym, "outer") is None


async def test_memo_is_shared_with_child_tasks_but_not_after_the_block(alice: UserKeys) -> None:
    release = asyncio.Event()

    async def child() -> tuple[object, object]:
        first = recall(alice.pseudonym, "note")
        await release.wait()
        return first, recall(alice.pseudonym, "note")

    with user_context(alice):
        remember(alice.pseudonym, "note", "value")
        task = asyncio.create_task(child())
        await asyncio.sleep(0)
    release.set()
    # the child still has alice's keys (it copied the context), but the memo ended with the block
    assert await task == ("value", None)


async def test_memos_of_concurrent_users_are_isolated(alice: UserKeys, bob: UserKeys) -> None:
    both_inside = asyncio.Barrier(2)

    async def handle(keys: UserKeys, other: UserKeys) -> object:
        with user_context(keys):
            remember(keys.pseudonym, "note", keys.pseudonym)
            await both_inside.wait()
            await asyncio.sleep(0)
            assert recall(other.pseudonym, "note") is None
            return recall(keys.pseudonym, "note")

    assert await asyncio.gather(handle(alice, bob), handle(bob, alice)) == [alice.pseudonym, bob.pseudonym]


# --------------------------------------------------------------- anchor and aliases (issue 9)

from privacy.context import keys_for_identifiers  # noqa: E402
from privacy.identity import UserIdentifiers  # noqa: E402

BSUID = "DE.1000000000000000001"
PARENT = "DE.ENT.2000000000000000001"


def test_keys_for_user_with_aliases_derives_every_alias_under_every_secret() -> None:
    keys = keys_for_user(KEYRING, BSUID, [NUMBER])
    assert keys.pseudonym == pseudonym(CURRENT, BSUID) and keys.key == data_key(CURRENT, BSUID)
    assert keys.aliases == tuple(
        RetiredIdentity(version=s.version, pseudonym=pseudonym(s, NUMBER), key=data_key(s, NUMBER))
        for s in (CURRENT, OLD, OLDER)
    )
    assert keys.pseudonyms() == (
        pseudonym(CURRENT, BSUID), pseudonym(OLD, BSUID), pseudonym(OLDER, BSUID),
        pseudonym(CURRENT, NUMBER), pseudonym(OLD, NUMBER), pseudonym(OLDER, NUMBER),
    )
    assert [i.pseudonym for i in keys.all_identities()] == list(keys.pseudonyms())
    assert keys.all_identities()[0].key == keys.key


def test_existing_callers_get_the_same_keys_as_before(alice: UserKeys) -> None:
    assert keys_for_user(KEYRING, NUMBER, ()) == alice
    assert alice.aliases == () and alice.all_identities()[0].pseudonym == alice.pseudonym


def test_aliases_equal_to_the_anchor_or_repeated_are_skipped() -> None:
    keys = keys_for_user(KEYRING, BSUID, [BSUID.lower(), "+49 155 5000-0001", NUMBER])
    assert [a.pseudonym for a in keys.aliases] == [pseudonym(s, NUMBER) for s in (CURRENT, OLD, OLDER)]


def test_an_invalid_alias_is_rejected_like_an_invalid_anchor() -> None:
    with pytest.raises(InvalidIdentifierError):
        keys_for_user(KEYRING, BSUID, ["0151 5550000"])


def test_keys_for_identifiers_uses_anchor_and_aliases() -> None:
    ids = UserIdentifiers(phone=NUMBER, user_id=BSUID, parent_user_id=PARENT)
    assert keys_for_identifiers(KEYRING, ids) == keys_for_user(KEYRING, BSUID, [NUMBER, PARENT])
    assert keys_for_identifiers(KEYRING, ids, use_parent=True) == keys_for_user(KEYRING, PARENT, [NUMBER, BSUID])


def test_alias_pseudonyms_find_the_keys_and_repr_hides_them() -> None:
    keys = keys_for_user(KEYRING, BSUID, [NUMBER])
    with user_context(keys):
        assert current_user_keys(pseudonym(CURRENT, NUMBER)) is keys
    assert keys.aliases[0].key.hex() not in repr(keys)
