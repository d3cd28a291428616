"""The preview's JSON API: a page action becomes a signed webhook, the reply an event, per session."""
from __future__ import annotations

import asyncio

import pytest

from preview.sessions import DEFAULT_BSUID, DEFAULT_NUMBER


def _bot_texts(events):
    return [data["message"]["text"]["body"] for name, data in events if name == "bot"]


def _has_bot(events, count=1):
    return len([e for e in events if e[0] == "bot"]) >= count


async def test_config_lists_a_phone_user_and_a_username_user(preview):
    config = (await preview.http.get("/api/config")).json()

    phone, bsuid = config["sessions"]
    assert (phone["id"], phone["phone"], phone["username"]) == ("phone", DEFAULT_NUMBER, None)
    assert phone["user_id"].startswith("DE.1") and phone["label"] == "Erika · +49 1555 0000001"
    assert (bsuid["id"], bsuid["phone"], bsuid["user_id"]) == ("bsuid", None, DEFAULT_BSUID)
    assert bsuid["label"] == "@lena_test (nur Username)"
    assert [p["name"] for p in config["location_presets"]] == ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main"]
    assert config["business_name"] == "Blaupause Jobs"


async def test_a_text_becomes_a_signed_webhook_and_the_reply_a_bot_event(preview):
    response = await preview.send("phone", {"type": "text", "text": "Ich suche einen Job als Koch in Berlin"})

    assert response.status_code == 200
    sent = response.json()
    assert sent["status"] == 200 and sent["message"]["text"]["body"] == "Ich suche einen Job als Koch in Berlin"
    assert (sent["message"]["from"], sent["message"]["id"]) == (DEFAULT_NUMBER, sent["wamid"])
    [body] = preview.assistant.bodies  # the signature checked out (a forged one is answered 401)
    assert preview.assistant.refused == 0
    assert body["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] == "Erika"

    events = await preview.events_until("phone", _has_bot)
    names = [name for name, _ in events]
    assert names[0] == "user" and events[0][1]["wamid"] == sent["wamid"]
    assert _bot_texts(events) == ["echo:Ich suche einen Job als Koch in Berlin"]
    bot = next(data for name, data in events if name == "bot")
    assert bot["message"]["to"] == DEFAULT_NUMBER and bot["wamid"].startswith("wamid.")
    assert bot["time"] >= events[0][1]["time"]


async def test_the_username_session_is_answered_via_recipient_and_sees_only_its_own_replies(preview):
    await preview.send("bsuid", {"type": "text", "text": "Hallo"})
    await preview.send("phone", {"type": "text", "text": "Servus"})

    events = await preview.events_until("bsuid", _has_bot)
    await asyncio.sleep(0.2)  # the other session's reply has arrived by now
    events = await preview.events_until("bsuid", _has_bot)
    assert _bot_texts(events) == ["echo:Hallo"]
    bot = next(data for name, data in events if name == "bot")
    assert bot["message"]["recipient"] == DEFAULT_BSUID and "to" not in bot["message"]
    user = next(data for name, data in events if name == "user")
    assert "from" not in user["message"] and user["message"]["from_user_id"] == DEFAULT_BSUID


async def test_a_tap_sends_the_interactive_reply_quoting_the_tapped_message(preview):
    tapped = "wamid.FAKEBOTMESSAGE"
    button = {"type": "tap", "kind": "button_reply", "id": "/affirm", "title": "Ja", "context": tapped}
    row = {"type": "tap", "kind": "list_reply", "id": "job_1", "title": "Koch", "description": "Berlin", "context": tapped}

    assert (await preview.send("phone", button)).status_code == 200
    assert (await preview.send("phone", row)).status_code == 200

    events = await preview.events_until("phone", lambda e: _has_bot(e, 2))
    assert _bot_texts(events) == ["echo:interactive:/affirm", "echo:interactive:job_1"]
    first, second = (b["entry"][0]["changes"][0]["value"]["messages"][0] for b in preview.assistant.bodies)
    assert first["context"]["id"] == tapped and first["interactive"]["button_reply"] == {"id": "/affirm", "title": "Ja"}
    assert second["interactive"]["list_reply"] == {"id": "job_1", "title": "Koch", "description": "Berlin"}


async def test_a_location_and_an_image_are_sent_as_whatsapp_sends_them(preview):
    await preview.send("phone", {"type": "location", "latitude": 52.52, "longitude": 13.405, "name": "Berlin"})
    image = (await preview.send("phone", {"type": "image", "caption": "Mein Lebenslauf"})).json()

    events = await preview.events_until("phone", lambda e: _has_bot(e, 2))
    assert _bot_texts(events) == ["echo:location:52.52,13.405", "echo:image"]
    assert image["message"]["image"]["caption"] == "Mein Lebenslauf"
    assert image["message"]["image"]["id"] in preview.standin.media.items  # where the channel would fetch it


async def test_a_voice_note_is_put_on_the_stand_in_and_transcribed_by_the_channel(preview):
    sent = (await preview.send("phone", {"type": "voice", "text": "Ich suche einen Job als Koch", "unsure": False})).json()

    events = await preview.events_until("phone", _has_bot)
    assert _bot_texts(events) == ["echo:voice:Ich suche einen Job als Koch"]
    assert sent["message"]["audio"]["voice"] is True and preview.standin.media_downloads == 1


async def test_read_ticks_and_typing_follow_the_stand_in(preview):
    preview.assistant.reply_delay = 0.3  # the typing indicator shows while the "bot" thinks

    sent = (await preview.send("phone", {"type": "text", "text": "Hallo"})).json()

    events = await preview.events_until("phone", _has_bot)
    states = [data["state"] for name, data in events if name == "status" and data["wamid"] == sent["wamid"]]
    assert states == ["sent", "delivered", "read"] or states == ["sent", "read"]
    names = [name if name != "typing" else f"typing:{data['on']}" for name, data in events]
    assert names.index("typing:True") < names.index("typing:False") < names.index("bot")
    assert preview.standin.reads[0].message_id == sent["wamid"] and preview.standin.reads[0].typing


async def test_typing_stops_by_itself_when_no_reply_comes(preview):
    session = preview.api.sessions["phone"]
    session.user_sent({"id": "wamid.FAKEQUIET", "type": "text", "text": {"body": "x"}})
    from standins.meta_graph import ReadReceipt

    session.read_receipt(ReadReceipt(message_id="wamid.FAKEQUIET", typing=True, received_at=0.0))
    events = await preview.events_until("phone", lambda e: ("typing", {"on": False}) in e, timeout=5)
    assert ("typing", {"on": True}) in events  # on, then off after the (test's) 0.5 s timeout


async def test_history_is_replayed_to_a_late_page(preview):
    await preview.send("phone", {"type": "text", "text": "eins"})
    await preview.events_until("phone", _has_bot)

    replayed = await preview.events_until("phone", _has_bot)
    assert [name for name, _ in replayed][:2] == ["user", "status"] and _bot_texts(replayed) == ["echo:eins"]


async def test_reset_gives_a_new_identity_and_forgets_the_history(preview):
    await preview.send("phone", {"type": "text", "text": "eins"})
    await preview.events_until("phone", _has_bot)

    reset = (await preview.http.post("/api/sessions/phone/reset")).json()["session"]

    assert reset["phone"] != DEFAULT_NUMBER and reset["phone"].startswith("4915550") and len(reset["phone"]) == 13
    assert reset["user_id"].startswith("DE.1") and preview.api.sessions["phone"].history == []
    sent = (await preview.send("phone", {"type": "text", "text": "zwei"})).json()
    assert sent["message"]["from"] == reset["phone"]
    events = await preview.events_until("phone", _has_bot)
    assert _bot_texts(events) == ["echo:zwei"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "text", "text": ""},
        {"type": "text"},
        {"type": "sticker"},
        {"type": "tap", "kind": "button_reply", "id": "x", "title": "X"},  # no context
        {"type": "tap", "kind": "carousel", "id": "x", "title": "X", "context": "wamid.FAKE"},
        {"type": "location", "latitude": 91, "longitude": 0},
        {"type": "location", "latitude": "52", "longitude": 13},
        {"type": "voice", "text": "hallo", "unsure": "yes"},
        ["not", "an", "object"],
    ],
)
async def test_a_bad_action_is_refused_and_sends_nothing(preview, body):
    response = await preview.send("phone", body)

    assert response.status_code == 400 and response.json()["error"]
    assert preview.assistant.bodies == [] and preview.api.sessions["phone"].history == []


async def test_an_unknown_session_is_404(preview):
    assert (await preview.send("nobody", {"type": "text", "text": "x"})).status_code == 404
    assert (await preview.http.get("/api/sessions/nobody/events")).status_code == 404


async def test_the_gallery_route_serves_every_response_of_the_project(preview):
    """GET /api/gallery is preview.gallery.gallery_document over the project's domain (project_root)."""
    import yaml

    from tests.support.paths import REPO_ROOT

    preview.api.project_root = REPO_ROOT
    response = await preview.http.get("/api/gallery")
    assert response.status_code == 200
    body = response.json()
    assert body["languages"] == ["de", "en"]
    names = set((yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8")) or {})["responses"])
    assert {(r["name"], r["language"]) for r in body["responses"]} == {(n, l) for n in names for l in ("de", "en")}
    assert body["summary"]["responses"] == len(names)