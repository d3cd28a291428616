"""connectors/whatsapp/turn.py: one message -> Rasa -> post-turn hook -> rendered replies."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

import connectors.whatsapp.turn as turn_module
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.maps import owned_by
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.payload_ids.tokens import MORE_TOKEN_PREFIX
from privacy.requests.markers import PRIVACY_REQUEST_KEY
from connectors.whatsapp.references import References
from connectors.whatsapp.turn import Turn
from connectors.whatsapp.updates.messages import ListReply, TextMessage
from privacy.context import UserKeys, keys_for_user
from privacy.owner_tags import owner_tag
from privacy.keyring import Keyring, Secret

PHONE = "4915550000951"
WAMID = "wamid.turn000001"
BUTTONS = [{"title": f"Option {n}", "payload": f"/option_{n}"} for n in range(1, 6)]


class Dialogue:
    """Answers like Rasa through the output channel with ``answers``; records the UserMessage."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = answers or ({"text": "Antwort"},)
        self.received: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        for answer in self.answers:
            await message.output_channel.send_response(message.sender_id, answer)


class Hook:
    """A post-turn hook that replaces every message by one text and records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, Any]], UserKeys, str]] = []
        self.moves: list[tuple[UserKeys, UserKeys, str]] = []

    async def after_turn(self, bot_messages: list[dict[str, Any]], user_keys: UserKeys, ref: str) -> list[dict[str, Any]]:
        self.calls.append((bot_messages, user_keys, ref))
        return [{"text": "vom Hook"}]

    async def move_conversation(self, source: UserKeys, target: UserKeys, ref: str) -> bool:
        self.moves.append((source, target, ref))
        return True


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(current=Secret.generate())


@pytest.fixture
def languages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the language every render_response call gets."""
    seen: list[str] = []
    real = turn_module.render_response

    async def recording(bot_message: Any, *, id_map: Any, language: str) -> list[dict[str, Any]]:
        seen.append(language)
        return await real(bot_message, id_map=id_map, language=language)

    monkeypatch.setattr(turn_module, "render_response", recording)
    return seen


def make_turn(keyring: Keyring, dialogue: Any, **kwargs: Any) -> Turn:
    return Turn(dialogue, id_map=InMemoryPayloadIdMap(), references=References.from_keyring(keyring),
                output_factory=WhatsAppOutput, **kwargs)


def bodies(replies: list[dict[str, Any]]) -> list[str]:
    return [reply["text"]["body"] for reply in replies]


def text(body: str = "Hallo") -> TextMessage:
    return TextMessage(WAMID, PHONE, "text", 1, "1", phone=PHONE, body=body)


async def test_the_dialogue_gets_the_pseudonym_and_a_keyed_message_id(keyring: Keyring) -> None:
    dialogue = Dialogue()
    keys = keys_for_user(keyring, PHONE)
    replies = await make_turn(keyring, dialogue).produce(text("Ich suche Arbeit"), keys, "ref")
    [message] = dialogue.received
    assert message.sender_id == keys.pseudonym and message.text == "Ich suche Arbeit"
    assert message.input_channel == "whatsapp" and message.metadata == {"channel": "whatsapp", "message_type": "text"}
    assert message.message_id == References.from_keyring(keyring).rasa_message_id(WAMID) and WAMID not in message.message_id
    assert bodies(replies) == ["Antwort"]


async def test_an_address_in_a_native_message_is_dropped(keyring: Keyring) -> None:
    native = {"custom": {"whatsapp": {"type": "text", "text": {"body": "x"}, "to": "4915550000999", "recipient": "DE.9"}}}
    [reply] = await make_turn(keyring, Dialogue(native)).produce(text(), keys_for_user(keyring, PHONE), "ref")
    assert "to" not in reply and "recipient" not in reply


async def test_the_hook_runs_after_the_turn_and_its_messages_are_rendered(keyring: Keyring) -> None:
    hook, keys = Hook(), keys_for_user(keyring, PHONE)
    replies = await make_turn(keyring, Dialogue({"text": "a"}, {"text": "b"}), privacy=hook).produce(text(), keys, "ref7")
    [(messages, user_keys, ref)] = hook.calls
    assert [m["text"] for m in messages] == ["a", "b"] and user_keys is keys and ref == "ref7"
    assert bodies(replies) == ["vom Hook"]


async def test_without_a_hook_privacy_markers_are_dropped(keyring: Keyring) -> None:
    marker = {"custom": {PRIVACY_REQUEST_KEY: "erase"}}
    replies = await make_turn(keyring, Dialogue({"text": "vorher"}, marker)).produce(text(), keys_for_user(keyring, PHONE), "ref")
    assert bodies(replies) == ["vorher"]


