"""JSON-lines logs (issue 11, item 4): one JSON object per line, redaction on every field.

A registered text, a fake phone number and a BSUID are put into message arguments, an
exception message and ``extra=`` fields; none may appear in any line. The integration-style
tests configure the format through ``install_redaction`` (the one place logging is set up),
log through Rasa-, Sanic-, rasa-sdk- and httpx-like loggers, and through rasa-sdk's real
app with a failing action, and parse every line as JSON.
"""
from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sanic import Sanic
from tests.support.sanic_server import serve_sanic, stop_sanic

from observability.correlation import correlation_id_for, correlation_scope
from privacy.log_redaction.install import install_redaction, uninstall_redaction
from privacy.log_redaction.json_lines import (
    CorrelationPrefixFormatter,
    JsonLinesFormatter,
    LogFormatError,
    log_format,
)
from privacy.log_redaction.sensitive import register_sensitive, sensitive_scope

pytestmark = pytest.mark.filterwarnings("ignore")

PHONE = "4915550000001"
BSUID = "DE.1234567890abcdef"
TEXT = "Erika Mustermann sucht Arbeit in Quedlinburg"
FORBIDDEN = (PHONE, "5550000", BSUID, "1234567890abcdef", TEXT, "Mustermann", "Quedlinburg")
CORRELATION = "ab12cd34ef56ab78"
ENV_JSON = {"BLAUPAUSE_ENV": "local", "BLAUPAUSE_LOG_FORMAT": "json"}
ENV_TEXT = {"BLAUPAUSE_ENV": "local"}


def _assert_clean(text: str) -> None:
    for forbidden in FORBIDDEN:
        assert forbidden not in text, f"{forbidden!r} leaked into: {text[:2000]}"


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """A real handler on the root logger (as Rasa and rasa-sdk configure one), INFO, cleaned up."""
    uninstall_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with sensitive_scope():
            register_sensitive(TEXT)
            yield stream
    finally:
        uninstall_redaction()
        root.removeHandler(handler)
        root.setLevel(old_level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    _assert_clean(text)
    return [json.loads(line) for line in text.splitlines()]  # every line is one JSON object


def _record(**kwargs: Any) -> logging.LogRecord:
    record = logging.LogRecord("rasa.core.processor", logging.ERROR, __file__, 1, "turn for %s from %s: %s",
                               (BSUID, PHONE, TEXT), None)
    record.__dict__.update(kwargs)
    return record


def test_formatter_alone_redacts_every_field_even_without_the_filter() -> None:
    try:
        raise ValueError(f"cannot place +{PHONE} ({BSUID})")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = _record(exc_info=exc_info, phone=int(PHONE), who=BSUID, profile={"name": "Erika", "wa_id": PHONE})
    with sensitive_scope(), correlation_scope(CORRELATION):
        register_sensitive(TEXT)
        line = JsonLinesFormatter("actions").format(record)
    _assert_clean(line)
    assert "Erika" not in line and "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "rasa.core.processor"
    assert entry["time"].endswith("+00:00") and entry["time"][10] == "T"
    assert entry["role"] == "actions" and entry["correlation_id"] == CORRELATION
    assert entry["exception_type"] == "ValueError" and "Traceback" in entry["exception"]
    assert entry["message"].startswith("turn for ")
    assert set(entry["extra"]) == {"phone", "who", "profile"}


def test_json_lines_through_install_redaction(root_stream: io.StringIO) -> None:
    install_redaction(environ=ENV_JSON)
    with correlation_scope(CORRELATION):
        logging.getLogger("rasa.core.processor").info("message from %s: %s", PHONE, TEXT)
        logging.getLogger("sanic.access").info("", extra={"host": "127.0.0.1:5005", "request": "POST /webhook",
                                                          "status": 200, "byte": 17})
        logging.getLogger("rasa_sdk.endpoint").warning("slot value %s", {"location": "Quedlinburg"},
                                                        extra={"bsuid": BSUID, "n": int(PHONE), "t": [TEXT]})
        try:
            raise RuntimeError(f"no jobs for {TEXT} at +{PHONE}")
        except RuntimeError:
            logging.getLogger("sanic.error").exception("Exception occurred while handling uri")
    logging.getLogger("httpx").warning("HTTP Request: POST https://graph.facebook.com/%s/messages", PHONE)
    logging.getLogger("rasa.core.processor").info(json.dumps(
        {"event": "processor.message.parse", "parse_data_text": TEXT, "parse_data_intent": {"name": "greet"}}))
    lines = _lines(root_stream)
    assert [entry["logger"] for entry in lines] == [
        "rasa.core.processor", "sanic.access", "rasa_sdk.endpoint", "sanic.error", "httpx", "rasa.core.processor"]
    assert all(entry["role"] == "rasa" for entry in lines)
    assert [entry.get("correlation_id") for entry in lines] == [CORRELATION] * 4 + [None] * 2
    assert lines[1]["extra"]["status"] == 200 and lines[1]["extra"]["request"] == "POST /webhook"
    assert lines[3]["exception_type"] == "RuntimeError" and "Traceback" in lines[3]["exception"]
    assert lines[5]["message"] == "processor.message.parse"
    assert lines[5]["fields"]["parse_data_text"] == "[redacted]"


def test_text_format_shows_the_correlation_id(root_stream: io.StringIO) -> None:
    install_redaction(environ=ENV_TEXT)
    install_redaction(environ=ENV_TEXT)  # once per process: a second call changes nothing
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "stream", None) is root_stream]
    assert isinstance(handler.formatter, CorrelationPrefixFormatter)
    assert not isinstance(handler.formatter.inner, CorrelationPrefixFormatter)
    with correlation_scope(CORRELATION):
        logging.getLogger("connectors.whatsapp.message_flow").info("message %s from %s", "ref", PHONE)
    logging.getLogger("connectors.whatsapp.message_flow").info("no turn")
    first, second = root_stream.getvalue().splitlines()
    assert f"INFO [c={CORRELATION}] message ref from [phone]" in first
    assert second.endswith("INFO no turn")
    uninstall_redaction()
    assert type(handler.formatter) is logging.Formatter  # the handler's own formatter is back


