"""The allowlist log filter on lines shaped like Rasa's DEBUG output (issue 16 findings 1, 2, 6;
issue 9 item 6).

Rasa 3.6 logs parse data, slot values and events through structlog, rendered as JSON when
stdout is not a terminal (rasa/utils/log_utils.py); the structlog test below uses the same
processors and stdlib logger factory Rasa configures, so the records are the ones Rasa emits.
"""
from __future__ import annotations

import gc
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

import privacy.log_redaction.install as redaction_install
import privacy.log_redaction.masking as redaction_masking
import privacy.log_redaction.patterns as redaction_patterns
import privacy.log_redaction.sensitive as redaction_sensitive
import privacy.log_redaction.vocabulary as redaction_vocabulary
from privacy.log_redaction.install import (
    DebugLoggingRefusedError,
    RedactingFilter,
    check_log_level,
    install_redaction,
    uninstall_redaction,
)
from privacy.log_redaction.masking import redact, redact_structure
from privacy.log_redaction.patterns import BSUID_MASK, SENSITIVE_MASK, USERNAME_MASK
from privacy.log_redaction.sensitive import register_sensitive, sensitive_scope, sensitive_values

PHONE = "4915550000001"
BSUID = "DE.1000000000000000001"
PARENT_BSUID = "US.ENT.11815799212886844830"
USERNAME = "@erika_test"
JOB = "Bäckermeisterin"
PLACE = "Quedlinburg"
TEXT = f"ich suche arbeit als {JOB} in {PLACE}"
LATITUDE, LONGITUDE = 51.789123, 11.147456
FORBIDDEN = (PHONE, BSUID, PARENT_BSUID, USERNAME, JOB, PLACE, "suche arbeit", "51.789", "11.147")


def _assert_clean(text: str) -> None:
    for forbidden in FORBIDDEN:
        for form in (forbidden, json.dumps(forbidden)[1:-1]):
            assert form not in text, f"{forbidden!r} leaked: {text}"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("rasa")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield output
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


ENTITIES = [
    {"entity": "job_title", "start": 21, "end": 36, "confidence_entity": 0.99, "value": JOB, "extractor": "DIETClassifier"},
    {"entity": "location", "start": 40, "end": 51, "value": PLACE, "extractor": "DIETClassifier"},
]


def test_structlog_debug_events_as_rasa_emits_them(stream: io.StringIO) -> None:
    logger = structlog.wrap_logger(
        logging.getLogger("rasa.core.processor"),
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
    )
    logger.debug("processor.message.parse", parse_data_text=TEXT,
                 parse_data_intent={"name": "inform", "confidence": 0.93}, parse_data_entities=ENTITIES)
    logger.debug("processor.slots.log", slot_values=f"\tjob_title: {JOB}\n\tlocation: {PLACE}\n\tlatitude: {LATITUDE}")
    logger.debug("processor.message.parse", parse_data_text=f'/share_location{{"latitude": {LATITUDE}, "longitude": {LONGITUDE}}}',
                 parse_data_intent={"name": "share_location", "confidence": 1.0},
                 parse_data_entities=[{"entity": "latitude", "value": LATITUDE}, {"entity": "longitude", "value": LONGITUDE}])
    logger.debug("processor.actions.log", action_name="action_search_jobs", rasa_events=[
        {"event": "slot", "name": "job_title", "value": JOB, "timestamp": 1732225023.5},
        {"event": "user", "text": f"meine nummer +{PHONE}", "metadata": {"user_id": BSUID, "username": USERNAME}},
    ])
    logger.debug("tracker.store", sender_id="u_k2x3mzq4abcdefghijklmnopqrstuvwx", parent=PARENT_BSUID)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    _assert_clean(stream.getvalue())
    first = json.loads(lines[0].split(" ", 2)[2])
    assert first["event"] == "processor.message.parse" and first["parse_data_text"] == SENSITIVE_MASK
    assert first["parse_data_intent"] == {"name": "inform", "confidence": 0.93}
    assert first["parse_data_entities"][0]["entity"] == "job_title" and first["parse_data_entities"][0]["value"] == SENSITIVE_MASK
    assert first["parse_data_entities"][0]["extractor"] == "DIETClassifier"
    assert json.loads(lines[3].split(" ", 2)[2])["action_name"] == "action_search_jobs"
    assert "u_k2x3mzq4abcdefghijklmnopqrstuvwx" in lines[4]  # pseudonyms stay readable