async def test_moving_needs_the_hook(keyring: Keyring) -> None:
    source, target = keys_for_user(keyring, PHONE), keys_for_user(keyring, "4915550000952")
    bare = make_turn(keyring, Dialogue())
    assert not bare.can_move and await bare.move_conversation(source, target, "ref") is False
    hook = Hook()
    hooked = make_turn(keyring, Dialogue(), privacy=hook)
    assert hooked.can_move and await hooked.move_conversation(source, target, "ref") is True
    assert hook.moves == [(source, target, "ref")]


async def test_the_responses_language_wins(keyring: Keyring, languages: list[str]) -> None:
    async def never(pseudonym: str) -> str:
        raise AssertionError("not asked when the response names its language")

    turn = make_turn(keyring, Dialogue({"text": "Hi", "buttons": BUTTONS, "language": "en"}), language_lookup=never)
    await turn.produce(text(), keys_for_user(keyring, PHONE), "ref")
    assert languages == ["en"]


async def test_the_slot_is_asked_only_when_labels_appear(keyring: Keyring, languages: list[str]) -> None:
    asked: list[str] = []

    async def english(pseudonym: str) -> str:
        asked.append(pseudonym)
        return "en"

    keys = keys_for_user(keyring, PHONE)
    await make_turn(keyring, Dialogue({"text": "ohne Auswahl"}), language_lookup=english).produce(text(), keys, "ref")
    assert asked == [] and languages == ["de"]
    await make_turn(keyring, Dialogue({"text": "Wahl", "buttons": BUTTONS}), language_lookup=english).produce(text(), keys, "ref")
    assert asked == [keys.pseudonym] and languages[-1] == "en"


async def test_a_failing_or_empty_lookup_falls_back_to_the_default_language(keyring: Keyring, languages: list[str]) -> None:
    async def broken(pseudonym: str) -> str:
        raise ConnectionError("tracker store down")

    async def unknown(pseudonym: str) -> None:
        return None

    for lookup in (broken, unknown):
        await make_turn(keyring, Dialogue({"text": "Wahl", "buttons": BUTTONS}), language_lookup=lookup).produce(
            text(), keys_for_user(keyring, PHONE), "ref")
    assert languages == ["de", "de"]


async def test_the_default_language_comes_from_labels_yml(
    keyring: Keyring, languages: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels.yml"
    shipped = (Path(__file__).resolve().parents[4] / "labels.yml").read_text(encoding="utf-8")
    labels.write_text(shipped.replace("languages: [de, en]", "languages: [en, de]", 1), encoding="utf-8")
    monkeypatch.setenv("BLAUPAUSE_LABELS_FILE", str(labels))
    await make_turn(keyring, Dialogue({"text": "Choose", "buttons": BUTTONS})).produce(text(), keys_for_user(keyring, PHONE), "ref")
    assert languages == ["en"]


async def test_a_more_tap_on_a_list_sent_before_the_deploy_pages_on_without_the_dialogue(keyring: Keyring) -> None:
    """Paging state version 1 (written before the pages were stored fitted) pages through the turn."""
    dialogue, keys = Dialogue(), keys_for_user(keyring, PHONE)
    turn = make_turn(keyring, dialogue)
    mine = owned_by(turn.id_map, owner_tag(keys.key))
    v1 = {"v": 1, "choices": [[f"Option {n}", f"/option_{n}"] for n in range(10, 12)], "label": "Optionen",
          "language": "de", "offset": 9, "total": 11}
    good = await mine.remember(json.dumps(v1, ensure_ascii=False, sort_keys=True), prefix=MORE_TOKEN_PREFIX)
    [page] = await turn.produce(tap(good), keys, "ref")
    assert page["interactive"]["body"] == {"text": "Weitere Optionen (10–11 von 11):"}
    assert [row["id"] for row in page["interactive"]["action"]["sections"][0]["rows"]] == ["/option_10", "/option_11"]
    assert dialogue.received == []

    bad = await mine.remember(json.dumps({**v1, "choices": []}), prefix=MORE_TOKEN_PREFIX)
    await turn.produce(tap(bad), keys, "ref")
    assert [message.text for message in dialogue.received] == ["Weitere …"]  # unusable: the title goes to Rasa


def tap(reply_id: str) -> ListReply:
    return ListReply(WAMID, PHONE, "interactive", 1, "1", reply_id=reply_id, title="Weitere …")
