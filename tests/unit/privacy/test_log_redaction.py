"""Tests for privacy.log_redaction: masking phone numbers, message fields and names in logs."""
from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from privacy.log_redaction.install import RedactingFilter, install_redaction, uninstall_redaction
from privacy.log_redaction.masking import redact
from privacy.log_redaction.patterns import PHONE_MASK, SENSITIVE_MASK
from privacy.log_redaction.sensitive import register_sensitive, sensitive_scope, sensitive_values

NUMBER = "4915550000001"
PSEUDONYM = "u_k2345677abcdefghij2345672mnopqr"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    uninstall_redaction()
    with sensitive_scope():
        yield
    uninstall_redaction()


@pytest.mark.parametrize(
    "text",
    [
        NUMBER,
        f"+{NUMBER}",
        "+49 155 5000-0001",
        "+49 (155) 5000 0001",
        "(0049) 155/50000001",
        "0155 / 500 000 01",
        "1555000",  # 7 digits
        "491555000000123",  # 15 digits
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    assert redact(f"from {text}, ok") == f"from {PHONE_MASK}, ok"


@pytest.mark.parametrize(
    "template",
    [
        "wa_id={}",
        "tel:{}",
        "GET /users/{}/messages",
        "whatsapp:+{}",
        "sender {}.",
        "('{}',)",
        "[{}]",
    ],
)
def test_numbers_in_context_are_masked(template: str) -> None:
    redacted = redact(template.format(NUMBER))
    assert NUMBER not in redacted and "5550000" not in redacted
    assert PHONE_MASK in redacted


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-21T21:57:03.123456+00:00",
        "2025-11-21 21:57:03,123 INFO rasa.core.processor",
        "21/11/2025 and 21.11.2025 and 2025/11/21",
        "listening on http://127.0.0.1:5005/webhooks/whatsapp/webhook",
        "port 5005, 12 results, page 3 of 40, 123456 bytes",
        "confidence 0.9876543210 timestamp 1732225023.1234567",
        "rasa 3.6.21, ip 192.168.100.200",
        "job 10000-1190587234-S",
        "id 12345678901234567890",
        f"sender {PSEUDONYM}",
        "wamid.HBgNNDkxNTU1NTAwMDAwMDEVAgARGBI5QTg2",
    ],
)
def test_harmless_numbers_stay_readable(text: str) -> None:
    assert redact(text) == text


def test_several_joined_numbers_are_masked_together() -> None:
    redacted = redact(f"recipients {NUMBER} 4915550000002 4915550000003 done")
    assert "55500000" not in redacted
    assert redacted == f"recipients {PHONE_MASK} done"