@pytest.mark.parametrize(
    "line",
    [
        f"Received user message '{TEXT}' with intent '{{'name': 'inform', 'confidence': 0.93}}' and entities '{ENTITIES}'",
        f"Current slot values: \n\tjob_title: '{JOB}'\n\tlocation: '{PLACE}'",
        f"Predicted intent for /share_location{{\"latitude\": {LATITUDE}, \"longitude\": {LONGITUDE}}}",
        f"Predicted intent for /inform{{\"job_title\": \"{JOB}\", \"location\": \"{PLACE}\"}}",
        f"SlotSet(key: latitude, value: {LATITUDE}), SlotSet(key: longitude, value: {LONGITUDE})",
        f"location {LATITUDE},{LONGITUDE} shared",
        f"{{'latitude': {LATITUDE}, 'longitude': {LONGITUDE}, 'name': '{PLACE}'}}",
        f"contacts [{{'profile': {{'name': 'Erika', 'username': '{USERNAME}'}}, 'user_id': '{BSUID}', 'parent_user_id': '{PARENT_BSUID}', 'wa_id': '{PHONE}'}}]",
        f"Sending to {BSUID} / {PARENT_BSUID} for {USERNAME} and +{PHONE}",
        f"UserUttered(text: {JOB!r}, intent: inform, entities: {JOB}?)".replace(f"{JOB}?", f"'{PLACE}'"),
        f"error 500, Internal Server Error, body='b'{{\"error\": \"x\", \"request_body\": {{\"slots\": {{\"job_title\": \"{JOB}\"}}}}}}''",
    ],
)
def test_rasa_style_lines_keep_no_dialogue_content(line: str) -> None:
    redacted = redact(line)
    _assert_clean(redacted)
    assert redact(redacted) == redacted  # idempotent


def test_names_we_define_stay_readable() -> None:
    line = "Predicted next action 'action_search_jobs' with confidence 0.97; slot 'job_title' requested by 'job_search_form'"
    assert redact(line) == line
    assert redact("Failed to execute custom action 'action_llm_fallback'") == "Failed to execute custom action 'action_llm_fallback'"


def test_identifier_shapes_are_masked() -> None:
    assert redact(f"user {BSUID} parent {PARENT_BSUID}") == f"user {BSUID_MASK} parent {BSUID_MASK}"
    assert redact(f"hello {USERNAME}!") == f"hello {USERNAME_MASK}!"
    assert redact("mail erika(at)example.de or erika [at] example [dot] de") == "mail [email] or [email]"
    assert redact("module rasa.core.processor and version 3.6.20") == "module rasa.core.processor and version 3.6.20"


def test_redact_structure_is_an_allowlist() -> None:
    data = {"event": "user", "text": TEXT, "timestamp": 1.5, "parse_data": {"intent": {"name": "inform"}},
            "profile": {"name": "Erika"}, "latitude": LATITUDE, "confidence": 0.9, "flag": True, "x y": "z"}
    result = redact_structure(data)
    assert result["event"] == "user" and result["timestamp"] == 1.5 and result["confidence"] == 0.9
    assert result["text"] == result["latitude"] == result["profile"]["name"] == SENSITIVE_MASK
    assert result["parse_data"] == {"intent": {"name": "inform"}} and result["flag"] is True
    assert "x y" not in result


