"""connectors/whatsapp/outbox.py: sealed replies open again for their user only, a tampered or
relabelled outbox is refused, no address is ever sealed in, and delivery resumes where it stopped.

See docs/whatsapp-delivery.md (the outbox and its redelivery) and privacy/sealing.py (AES-256-GCM
with the pseudonym and key version bound as associated data).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import pytest

from connectors.whatsapp.outbox import ADDRESS_FIELDS, Outbox, deliver, open_outbox, seal_outbox
from privacy.owner_tags import owner_tag, owner_tags
from privacy.context import keys_for_user
from privacy.errors import DecryptionError, UnknownKeyVersionError
from privacy.keyring import Keyring, Secret
from privacy.records import pad
from privacy.sealing import seal

USER = "4915550000001"
OTHER = "4915550000002"
BSUID = "DE.1000000000000000001"
REPLIES = [
    {"type": "text", "text": {"body": "Hallo Erika, hier sind drei Angebote."}},
    {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Weiter?"},
                                            "action": {"buttons": [{"type": "reply", "reply": {"id": "/ja", "title": "Ja"}}]}}},
]

OLD = Secret.generate()
NEW = Secret.generate()


def test_seal_and_open_round_trip() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    outbox = seal_outbox(keys, REPLIES)
    assert (outbox.total, outbox.sent, outbox.remaining, outbox.key_version) == (2, 0, 2, keys.version)
    assert outbox.owner == owner_tag(keys.key)
    assert open_outbox(keys, outbox) == REPLIES


def test_nothing_readable_is_stored_in_the_clear() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    outbox = seal_outbox(keys, REPLIES)
    assert b"Erika" not in outbox.blob and b"Angebote" not in outbox.blob
    assert USER not in repr(outbox) and "blob" not in repr(outbox)
    assert keys.pseudonym not in repr(outbox)


def test_an_address_is_never_sealed_in() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    assert ADDRESS_FIELDS == ("to", "recipient")
    for field in ADDRESS_FIELDS:
        with pytest.raises(ValueError, match="recipient"):
            seal_outbox(keys, [{**REPLIES[0], field: USER}])


def test_a_flipped_bit_is_refused() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    outbox = seal_outbox(keys, REPLIES)
    for position in (0, 20, len(outbox.blob) // 2, len(outbox.blob) - 1):
        blob = bytearray(outbox.blob)
        blob[position] ^= 0x01
        with pytest.raises(DecryptionError):
            open_outbox(keys, dataclasses.replace(outbox, blob=bytes(blob)))
    with pytest.raises(DecryptionError):
        open_outbox(keys, dataclasses.replace(outbox, blob=outbox.blob[:-1]))


def test_another_person_cannot_open_it() -> None:
    keyring = Keyring(current=NEW)
    outbox = seal_outbox(keys_for_user(keyring, USER), REPLIES)
    with pytest.raises(DecryptionError):
        open_outbox(keys_for_user(keyring, OTHER), outbox)


def test_a_header_that_does_not_match_the_content_is_refused() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    outbox = seal_outbox(keys, REPLIES)
    with pytest.raises(DecryptionError, match="header"):
        open_outbox(keys, dataclasses.replace(outbox, total=3))
    with pytest.raises(DecryptionError, match="header"):
        open_outbox(keys, dataclasses.replace(outbox, total=1, sent=0))


def test_a_relabelled_key_version_is_refused() -> None:
    keys = keys_for_user(Keyring(current=NEW, retired=(OLD,)), USER)
    outbox = seal_outbox(keys, REPLIES)
    with pytest.raises(DecryptionError):  # bound as associated data: the old key cannot open it
        open_outbox(keys, dataclasses.replace(outbox, key_version=OLD.version))
    with pytest.raises(UnknownKeyVersionError):
        open_outbox(keys, dataclasses.replace(outbox, key_version="v-unknown"))


def test_it_opens_across_a_key_rotation_while_the_old_secret_is_kept() -> None:
    before = keys_for_user(Keyring(current=OLD), USER)
    outbox = seal_outbox(before, REPLIES)
    after = keys_for_user(Keyring(current=NEW, retired=(OLD,)), USER)
    assert after.version != outbox.key_version
    assert open_outbox(after, outbox) == REPLIES
    with pytest.raises(UnknownKeyVersionError):
        open_outbox(keys_for_user(Keyring(current=NEW), USER), outbox)


def test_content_that_is_not_a_list_of_objects_is_refused() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    for content in (b"not json", json.dumps({"type": "text"}).encode(), json.dumps([1, 2]).encode()):
        blob = seal(keys.key, pad(content), pseudonym=keys.pseudonym, key_version=keys.version)
        with pytest.raises(DecryptionError):
            open_outbox(keys, Outbox(blob=blob, key_version=keys.version, total=2))


def test_the_ciphertext_length_does_not_tell_the_reply_length() -> None:
    keys = keys_for_user(Keyring(current=NEW), USER)
    short = seal_outbox(keys, [{"type": "text", "text": {"body": "Ja"}}])
    longer = seal_outbox(keys, [{"type": "text", "text": {"body": "x" * 600}}])
    assert len(short.blob) == len(longer.blob)


def test_owner_tags_cover_every_key_of_the_person_and_nobody_else() -> None:
    keyring = Keyring(current=NEW, retired=(OLD,))
    keys = keys_for_user(keyring, USER, aliases=[BSUID])
    tags = owner_tags(keys)
    assert tags[0] == owner_tag(keys.key)
    assert len(tags) == len(set(tags)) == 1 + 1 + 2  # anchor, anchor under OLD, alias under NEW and OLD
    assert all(len(tag) == 32 and int(tag, 16) >= 0 for tag in tags)
    assert owner_tag(keys_for_user(keyring, OTHER).key) not in tags
    before_rotation = seal_outbox(keys_for_user(Keyring(current=OLD), USER), REPLIES)
    assert before_rotation.owner in tags  # an erasure after the rotation still finds it


def test_counts_are_checked() -> None:
    with pytest.raises(ValueError):
        Outbox(blob=b"", key_version="v", total=1, sent=2)
    with pytest.raises(ValueError):
        Outbox(blob=b"", key_version="v", total=-1)
    with pytest.raises(ValueError):
        Outbox(blob=b"", key_version="v", total=1, sent=-1)
    assert Outbox(blob=b"", key_version="v", total=3, sent=1).remaining == 2


async def test_deliver_sends_the_rest_in_order_and_records_each_send() -> None:
    messages: list[Mapping[str, Any]] = [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    sent: list[int] = []
    recorded: list[int] = []

    async def send(message: Mapping[str, Any]) -> str:
        sent.append(message["n"])
        return "wamid"

    async def record(count: int) -> None:
        recorded.append(count)

    assert await deliver(messages, 1, send, record) == 4
    assert sent == [1, 2, 3] and recorded == [2, 3, 4]
    assert await deliver(messages, 4, send, record) == 4  # nothing left: nothing sent


async def test_deliver_stops_at_the_first_failure_with_progress_recorded() -> None:
    messages = [{"n": 0}, {"n": 1}, {"n": 2}]
    recorded: list[int] = []

    async def send(message: Mapping[str, Any]) -> None:
        if message["n"] == 1:
            raise RuntimeError("Graph API down")

    async def record(count: int) -> None:
        recorded.append(count)

    with pytest.raises(RuntimeError):
        await deliver(messages, 0, send, record)
    assert recorded == [1]  # a redelivery resumes with message 1
