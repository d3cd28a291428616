"""What each inbound message becomes for Rasa (or a direct "more" page)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.whatsapp.inbound import DialogueTurn, DirectReply, to_rasa_input
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX
from connectors.whatsapp.render import render_response
from connectors.whatsapp.updates.messages import ButtonReply, ListReply
from connectors.whatsapp.updates.parser import parse_update
from tests.support.paths import UPDATES_DATA

DATA = UPDATES_DATA
WA_ID = "4915550000001"


def message_from(name: str) -> Any:
    return parse_update(json.loads((DATA / name).read_text(encoding="utf-8"))).messages[0]


async def turn_for(name: str) -> DialogueTurn:
    result = await to_rasa_input(message_from(name), InMemoryPayloadIdMap())
    assert isinstance(result, DialogueTurn)
    assert set(result.metadata) == {"channel", "message_type"} and result.metadata["channel"] == "whatsapp"
    return result


async def test_text_is_passed_as_typed() -> None:
    turn = await turn_for("text.json")
    assert (turn.text, turn.message_type) == ("Hallo, ich suche einen Job als Koch in Berlin", "text")


async def test_button_reply_id_is_the_rasa_payload() -> None:
    turn = await turn_for("interactive_button_reply.json")
    assert turn.text == '/select_job{"job_id":"10000-1190587234-S"}'
    assert turn.message_type == "button_reply"


async def test_list_reply_id_is_the_rasa_payload() -> None:
    turn = await turn_for("interactive_list_reply.json")
    assert (turn.text, turn.message_type) == ("/more_results", "list_reply")


async def test_template_quick_reply_sends_its_payload() -> None:
    turn = await turn_for("button.json")
    assert (turn.text, turn.message_type) == ("/new_search", "button")


async def test_location_becomes_share_location_with_coordinates() -> None:
    turn = await turn_for("location.json")
    assert turn.text == '/share_location{"latitude":52.520008,"longitude":13.404954}'
    assert turn.message_type == "location"


@pytest.mark.parametrize(
    ("name", "message_type"),
    [("image.json", "image"), ("video.json", "video"), ("document.json", "document"),
     ("sticker.json", "sticker"), ("contacts.json", "contacts"), ("reaction.json", "reaction"), ("order.json", "order"),
     ("unsupported.json", "unsupported"), ("unknown_type.json", "unsupported")],
)
async def test_unreadable_types_become_unsupported_message(name: str, message_type: str) -> None:
    turn = await turn_for(name)
    assert turn.text == '/unsupported_message{"message_type":"%s"}' % message_type
    assert turn.metadata == {"channel": "whatsapp", "message_type": message_type}


async def test_a_voice_note_without_transcription_gets_its_own_payload() -> None:
    turn = await turn_for("audio_voice.json")
    assert turn.text == "/voice_unavailable"
    assert turn.metadata == {"channel": "whatsapp", "message_type": "audio"}


def _tap(reply_id: str, title: str = "Titel", kind: type = ButtonReply) -> Any:
    return kind(message_id="wamid.X", sender=WA_ID, message_type="interactive", timestamp=None,
                phone_number_id=None, reply_id=reply_id, title=title)


async def test_long_payload_token_resolves_to_the_full_payload() -> None:
    id_map = InMemoryPayloadIdMap()
    payload = '/select_job{"job_id":"' + "x" * 300 + '"}'
    token = await id_map.remember(payload)
    for kind in (ButtonReply, ListReply):
        turn = await to_rasa_input(_tap(token, kind=kind), id_map)
        assert isinstance(turn, DialogueTurn) and turn.text == payload
        again = await to_rasa_input(_tap(token + ".2", kind=kind), id_map)
        assert isinstance(again, DialogueTurn) and again.text == payload


async def test_unknown_or_expired_token_falls_back_to_the_title() -> None:
    turn = await to_rasa_input(_tap("~AAAAAAAAAAAAAAAA", title="Neue Suche"), InMemoryPayloadIdMap())
    assert isinstance(turn, DialogueTurn) and turn.text == "Neue Suche"
    untitled = await to_rasa_input(_tap("~AAAAAAAAAAAAAAAA", title=""), InMemoryPayloadIdMap())
    assert isinstance(untitled, DialogueTurn) and untitled.text.startswith("/unsupported_message")


async def test_more_row_yields_the_next_page_without_the_dialogue() -> None:
    id_map = InMemoryPayloadIdMap()
    buttons = [{"title": f"Stelle {n}", "payload": f'/select_job{{"job_id":"{n}"}}'} for n in range(1, 26)]
    rendered = await render_response({"text": "Ergebnisse", "buttons": buttons}, id_map=id_map, language="de")
    rows = [row for message in rendered if message.get("type") == "interactive"
            for section in message["interactive"]["action"].get("sections", []) for row in section["rows"]]
    more = [row["id"] for row in rows if row["id"].startswith(MORE_TOKEN_PREFIX)]
    assert len(more) == 1
    result = await to_rasa_input(_tap(more[0], title="Mehr", kind=ListReply), id_map)
    assert isinstance(result, DirectReply)
    assert len(result.messages) == 1 and result.messages[0]["type"] == "interactive"
    page_rows = [row for section in result.messages[0]["interactive"]["action"]["sections"] for row in section["rows"]]
    assert page_rows[0]["id"] == '/select_job{"job_id":"10"}'
