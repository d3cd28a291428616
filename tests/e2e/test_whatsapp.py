"""End to end: the trained assistant behind the WhatsApp webhook, as Meta would drive it.

Three real processes on loopback: the Meta Graph stand-in, the action server and ``rasa run``
with our channel and the encrypted SQLite tracker store. The test plays Meta: it posts
signed webhooks (harness.webhook_sender) and reads what the assistant sent to the stand-in.

Needs a trained model (``make train``); ``make test`` trains before it runs these
(marker ``e2e``). Without a model they skip, except under CI=true, where they fail.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Iterator, List

import httpx
import pytest

from tests.support.meta_users import as_user as _as_user, system_change as _system_change
from tests.support.model import require_model
from tests.support.stores import stored_conversation
from tests.support.webhook_turns import post_signed, turn, wait_until_quiet
from tests.support.replies import text_of
from rasa.shared.core.events import UserUttered
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.webhook_sender import WebhookSender

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("e2e"), model=require_model())
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _choices(message: Dict[str, Any]) -> Dict[str, str]:
    """Title -> id of a reply-button or list message."""
    interactive = message.get("interactive", {})
    if interactive.get("type") == "button":
        return {b["reply"]["title"]: b["reply"]["id"] for b in interactive["action"]["buttons"]}
    if interactive.get("type") == "list":
        return {row["title"]: row["id"] for section in interactive["action"]["sections"] for row in section["rows"]}
    return {}


async def test_a_whole_job_search_by_taps_only(assistant: LocalStack) -> None:
    wa_id = "4915550000101"
    greeting = await turn(assistant, mp.text(wa_id, "Hallo"), wa_id)
    menu = _choices(greeting[-1])
    assert "Jobs suchen" in menu, greeting

    ask_title = await turn(assistant, mp.button_reply(wa_id, menu["Jobs suchen"], "Jobs suchen"), wa_id)
    titles = _choices(ask_title[-1])
    assert "Als was möchtest du arbeiten?" in text_of(ask_title[-1])
    assert ask_title[-1]["interactive"]["type"] == "list" and "Koch/Köchin" in titles

    ask_place = await turn(assistant, mp.list_reply(wa_id, titles["Koch/Köchin"], "Koch/Köchin"), wa_id)
    places = _choices(ask_place[-1])
    assert "Berlin" in places, ask_place

    results = await turn(assistant, mp.list_reply(wa_id, places["Berlin"], "Berlin"), wa_id)
    assert "Stellen für \"Koch\" in Berlin" in text_of(results[0])
    jobs = {title: row_id for message in results for title, row_id in _choices(message).items()
            if row_id.startswith("/select_job")}
    assert jobs, results
    first_title, first_id = sorted(jobs.items())[0]

    details = await turn(assistant, mp.list_reply(wa_id, first_id, first_title), wa_id)
    assert "Arbeitgeber:" in text_of(details[-1]) and "https://jobs.example.org/" in text_of(details[-1])
    again = _choices(details[-1])
    assert "Neue Suche" in again

    restart = await turn(assistant, mp.button_reply(wa_id, again["Neue Suche"], "Neue Suche"), wa_id)
    assert "Als was möchtest du arbeiten?" in text_of(restart[-1])


async def test_english_text_search_and_a_location_share(assistant: LocalStack) -> None:
    wa_id = "4915550000102"
    results = await turn(assistant, mp.text(wa_id, "I'm looking for a job as a cook in Hamburg"), wa_id)
    assert any("jobs for" in text_of(m) for m in results), results
    ask = await turn(assistant, mp.text(wa_id, "I need a job as a baker"), wa_id)
    assert ask, "the assistant answered"
    shared = await turn(assistant, mp.location(wa_id, 48.137, 11.575, name="Marienplatz"), wa_id)
    assert any("München" in text_of(m) for m in shared), shared


async def test_an_image_gets_a_polite_answer_in_the_users_language(assistant: LocalStack) -> None:
    wa_id = "4915550000103"
    await turn(assistant, mp.text(wa_id, "Hello, do you speak English?"), wa_id)
    answer = await turn(assistant, mp.image(wa_id, caption="my CV"), wa_id)
    assert "I can only read text messages" in text_of(answer[-1]), answer


async def test_five_concurrent_deliveries_of_one_message_give_one_reply(assistant: LocalStack) -> None:
    wa_id = "4915550000104"
    message = mp.text(wa_id, "Hilfe")
    async with WebhookSender(assistant.webhook_url(), assistant.app_secret, retry_delays=(0.3, 0.6, 1.2, 2.4)) as sender:
        deliveries = await asyncio.gather(*(sender.send(mp.payload(message)) for _ in range(5)))
    assert all(d.delivered for d in deliveries), deliveries
    await asyncio.sleep(2.0)
    replies = assistant.sent_to(wa_id)
    assert len(replies) == 1 and "Ich kann:" in text_of(replies[0]), replies


async def test_graph_api_faults_still_end_with_exactly_one_reply(assistant: LocalStack) -> None:
    wa_id = "4915550000105"
    # More failures than the channel's retries: the first webhook delivery answers 503, and
    # Meta's (here: the sender's) redelivery sends what is still missing.
    fault = {"status": 500, "code": 2, "count": 8}
    assert httpx.post(f"{assistant.graph_url}/_standin/faults", json=fault, timeout=5).status_code == 200
    replies = await turn(assistant, mp.text(wa_id, "Bist du ein Bot?"), wa_id, settle=2.0)
    assert len(replies) == 1 and "Ich bin ein Bot" in text_of(replies[0]), replies


async def test_export_then_confirmed_erasure_through_whatsapp(assistant: LocalStack) -> None:
    wa_id = "4915550000106"
    await turn(assistant, mp.text(wa_id, "Ich suche einen Job als Koch in Berlin"), wa_id)
    export = await turn(assistant, mp.text(wa_id, "Welche Daten habt ihr?"), wa_id)
    summary = text_of(export[-1])
    assert "Das speichere ich über dich" in summary and "Koch" in summary and "Berlin" in summary, export
    assert wa_id not in summary

    ask = await turn(assistant, mp.text(wa_id, "Lösche meine Daten"), wa_id)
    choices = _choices(ask[-1])
    assert "Ja, alles löschen" in choices, ask
    done = await turn(assistant, mp.button_reply(wa_id, choices["Ja, alles löschen"], "Ja, alles löschen"), wa_id)
    assert len(done) == 1 and "Erledigt" in text_of(done[0]), done

    after = await turn(assistant, mp.text(wa_id, "Welche Daten habt ihr?"), wa_id)
    assert "Koch" not in text_of(after[-1]) and "Berlin" not in text_of(after[-1]), after


# --------------------------------------------------------------- identity (usernames, BSUIDs)
# Identifiers of the username era (obviously fake): a BSUID is a country code, a dot and digits.
BSUID_USER = "DE.1000000000000000101"
BSUID_MIGRATING = "DE.1000000000000000102"
PHONE_MIGRATING = "4915550000107"
BSUID_BEFORE_CHANGE = "DE.1000000000000000103"
BSUID_AFTER_CHANGE = "DE.1000000000000000104"
PARENT_BSUID = "DE.ENT.2000000000000000101"
USERNAME = "@erika_beispiel_test"
IDENTITY_SECRETS = (BSUID_USER, BSUID_MIGRATING, BSUID_BEFORE_CHANGE, BSUID_AFTER_CHANGE, PARENT_BSUID, USERNAME)


def _sent_records(assistant: LocalStack, address: str) -> List[Dict[str, Any]]:
    """What the Graph stand-in accepted for ``address``, whether addressed by ``to`` or ``recipient``."""
    return [m for m in assistant.sent() if address in (m.get("to"), m.get("recipient"))]


async def _identity_turn(assistant: LocalStack, body: Dict[str, Any], address: str, settle: float = 1.0) -> List[Dict[str, Any]]:
    """Deliver one POST body and return the records the stand-in accepted for ``address`` after it.

    A ``settle`` under a second marks a message that must get no reply: after ``3 * settle``
    seconds without any, the turn is over.
    """
    before = len(_sent_records(assistant, address))
    await post_signed(assistant, body)
    await wait_until_quiet(lambda: len(_sent_records(assistant, address)), before, settle,
                           silence=3 * settle if settle < 1.0 else None)
    return _sent_records(assistant, address)[before:]


def _stored_pseudonyms(assistant: LocalStack) -> List[str]:
    import sqlite3

    with sqlite3.connect(assistant.db_path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [row[0] for table in tables for row in db.execute(f"SELECT pseudonym FROM {table}")]


def _pseudonym_of(assistant: LocalStack, identifier: str) -> str:
    from privacy.identity import pseudonym
    from privacy.keyring import Secret

    return pseudonym(Secret.from_hex(assistant.privacy_key), identifier)


async def test_a_username_user_without_a_number_is_answered_via_recipient(assistant: LocalStack) -> None:
    body = _as_user(mp.text("0", "Hallo"), phone=None, user_id=BSUID_USER, username=USERNAME)
    replies = await _identity_turn(assistant, body, BSUID_USER)
    assert replies and "Blaupause-Jobassistent" in text_of(replies[0]["message"]), replies
    for record in replies:
        assert record.get("recipient") == BSUID_USER and not record.get("to"), record


def _tap(previous: List[Dict[str, Any]], title: str) -> Dict[str, Any]:
    """The interactive reply a tap on ``title`` in the previous replies (stand-in records) sends."""
    for record in reversed(previous):
        message = record["message"]
        choices = _choices(message)
        if title in choices:
            kind = mp.list_reply if message["interactive"]["type"] == "list" else mp.button_reply
            return kind("0", choices[title], title)
    raise AssertionError(f"no choice {title!r} in {previous}")


async def test_a_conversation_begun_with_a_number_continues_after_the_number_disappears(assistant: LocalStack) -> None:
    # 1. An old-style payload (number only): the conversation is stored under the number's pseudonym.
    first = await _identity_turn(assistant, _as_user(mp.text("0", "Hallo"), phone=PHONE_MIGRATING, user_id=None),
                                 PHONE_MIGRATING)
    assert first and "Blaupause-Jobassistent" in text_of(first[0]["message"]), first
    assert _pseudonym_of(assistant, PHONE_MIGRATING) in _stored_pseudonyms(assistant)
    # 2. Number and BSUID: the conversation moves to the BSUID's pseudonym; the reply still goes to the number.
    second = await _identity_turn(assistant, _as_user(mp.text("0", "Ich suche einen Job als Koch"),
                                                      phone=PHONE_MIGRATING, user_id=BSUID_MIGRATING), PHONE_MIGRATING)
    assert "Wo soll der Job sein?" in text_of(second[-1]["message"]), second
    assert all(r.get("to") == PHONE_MIGRATING and not r.get("recipient") for r in second), second
    stored = _stored_pseudonyms(assistant)
    assert _pseudonym_of(assistant, BSUID_MIGRATING) in stored
    assert _pseudonym_of(assistant, PHONE_MIGRATING) not in stored, "the number's record was not removed"
    # 3. BSUID only (Meta stopped sharing the number): same conversation, the job title is remembered.
    third = await _identity_turn(assistant, _as_user(_tap(second, "Berlin"), phone=None, user_id=BSUID_MIGRATING),
                                 BSUID_MIGRATING)
    assert any("Stellen für \"Koch\" in Berlin" in text_of(r["message"]) for r in third), third
    assert all(r.get("recipient") == BSUID_MIGRATING and not r.get("to") for r in third), third
    # What was said before the move is in the conversation now stored under the BSUID.
    events = await stored_conversation(f"sqlite:///{assistant.db_path}", "encrypted_trackers",
                                       assistant.privacy_key, BSUID_MIGRATING)
    said = [event.text for event in events if isinstance(event, UserUttered)]
    assert said[:2] == ["Hallo", "Ich suche einen Job als Koch"], said


async def test_a_changed_bsuid_keeps_the_conversation_and_gets_no_reply(assistant: LocalStack) -> None:
    asked = await _identity_turn(assistant, _as_user(mp.text("0", "Ich suche einen Job als Koch"), phone=None,
                                                     user_id=BSUID_BEFORE_CHANGE, parent_user_id=PARENT_BSUID),
                                 BSUID_BEFORE_CHANGE)
    assert "Wo soll der Job sein?" in text_of(asked[-1]["message"]), asked

    silent = await _identity_turn(assistant, _system_change(BSUID_BEFORE_CHANGE, BSUID_AFTER_CHANGE),
                                  BSUID_AFTER_CHANGE, settle=0.5)
    assert silent == [], "a system message must not be answered with a chat reply"
    assert _sent_records(assistant, BSUID_BEFORE_CHANGE) == asked
    stored = _stored_pseudonyms(assistant)
    assert _pseudonym_of(assistant, BSUID_AFTER_CHANGE) in stored
    assert _pseudonym_of(assistant, BSUID_BEFORE_CHANGE) not in stored

    results = await _identity_turn(assistant, _as_user(_tap(asked, "Berlin"), phone=None, user_id=BSUID_AFTER_CHANGE),
                                   BSUID_AFTER_CHANGE)
    assert any("Stellen für \"Koch\" in Berlin" in text_of(r["message"]) for r in results), results


def test_nothing_personal_reaches_the_disk(assistant: LocalStack) -> None:
    raw = assistant.db_path.read_bytes()
    assert raw, "the tracker store was written"
    for secret in (b"4915550000101", b"4915550000102", b"Erika Testfrau", b"Hallo", b"Koch", b"Hamburg", b"select_job"):
        assert secret not in raw, secret
    for name, log in assistant.logs.items():
        if name == "graph":
            continue  # the stand-in plays Meta: it must see the numbers it delivers to
        text = log.read_bytes()
        for secret in (b"4915550000101", b"Erika Testfrau", *(s.encode() for s in IDENTITY_SECRETS)):
            assert secret not in text, (name, secret)
    for secret in IDENTITY_SECRETS:  # the username era: BSUIDs, parent BSUIDs, usernames never at rest
        for encoded in (secret.encode(), secret.casefold().encode(), secret.lstrip("@").encode()):
            assert encoded not in raw, secret