def test_the_action_server_environment_keeps_the_format() -> None:
    from privacy.action_server import action_server_environment

    assert action_server_environment({"BLAUPAUSE_LOG_FORMAT": "json"})["BLAUPAUSE_LOG_FORMAT"] == "json"


def test_unknown_format_is_refused() -> None:
    assert log_format({}) == "text" and log_format({"BLAUPAUSE_LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(LogFormatError):
        log_format({"BLAUPAUSE_LOG_FORMAT": "xml"})
    with pytest.raises(LogFormatError):
        JsonLinesFormatter("worker")


# ----------------------------------------------------------------- the action server, end to end in-process

ACTION = "action_test_explode_json"
RASA_MESSAGE_ID = "wa-" + "0123456789abcdef" * 2


class ActionTestExplodeJson(Action):
    def name(self) -> str:
        return ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any) -> list[dict[str, Any]]:
        logging.getLogger("actions.test").info("looking for %s", tracker.get_slot("location"))
        raise RuntimeError(f"no jobs near {tracker.get_slot('location')} for +{PHONE}")


def _action_call() -> dict[str, Any]:
    latest = {"text": TEXT, "intent": {"name": "inform"}, "entities": [], "message_id": RASA_MESSAGE_ID,
              "metadata": {"user_id": BSUID}}
    return {
        "next_action": ACTION, "sender_id": "u_" + "a" * 32, "version": "3.6.0", "domain": {},
        "tracker": {"sender_id": "u_" + "a" * 32, "slots": {"location": "Quedlinburg"}, "latest_message": latest,
                    "events": [{"event": "user", "text": TEXT, "parse_data": latest, "message_id": RASA_MESSAGE_ID}],
                    "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
    }


@pytest.fixture
async def action_server(root_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    import rasa_sdk.endpoint as endpoint

    from privacy.action_errors import install_action_server_hardening

    monkeypatch.setattr(Sanic, "test_mode", True)
    monkeypatch.setenv("BLAUPAUSE_ACTION_SERVER", "1")
    monkeypatch.setenv("BLAUPAUSE_ENV", "local")
    monkeypatch.setenv("BLAUPAUSE_LOG_FORMAT", "json")
    install_action_server_hardening()
    app = endpoint.create_app(__name__)
    app.name = "sdk_json_" + uuid.uuid4().hex[:8]
    server, url = await serve_sanic(app)
    try:
        yield url
    finally:
        await stop_sanic(server)


async def test_action_server_lines_are_json_and_carry_the_turns_correlation_id(
    action_server: str, root_stream: io.StringIO
) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(action_server + "/webhook", json=_action_call(), timeout=10)
    assert answer.status_code == 500
    lines = _lines(root_stream)
    expected = correlation_id_for(RASA_MESSAGE_ID)
    ours = [entry for entry in lines if entry["logger"] == "actions.test"]
    failed = [entry for entry in lines if entry.get("exception_type") == "RuntimeError"]
    assert ours and failed
    assert all(entry["correlation_id"] == expected and entry["role"] == "actions" for entry in ours + failed)


@pytest.mark.parametrize("environ", [ENV_TEXT, ENV_JSON], ids=["text", "json"])
def test_python_warnings_go_through_the_redaction_in_both_formats(root_stream: io.StringIO, environ: dict[str, str]) -> None:
    """Rasa warns with the user's text in it ("Failed to parse arguments in line '/intent{...}'");
    as plain stderr that line would bypass every filter (found with a voice note's transcript)."""
    import warnings

    install_redaction(environ=environ)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"Failed to parse arguments in line '/voice_unsure{{\"transcript\":\"{TEXT}\"}}'", UserWarning)
    text = root_stream.getvalue()
    assert "Failed to parse arguments" in text  # the warning arrived through logging
    _assert_clean(text)
