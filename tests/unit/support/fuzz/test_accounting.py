"""The fuzz suite's accounting: which ids a body carries, the oracle, the tally, store snapshots."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from connectors.whatsapp.dedup.claims import message_key
from connectors.whatsapp.references import References
from privacy.context import keys_for_user
from privacy.keyring import Keyring
from harness import meta_payloads as mp
from harness.webhook_sender import encode_payload
from tests.support.fuzz.accounting import Tally, dedup_keys, identifiers, is_utf8, oracle, pseudonyms, tracker_rows
from tests.support.fuzz.inputs import DEDUP_NAMESPACE, MAX_BODY, POOL

KEYRING = Keyring.from_env({"PRIVACY_KEY": "9f1c3e5a7b2d4f6081a3c5e7f90b1d2e4a6c8e0f13579bdf2468ace013579bdf"})


def _body(*messages: dict, statuses: list | None = None) -> bytes:
    return encode_payload(mp.payload(*messages, statuses=statuses) if statuses else mp.payload(*messages))


def test_identifiers_finds_ids_senders_and_texts_of_messages_and_statuses() -> None:
    body = _body(mp.text(POOL[0], "Hallo Welt", wamid="wamid.A"), statuses=[mp.status("wamid.S", POOL[1], "read")])
    ids, senders, texts = identifiers(body)
    assert ids == {"wamid.A", "wamid.S"}
    assert senders == {POOL[0]}
    assert texts == {"Hallo Welt"}


def test_identifiers_is_generous_about_depth_and_empty_for_what_is_not_json() -> None:
    nested = json.dumps({"x": [{"messages": [{"id": "wamid.deep", "from": "1", "text": {"body": "t"}}]}]}).encode()
    assert identifiers(nested) == ({"wamid.deep"}, {"1"}, {"t"})
    assert identifiers(b"\xff not json") == (set(), set(), set())
    assert identifiers(b"[" * 100000 + b"]" * 100000) == (set(), set(), set())


def test_oracle_follows_the_channels_order_size_then_parse() -> None:
    assert oracle(b"x" * (MAX_BODY + 1)) == ({413}, None)
    assert oracle(b"{not json") == ({400}, None)
    assert oracle(_body(mp.text(POOL[0], "hi"))) == ({200}, None)


def test_dedup_keys_are_the_channels_record_and_lease_keys() -> None:
    keys = dedup_keys(["wamid.A"], KEYRING)
    record = f"{DEDUP_NAMESPACE}:{message_key(References.from_keyring(KEYRING).dedup_key('wamid.A'))}".encode()
    assert keys == {record: "wamid.A", record + b":lease": "wamid.A"}
    assert b"wamid.A" not in record  # keyed, not the id itself


def test_pseudonyms_skip_what_is_not_an_identifier() -> None:
    assert pseudonyms(KEYRING, [POOL[0], "not a number", "\ud800"]) == {keys_for_user(KEYRING, POOL[0]).pseudonym}


def test_is_utf8() -> None:
    assert is_utf8("Ölga 😀") and not is_utf8("a\ud800")


def test_tally_attributes_accepted_refused_and_known_answers() -> None:
    tally = Tally("t")
    accepted = _body(mp.text(POOL[0], "angenommen", wamid="wamid.OK"))
    refused = _body(mp.text(POOL[1], "abgelehnt", wamid="wamid.NO"))
    tally.record("a", accepted, 200, {200})
    tally.record("r", refused, 403, {403})
    tally.record("k", refused, 500, {200}, known="some-bug")
    assert tally.offered == 3 and tally.problem_count == 0
    assert tally.accepted_ids == {"wamid.OK"} and tally.accepted_senders == {POOL[0]} and tally.accepted_texts == {"angenommen"}
    assert tally.known == {"some-bug": 1} and tally.known_senders == {POOL[1]}
    assert tally.offered_ids == tally.sink == {"wamid.OK", "wamid.NO"}
    assert tally.unexpected_5xx() == 0
    assert tally.answers() == "200×1, 403×1, 500×1"
    assert "some-bug×1" in tally.known_text()


def test_tally_records_an_unexpected_answer_with_a_reproducer() -> None:
    sink: set = set()
    tally = Tally("t", sink)
    body = _body(mp.text(POOL[0], "x", wamid="wamid.X"))
    tally.record("kind", body, 500, {200}, headers=[(b"X-A", b"b")])
    tally.record("kind", body, None, {200})
    assert tally.problem_count == 2 and tally.unexpected_5xx() == 1
    assert tally.answers() == "500×1, closed×1"
    assert tally.failures[0]["status"] == 500 and tally.failures[0]["headers"] == [["X-A", "b"]]
    assert "answered 500" in tally.problems[0]
    assert sink == {"wamid.X"}  # the module-wide sink collects for the clean-up


def test_tracker_rows_reads_pseudonym_tables_only(tmp_path: Path) -> None:
    assert tracker_rows(tmp_path / "missing.db") == {}
    db = tmp_path / "trackers.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE live (pseudonym TEXT, updated_at REAL, blob BLOB)")
        connection.execute("INSERT INTO live VALUES ('p1', 1.5, x'00')")
        connection.execute("CREATE TABLE other (name TEXT)")
    assert tracker_rows(db) == {("live", "p1"): 1.5}


def test_identifiers_count_the_contact_and_system_identifiers_the_channel_keys_on() -> None:
    """A message with only ``from`` takes its contacts[] entry's BSUID as anchor (issue 9): the
    conversation is keyed on that BSUID, so an accepted request's BSUID must count as its sender
    (found by the fuzz suite: a tracker row of a sender "in no accepted request")."""
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "contacts": [{"wa_id": "4915550000201", "user_id": "DE.1000000000000000201", "parent_user_id": "DE.ENT.1"}],
        "messages": [
            {"id": "wamid.C", "from": "4915550000201", "type": "text", "text": {"body": "hi"}},
            {"id": "wamid.S", "from": "4915550000202", "type": "system",
             "system": {"type": "user_changed_number", "new_wa_id": "4915550000203", "user_id": "DE.1000000000000000204"}},
        ]}}]}]}).encode()
    ids, senders, _ = identifiers(body)
    assert ids == {"wamid.C", "wamid.S"}
    assert senders == {"4915550000201", "DE.1000000000000000201", "DE.ENT.1", "4915550000202", "4915550000203",
                       "DE.1000000000000000204"}


def test_texts_from_our_own_code_are_told_apart_from_user_texts() -> None:
    """Hypothesis draws texts from our code's constants; such a text shows in logs as a code word."""
    from tests.support.fuzz.accounting import code_vocabulary, from_our_code
    from tests.support.paths import REPO_ROOT

    vocabulary = code_vocabulary(REPO_ROOT)
    assert from_our_code("DELIVERY_STATUSES", vocabulary) and from_our_code(" PrivacyRequestError ", vocabulary)
    assert not from_our_code("Zqxw Vbnm Plokij 4711 Glasbläserin", vocabulary)
