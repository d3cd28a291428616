"""What a typed line of the terminal chat sends (harness/chat_input.py), without servers.

Why: ``make run`` is how a designer meets the assistant; a number must tap the right button or
row of the bot's last turn (quoting that message, as WhatsApp does), and a mistyped command must
explain itself instead of reaching the assistant as text. Voice notes: what the transcription
stand-in will hear, the mime type WhatsApp announces per file type, and the files refused.
"""
from __future__ import annotations

import pytest

from harness import meta_payloads as mp
from harness.chat_display import Choice
from harness.chat_input import HELP, SECONDS_PER_WORD, UNSURE_CONFIDENCE, VoiceNoteRequest, typed_message, whoami
from harness.voice_notes import voice_note
from speech.ogg import read_ogg
from standins.meta_graph import MetaGraphStandIn
from standins.stt import CONFIDENCE_TAG, TRANSCRIPT_TAG

USER = mp.WhatsAppUser(phone="4915550000001", user_id="DE.1000000000000000001")
CHOICES = [
    Choice("button_reply", "/more_results", "Weitere Ergebnisse", None, "wamid.BOT1"),
    Choice("list_reply", "job_2", "Koch/Köchin", "Berlin", "wamid.BOT2"),
]


def test_plain_text_is_a_text_message_from_the_user():
    message = typed_message("Hallo", USER, CHOICES)
    assert (message["type"], message["text"], message["from"], message["from_user_id"]) == (
        "text", {"body": "Hallo"}, USER.phone, USER.user_id
    )


def test_a_number_taps_the_button_or_row_and_quotes_the_bots_message():
    button = typed_message("1", USER, CHOICES)
    row = typed_message("2", USER, CHOICES)
    assert button["interactive"]["button_reply"] == {"id": "/more_results", "title": "Weitere Ergebnisse"}
    assert button["context"]["id"] == "wamid.BOT1"
    assert row["interactive"]["list_reply"] == {"id": "job_2", "title": "Koch/Köchin", "description": "Berlin"}
    assert row["context"]["id"] == "wamid.BOT2"


def test_a_number_without_choices_is_text_and_one_out_of_range_is_explained():
    assert typed_message("3", USER, [])["text"] == {"body": "3"}
    assert typed_message("3", USER, CHOICES) == "no choice 3; choose 1-2"


def test_location_and_image_commands():
    assert typed_message("/location 52.52 13.40", USER, [])["location"] == {"latitude": 52.52, "longitude": 13.4}
    assert typed_message("/location north", USER, []).startswith("usage: /location")
    image = typed_message("/image Lebenslauf", USER, [])
    assert image["type"] == "image" and image["image"]["caption"] == "Lebenslauf"


def test_whoami_names_what_the_next_webhook_carries():
    assert whoami(USER) == f"(you are number {USER.phone}, BSUID {USER.user_id})"
    assert whoami(USER.without_phone()) == f"(you are no number, BSUID {USER.user_id})"


# -- voice notes (issue 14) ----------------------------------------------------------------------


def test_voice_makes_a_voice_note_the_stand_in_hears_with_a_length_by_words():
    request = typed_message("/voice Ich suche einen Job als Koch in Berlin", USER, CHOICES)
    assert isinstance(request, VoiceNoteRequest)
    assert (request.said, request.mime_type, request.voice, request.unsure) == (
        "Ich suche einen Job als Koch in Berlin", "audio/ogg; codecs=opus", True, False
    )
    assert request.seconds == pytest.approx(8 * SECONDS_PER_WORD)
    info = read_ogg(request.content)
    assert info.comments[TRANSCRIPT_TAG] == "Ich suche einen Job als Koch in Berlin"
    assert CONFIDENCE_TAG not in info.comments
    assert info.duration_seconds == pytest.approx(request.seconds)
    assert request.describe() == "(voice note, 3.2 s: „Ich suche einen Job als Koch in Berlin“)"


