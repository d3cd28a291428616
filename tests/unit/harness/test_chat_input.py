"""What a typed line of the terminal chat sends (harness/chat_input.py), without servers.

Why: ``make run`` is how a designer meets the assistant; a number must tap the right button or
row of the bot's last turn (quoting that message, as WhatsApp does), and a mistyped command must
explain itself instead of reaching the assistant as text.
"""
from __future__ import annotations

from harness import meta_payloads as mp
from harness.chat_display import Choice
from harness.chat_input import typed_message, whoami

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