def test_whatsapp_webhook_payload_is_masked() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                            "contacts": [{"profile": {"name": "Erika Mustermann"}, "wa_id": NUMBER}],
                            "messages": [
                                {
                                    "from": "US.AbCdEf123",
                                    "id": "wamid.HBgLMTU1NTAwMDAwMDEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                                    "timestamp": "1732225023",
                                    "text": {"body": "Ich suche Arbeit in Berlin"},
                                    "type": "text",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    for text in (json.dumps(payload), json.dumps(payload, indent=2), repr(payload)):
        redacted = redact(text)
        for secret in (NUMBER, "Erika", "US.AbCdEf123", "Ich suche Arbeit"):
            assert secret not in redacted
        assert '"type": "text"' in redacted.replace("'", '"')  # allowlisted key and name stay readable


def test_rasa_event_text_is_masked() -> None:
    redacted = redact("{'event': 'user', 'text': 'Mein Name ist Erika', 'timestamp': 1732225023.5}")
    assert "Erika" not in redacted and "1732225023.5" in redacted


def test_shared_location_is_masked() -> None:
    message = {"type": "location", "location": {"latitude": 52.520008, "longitude": -13.4, "address": "Hauptstr. 1"}}
    redacted = redact(json.dumps(message))
    assert "52.52" not in redacted and "13.4" not in redacted and "Hauptstr" not in redacted
    assert redacted.count(SENSITIVE_MASK) == 3
    intent = redact("/share_location{'latitude': '52.52', \"longitude\":1e1}")
    assert intent == f"/share_location{{{SENSITIVE_MASK}}}"  # the payload's JSON goes as a whole


def test_escaped_quotes_inside_values_are_masked_completely() -> None:
    redacted = redact(r'{"body": "sie sagte \"hallo\" zu mir", "type": "text"}')
    assert redacted == f'{{"body": "{SENSITIVE_MASK}", "type": "text"}}'


def test_registered_values_are_masked_case_insensitively_as_words() -> None:
    register_sensitive("Erika Mustermann")
    register_sensitive("Zoë")
    redacted = redact("Profile ERIKA MUSTERMANN (Zoë) says hi; zoëlogy stays; json \"Zo\\u00eb\"")
    assert redacted == f'Profile {SENSITIVE_MASK} ({SENSITIVE_MASK}) says hi; zoëlogy stays; json "{SENSITIVE_MASK}"'


def test_registered_message_text_is_masked_in_rasa_style_lines() -> None:
    register_sensitive("Ich suche Arbeit als Koch")
    line = "Received user message 'Ich suche Arbeit als Koch' with intent '{'name': 'search_job'}'"
    assert "Koch" not in redact(line)
    assert "search_job" in redact(line)


def test_short_and_blank_values_are_ignored() -> None:
    register_sensitive("a")
    register_sensitive("   ")
    assert sensitive_values() == ()
    assert redact("a b c") == "a b c"
    with pytest.raises(TypeError):
        register_sensitive(None)  # type: ignore[arg-type]


def test_registration_is_bounded_and_deduplicated() -> None:
    for index in range(40):
        register_sensitive(f"name{index}")
    register_sensitive("name39")
    values = sensitive_values()
    assert len(values) == 32 and values[-1] == "name39" and "name0" not in values


def test_sensitive_scope_forgets_values() -> None:
    with sensitive_scope():
        register_sensitive("Erika")
        assert redact("Erika") == SENSITIVE_MASK
    assert redact("Erika") == "Erika"


async def test_registration_is_isolated_between_concurrent_requests() -> None:
    barrier = asyncio.Barrier(2)

    async def request(name: str, other: str) -> tuple[str, str]:
        register_sensitive(name)
        await barrier.wait()
        return redact(name), redact(other)

    first, second = await asyncio.gather(request("Erika", "Max"), request("Max", "Erika"))
    assert first == (SENSITIVE_MASK, "Max")
    assert second == (SENSITIVE_MASK, "Erika")
    assert sensitive_values() == ()


def test_redaction_is_idempotent() -> None:
    register_sensitive("Erika")
    once = redact(f'Erika {{"wa_id": "{NUMBER}"}} +49 155 5000-0001')
    assert redact(once) == once


# ---------------------------------------------------------------- the filter


def _record(msg: object, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("rasa.core.processor", logging.DEBUG, __file__, 1, msg, args or None, None)
    record.__dict__.update(extra)
    return record


def test_filter_formats_masks_and_clears_args() -> None:
    record = _record("message from %s (%s): %d", NUMBER, "Erika", 3)
    register_sensitive("Erika")
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"message from {PHONE_MASK} ({SENSITIVE_MASK}): 3"
    assert record.args is None


def test_filter_masks_dict_args_and_extra_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "payload %(p)s", None, None)
    record.args = {"p": {"wa_id": NUMBER}}
    record.__dict__["request"] = f"GET /x?to={NUMBER}"
    record.__dict__["status"] = 200
    RedactingFilter().filter(record)
    assert NUMBER not in record.getMessage()
    assert record.request == f"GET /x?to={PHONE_MASK}"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]


def test_filter_never_leaks_args_when_formatting_fails() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    record = _record("two %s %s", NUMBER)  # one argument missing
    RedactingFilter().filter(record)
    assert NUMBER not in record.getMessage()
    assert "could not be formatted" in record.getMessage()

    broken = _record(Broken())
    RedactingFilter().filter(broken)
    assert broken.getMessage() == "<unprintable Broken> [log arguments could not be formatted]"


def test_filter_masks_exception_and_stack_text() -> None:
    try:
        raise ValueError(f"bad sender {NUMBER}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    record.stack_info = f"Stack (most recent call last):\n  handling {NUMBER}"
    RedactingFilter().filter(record)
    assert record.exc_text and "ValueError: bad sender [phone]" in record.exc_text
    assert NUMBER not in record.stack_info
    formatted = logging.Formatter().format(record)
    assert NUMBER not in formatted and "ValueError" in formatted


def test_caplog_sees_only_masked_records(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(logger_names=("blaupause.test",))
    register_sensitive("Erika")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("blaupause.test").info("user %s wrote from %s", "Erika", "+49 155 5000-0001")
        logging.getLogger("blaupause.test.child").debug('{"wa_id": "%s"}', NUMBER)
    assert [record.getMessage() for record in caplog.records] == [
        f"user {SENSITIVE_MASK} wrote from {PHONE_MASK}",
        f'{{"wa_id": "{SENSITIVE_MASK}"}}',
    ]
    assert NUMBER not in caplog.text and "Erika" not in caplog.text


def test_real_handler_on_root_covers_rasa_debug_logs() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    rasa_logger = logging.getLogger("rasa.core.processor")
    old_level = rasa_logger.level
    root.addHandler(handler)
    try:
        install_redaction()
        rasa_logger.setLevel(logging.DEBUG)
        register_sensitive("Ich suche Arbeit")
        rasa_logger.debug("Received user message 'Ich suche Arbeit' from %s", NUMBER)
        # a logger created after installation is still covered by the root handler's filter
        logging.getLogger("rasa.created.later").warning("retry for +49 155 5000-0001 on port 5005")
    finally:
        root.removeHandler(handler)
        rasa_logger.setLevel(old_level)
    output = stream.getvalue()
    assert NUMBER not in output and "5000-0001" not in output and "Ich suche" not in output
    assert f"Received user message '{SENSITIVE_MASK}' from {PHONE_MASK}" in output
    assert "retry for [phone] on port 5005" in output
    assert "rasa.core.processor DEBUG" in output


def test_logger_filter_covers_handlers_added_after_install() -> None:
    logger = logging.getLogger("sanic.access")
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    old_propagate = logger.propagate
    logger.propagate = False
    try:
        logger.warning("request from %s", NUMBER)
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate
    assert stream.getvalue() == f"request from {PHONE_MASK}\n"


def test_install_is_idempotent_and_uninstall_removes_everything() -> None:
    handler = logging.StreamHandler(io.StringIO())
    named = logging.getLogger("httpx")
    named.addHandler(handler)
    try:
        first = install_redaction()
        install_redaction()
        for filterer in (logging.getLogger(), named, handler, logging.getLogger("rasa")):
            redacting = [f for f in filterer.filters if isinstance(f, RedactingFilter)]
            assert redacting == [first]
        uninstall_redaction()
        for filterer in (logging.getLogger(), named, handler, logging.getLogger("rasa")):
            assert not any(isinstance(f, RedactingFilter) for f in filterer.filters)
    finally:
        named.removeHandler(handler)


def test_install_without_root_name_still_covers_root_handlers() -> None:
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_redaction(logger_names=("rasa",))
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        assert not any(isinstance(f, RedactingFilter) for f in root.filters)
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("rasa").filters)
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    "text",
    [
        '"body": "' + "\\" * 50_000,  # unterminated value full of escapes
        "1-" * 50_000 + "x",
        "1(" * 50_000 + "x",
        "1 " * 50_000,
        "9" * 100_000,
        '"text": "' * 20_000,
    ],
)
def test_pathological_input_is_handled_in_linear_time(text: str) -> None:
    import time

    register_sensitive("Erika Mustermann")
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 1.0


# ----------------------------------------------------------------------------- per-request chatter


@pytest.fixture()
def unset_http_levels() -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    for name in saved:
        logging.getLogger(name).setLevel(logging.NOTSET)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_per_request_info_lines_of_http_clients_are_off_by_default(
    unset_http_levels: None, caplog: pytest.LogCaptureFixture
) -> None:
    install_redaction()
    caplog.set_level(logging.INFO)  # the root at INFO, as Rasa configures it
    logging.getLogger("httpx").info('HTTP Request: POST https://graph.facebook.com/v21.0/1/messages "HTTP/1.1 200 OK"')
    logging.getLogger("httpcore.connection").info("connect_tcp.started")
    logging.getLogger("httpx").warning("a retry")
    assert [record.getMessage() for record in caplog.records] == ["a retry"]
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    uninstall_redaction()
    assert logging.getLogger("httpx").level == logging.NOTSET  # given back


def test_an_explicitly_configured_level_is_respected(unset_http_levels: None, caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("httpx").setLevel(logging.INFO)  # e.g. from rasa run --logging-config-file
    install_redaction()
    install_redaction()
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").info("HTTP Request: POST https://graph.facebook.com/v21.0/1/messages")
    assert [record.name for record in caplog.records] == ["httpx"]
    assert logging.getLogger("httpx").level == logging.INFO
    assert logging.getLogger("httpcore").level == logging.WARNING
    uninstall_redaction()
    assert logging.getLogger("httpx").level == logging.INFO
