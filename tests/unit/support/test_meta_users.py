"""Username-era re-addressing: a body as Meta sends it for phone, BSUID-only and changed users."""
from __future__ import annotations

from harness import meta_payloads as mp
from tests.support.meta_users import as_user, system_change

BSUID = "DE.1234567890abcdef"


def _message(body: dict) -> dict:
    return body["entry"][0]["changes"][0]["value"]["messages"][0]


def test_a_bsuid_only_user_has_no_number_anywhere() -> None:
    body = as_user(mp.text("4915550000001", "Hallo", wamid="wamid.1"), phone=None, user_id=BSUID)
    message = _message(body)
    assert "from" not in message and message["from_user_id"] == BSUID
    assert message["id"] == "wamid.1" and message["text"]["body"] == "Hallo"
    assert "4915550000001" not in str(body)


def test_a_user_with_number_and_bsuid_keeps_both() -> None:
    body = as_user(mp.text("4915550000001", "Hallo"), phone="4915550000002", user_id=BSUID)
    message = _message(body)
    assert message["from"] == "4915550000002" and message["from_user_id"] == BSUID


def test_system_change_has_no_contacts() -> None:
    value = system_change(BSUID, BSUID + "2")["entry"][0]["changes"][0]["value"]
    assert "contacts" not in value and value["messages"][0]["type"] == "system"