def test_filter_masks_structured_extra_fields() -> None:
    record = logging.LogRecord("rasa", logging.INFO, __file__, 1, "event", None, None)
    record.payload = {"text": TEXT, "event": "user"}  # type: ignore[attr-defined]
    RedactingFilter().filter(record)
    assert record.payload == {"text": SENSITIVE_MASK, "event": "user"}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- request state (finding 6)


def test_no_identifier_survives_the_request_scope() -> None:
    identifier = "4915550009876"
    name = "Zelda Quasimodo-Ungewöhnlich"
    with sensitive_scope():
        register_sensitive(identifier)
        register_sensitive(name)
        register_sensitive(BSUID)
        for _ in range(3):
            assert identifier not in redact(f"from {name} / {identifier} / {BSUID}")
    assert sensitive_values() == ()
    gc.collect()
    # no module-level cache (functools or re) holds the values or the pattern built from them
    modules = (redaction_install, redaction_masking, redaction_patterns, redaction_sensitive, redaction_vocabulary)
    for attribute in (value for module in modules for value in vars(module).values()):
        cache_info = getattr(attribute, "cache_info", None)
        if cache_info is not None and attribute is not redaction_vocabulary._vocabulary:
            assert cache_info().currsize == 0, attribute
    assert not [key for key in re._cache if any(v in str(key) for v in (identifier, "Quasimodo", BSUID))]  # type: ignore[attr-defined]
    holders = [obj for obj in gc.get_objects() if isinstance(obj, redaction_sensitive._RequestState)]
    assert not [obj for obj in holders if identifier in obj.values or name in obj.values]


async def test_state_of_a_finished_request_task_is_gone() -> None:
    import asyncio

    async def request() -> str:
        register_sensitive("Konstantin Ypsilon")
        return redact("hi Konstantin Ypsilon")

    assert await asyncio.create_task(request()) == f"hi {SENSITIVE_MASK}"
    await asyncio.sleep(0)  # the finished task's done-callbacks run; then the task and its context are garbage
    gc.collect()
    assert not [obj for obj in gc.get_objects()
                if isinstance(obj, redaction_sensitive._RequestState) and "Konstantin Ypsilon" in obj.values]


# --------------------------------------------------------------------------- DEBUG refused in production (finding 2)


@pytest.fixture
def debug_rasa_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("rasa")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield logger
    finally:
        logger.setLevel(old)
        uninstall_redaction()


def test_debug_is_refused_in_production(debug_rasa_logger: logging.Logger) -> None:
    with pytest.raises(DebugLoggingRefusedError, match="BLAUPAUSE_ALLOW_DEBUG_LOGS=1") as info:
        check_log_level({})
    assert "rasa" in str(info.value)
    with pytest.raises(DebugLoggingRefusedError):
        install_redaction(environ={"BLAUPAUSE_ENV": "production"})


@pytest.mark.parametrize("environ", [{"BLAUPAUSE_ENV": "local"}, {"BLAUPAUSE_ALLOW_DEBUG_LOGS": "1"}])
def test_debug_is_allowed_locally_or_with_the_override(debug_rasa_logger: logging.Logger, environ: dict[str, str]) -> None:
    check_log_level(environ)
    install_redaction(environ=environ)
    assert any(isinstance(f, RedactingFilter) for f in debug_rasa_logger.filters)


def test_info_level_passes_in_production() -> None:
    try:
        check_log_level({})
        install_redaction(environ={})
    finally:
        uninstall_redaction()


@pytest.mark.parametrize("colors", [True, False])
def test_structlog_console_lines_keep_only_event_and_key_names(stream: io.StringIO, colors: bool) -> None:
    """Rasa on a terminal without FORCE_JSON_LOGGING renders key=value lines with bare values."""
    logger = structlog.wrap_logger(
        logging.getLogger("rasa.core.processor"),
        processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=colors)],
    )
    logger.debug("processor.message.parse", parse_data_text=TEXT, parse_data_entities=ENTITIES)
    line = stream.getvalue()
    _assert_clean(line)
    assert "processor.message.parse" in line and f"parse_data_text={SENSITIVE_MASK}" in line