def test_a_short_voice_note_lasts_a_second_and_an_unsure_one_carries_a_low_confidence():
    short = typed_message("/voice  Ja ", USER, [])
    unsure = typed_message("/voice? Koch in Berlin", USER, [])
    assert (short.said, short.seconds) == ("Ja", 1.0)
    assert unsure.unsure and float(read_ogg(unsure.content).comments[CONFIDENCE_TAG]) == UNSURE_CONFIDENCE
    assert UNSURE_CONFIDENCE < 0.6  # below the assistant's default STT_CONFIRM_BELOW
    assert unsure.describe() == "(voice note, 1.2 s, hard to make out: „Koch in Berlin“)"


@pytest.mark.parametrize("line", ["/voice", "/voice   ", "/voice?", "/voice-file", "/voicemail hallo", "/voice?Koch"])
def test_voice_commands_without_what_to_send_explain_themselves(line):
    assert typed_message(line, USER, []).startswith("usage: /voice TEXT")


@pytest.mark.parametrize(
    ("name", "mime_type"),
    [("a.ogg", "audio/ogg; codecs=opus"), ("b.OPUS", "audio/ogg; codecs=opus"), ("c.mp3", "audio/mpeg"),
     ("d.m4a", "audio/mp4"), ("e.aac", "audio/aac"), ("f.amr", "audio/amr")],
)
def test_voice_file_takes_the_mime_type_from_the_extension(tmp_path, name, mime_type):
    path = tmp_path / name
    path.write_bytes(b"\xff\xfb\x90\x00 not really audio")
    request = typed_message(f"/voice-file {path}", USER, [])
    assert isinstance(request, VoiceNoteRequest)
    assert (request.mime_type, request.content, request.file_name, request.said) == (
        mime_type, path.read_bytes(), name, None
    )
    assert not request.voice and request.seconds is None  # not an Ogg Opus voice note
    assert request.describe() == f"(audio file {name}, 0 kB)"


def test_an_ogg_opus_file_is_a_voice_note_with_its_length(tmp_path):
    path = tmp_path / "sprachnachricht.ogg"
    path.write_bytes(voice_note("Hallo", seconds=2.5))
    request = typed_message(f"/voice-file '{path}'", USER, [])
    assert (request.voice, request.seconds) == (True, pytest.approx(2.5))
    assert request.describe() == "(voice note sprachnachricht.ogg, 2.5 s)"


def test_voice_file_refuses_other_types_missing_empty_and_too_large_files(tmp_path, monkeypatch):
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    big = tmp_path / "big.mp3"
    big.write_bytes(b"12345")
    monkeypatch.setattr("harness.chat_input.META_AUDIO_LIMIT_BYTES", 4)

    assert typed_message(f"/voice-file {wav}", USER, []).startswith("cannot send .wav: WhatsApp audio is .ogg, .opus")
    assert typed_message(f"/voice-file {tmp_path / 'README'}", USER, []).startswith("cannot send a file without extension")
    assert typed_message(f"/voice-file {tmp_path / 'missing.ogg'}", USER, []) == (
        f"cannot read {tmp_path / 'missing.ogg'}: No such file or directory"
    )
    assert typed_message(f"/voice-file {empty}", USER, []) == f"{empty} is empty"
    assert "over WhatsApp's audio limit" in typed_message(f"/voice-file {big}", USER, [])


def test_upload_puts_the_audio_on_the_stand_in_and_names_it_in_an_audio_message():
    standin = MetaGraphStandIn()
    request = VoiceNoteRequest(b"ID3 mp3 bytes", "audio/mpeg", None, voice=False, file_name="x.mp3")

    message = request.upload(standin, USER)

    assert (message["type"], message["from"], message["from_user_id"]) == ("audio", USER.phone, USER.user_id)
    media_id = message["audio"]["id"]
    stored = standin.media.items[media_id]
    assert (stored.content, stored.mime_type, stored.phone_number_id) == (b"ID3 mp3 bytes", "audio/mpeg", standin.phone_number_id)
    assert (message["audio"]["mime_type"], message["audio"]["voice"]) == ("audio/mpeg", False)


def test_help_names_the_voice_commands():
    assert all(command in HELP for command in ("/voice TEXT", "/voice? TEXT", "/voice-file PATH"))
