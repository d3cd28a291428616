"""End to end: voice notes through the real processes (issue 14, "Done when").

The processes of harness.local_stack.LocalStack with ``stt=True``: the Meta Graph stand-in (it
holds the users' recordings as Meta does: upload, media URL, download), the transcription
stand-in (an OpenAI-compatible ``/v1/audio/transcriptions`` that "hears" the words
harness/voice_notes.py writes into each Ogg Opus note), the action server and ``rasa run`` with
the channel and the encrypted SQLite store. The test plays Meta and the users: it puts each
recording on the Graph stand-in and posts the signed ``audio`` webhook that names its media id.

Covered: a whole job search by voice notes only (a confident note, an unsure one confirmed by a
tap); a failed media download and a failed transcription each get a clear answer and lose
nothing of the conversation; afterwards the database files and the processes' logs hold no
audio, no media id, no media URL and no transcript in clear, while the conversation, decrypted
with the user's keys, holds the transcripts marked as voice notes.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest
from rasa.shared.core.events import UserUttered

from harness import at_rest
from harness import meta_payloads as mp
from harness.local_stack import LocalStack
from harness.voice_notes import voice_note
from tests.support.model import require_model
from tests.support.stores import stored_conversation
from tests.support.webhook_turns import turn
from tests.support.replies import text_of

pytestmark = pytest.mark.e2e

SEARCH = "Ich suche einen Job als Koch"
PLACE = "Berlin"
HEARD_ALONE = "Kellnerin in Potsdam gesucht"  # said in a note whose transcription fails: never stored
SPOKEN: list[str] = []  # every transcript the stand-in produced (needles for the scans)
MEDIA_IDS: list[str] = []  # every media id the users' webhooks named


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("e2e-voice"), model=require_model(), stt=True)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


async def _say(assistant: LocalStack, wa_id: str, words: str, *, confidence: float | None = None) -> List[Dict[str, Any]]:
    """A voice note that says ``words``: the recording goes to Meta (the stand-in), the webhook names it."""
    recording = voice_note(words, seconds=max(1.0, 0.4 * len(words.split())), confidence=confidence, language="de")
    media_id = assistant.upload_media(recording)
    SPOKEN.append(words)
    MEDIA_IDS.append(media_id)
    return await turn(assistant, mp.audio(wa_id, media_id=media_id), wa_id)


def _buttons(message: Dict[str, Any]) -> Dict[str, str]:
    interactive = message.get("interactive", {})
    if interactive.get("type") != "button":
        return {}
    return {b["reply"]["title"]: b["reply"]["id"] for b in interactive["action"]["buttons"]}


def _all_text(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(text_of(m) for m in replies)


async def test_a_whole_job_search_by_voice_notes_only(assistant: LocalStack) -> None:
    wa_id = "4915550000141"
    asked = await _say(assistant, wa_id, SEARCH)
    assert "Wo" in _all_text(asked) or "Ort" in _all_text(asked), asked  # the location question
    unsure = await _say(assistant, wa_id, f"in {PLACE}", confidence=0.35)
    question = unsure[-1]
    assert f"Ich habe verstanden: „in {PLACE}“" in text_of(question), unsure
    choices = _buttons(question)
    assert set(choices) == {"Ja, stimmt", "Nein"}, choices
    results = await turn(assistant, mp.button_reply(wa_id, choices["Ja, stimmt"], "Ja, stimmt"), wa_id)
    assert f'Stellen für "Koch" in {PLACE}' in _all_text(results), results
    # what was stored: the transcripts as the user's messages, marked, and the confirmed one
    events = await stored_conversation(f"sqlite:///{assistant.db_path}", "encrypted_trackers", assistant.privacy_key, wa_id)
    said = [e for e in events if isinstance(e, UserUttered)]
    assert said[0].text == SEARCH and said[0].metadata.get("voice_note") is True
    assert said[1].intent.get("name") == "voice_unsure" and said[1].metadata.get("message_type") == "audio"
    assert said[2].text == f"in {PLACE}"
    requests = assistant.stt_requests()
    assert requests and all(r["language"] in (None, "de") for r in requests)


async def test_a_failed_media_download_gets_an_answer_and_loses_nothing(assistant: LocalStack) -> None:
    wa_id = "4915550000142"
    asked = await _say(assistant, wa_id, SEARCH)
    assert asked
    assistant.inject_media_faults(stage="download", status=500, count=20)
    try:
        failed = await _say(assistant, wa_id, PLACE)
    finally:
        httpx_delete(f"{assistant.graph_url}/_standin/media/faults")
    assert "Ich konnte deine Sprachnachricht nicht abrufen, schreib mir bitte." in _all_text(failed), failed
    # nothing lost: the job title the first note gave is still there, so a typed place completes the search
    results = await turn(assistant, mp.text(wa_id, PLACE), wa_id)
    assert f'Stellen für "Koch" in {PLACE}' in _all_text(results), results
    # a media id Meta does not know (deleted, or from another number) is answered the same way
    gone = await turn(assistant, mp.audio(wa_id, media_id="1049999999999999"), wa_id)
    assert "nicht abrufen" in _all_text(gone), gone


async def test_a_failed_transcription_gets_an_answer_and_the_next_note_works(assistant: LocalStack) -> None:
    wa_id = "4915550000143"
    assistant.inject_stt_faults(status=500, count=2)  # the client tries twice
    failed = await _say(assistant, wa_id, HEARD_ALONE)
    SPOKEN.remove(HEARD_ALONE)  # never transcribed: it is a needle of its own below
    assert "nicht verstehen" in _all_text(failed), failed
    again = await _say(assistant, wa_id, f"{SEARCH} in {PLACE}")
    assert f'Stellen für "Koch" in {PLACE}' in _all_text(again), again


async def test_nothing_of_a_voice_note_is_readable_at_rest_or_in_the_logs(assistant: LocalStack) -> None:
    assert SPOKEN and MEDIA_IDS, "runs after the conversations above"
    words = [*SPOKEN, HEARD_ALONE, "Potsdam", "Kellnerin"]
    secrets = at_rest.needles([*words, *MEDIA_IDS, "lookaside", "_lookaside/whatsapp_business"])
    secrets["Ogg recording"] = (b"opushead", b"opustags", b"blaupause_transcript")
    found = at_rest.scan_sqlite_file(assistant.db_path, secrets)
    assert not found, "\n".join(map(str, found))
    # every process but the Graph stand-in (it plays Meta, which holds the recordings) and the
    # transcription stand-in (it plays the operator's transcription server)
    logs = [path for name, path in assistant.logs.items() if name not in ("graph", "stt")]
    log_needles = at_rest.needles([*words, *MEDIA_IDS, "lookaside"])
    found = at_rest.scan_files(logs, log_needles)
    assert not found, "\n".join(map(str, found))


def httpx_delete(url: str) -> None:
    import httpx

    httpx.delete(url, timeout=5).raise_for_status()
