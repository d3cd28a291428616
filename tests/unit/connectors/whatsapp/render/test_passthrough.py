"""render/passthrough.py: native custom messages sent as they are."""
from __future__ import annotations

import copy

import pytest

from connectors.whatsapp.render.passthrough import custom_messages, looks_native, native

LOCATION_REQUEST = {
    "type": "interactive",
    "interactive": {"type": "location_request_message", "body": {"text": "Wo?"}, "action": {"name": "send_location"}},
}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (LOCATION_REQUEST, True),
        ({"type": "template", "template": {"name": "x", "language": {"code": "de"}}}, True),
        ({"type": "text"}, False),
        ({"type": "interactive", "interactive": {"body": {}}}, False),
        ({"type": 3, 3: {}}, False),
        ("text", False),
    ],
)
def test_looks_native(obj: object, expected: bool) -> None:
    assert looks_native(obj) is expected


def test_native_drops_routing_keys_and_copies() -> None:
    source = {"messaging_product": "whatsapp", "to": "49", "recipient": "DE.1", **copy.deepcopy(LOCATION_REQUEST)}
    message = native(source, "custom message")
    assert message == LOCATION_REQUEST
    message["interactive"]["body"]["text"] = "changed"
    assert source["interactive"]["body"]["text"] == "Wo?"


def test_native_over_limits_is_kept_and_flagged_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    long = {"type": "text", "text": {"body": "Geheimnis " * 500}}
    assert native(long, "custom message") == long
    assert "may be rejected by Meta" in caplog.text and "Geheimnis" not in caplog.text


def test_custom_forms() -> None:
    assert custom_messages({"whatsapp": LOCATION_REQUEST}) == [LOCATION_REQUEST]
    assert custom_messages({"whatsapp": [LOCATION_REQUEST, {"bad": 1}]}) == [LOCATION_REQUEST]
    assert custom_messages(LOCATION_REQUEST) == [LOCATION_REQUEST]
    assert custom_messages({"slack": {}}) == []
    assert custom_messages("text") == []
