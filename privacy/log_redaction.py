"""A logging filter that keeps only what is known to be safe in a log line.

Why a filter and not discipline alone: our own code logs pseudonyms only, but Rasa,
Sanic, rasa-sdk and HTTP clients log payloads, parse data, slot values and tracker
bodies (at DEBUG, and on the error path of a failing custom action even at ERROR). The
filter rewrites each ``LogRecord`` in place (message, arguments, exception text, stack
text and ``extra`` fields) before any handler formats it, so every handler, formatter
and log shipper downstream sees the masked version. It runs in both processes: the
WhatsApp channel installs it in Rasa, ``actions/__init__.py`` in the action server.

Allowlist, not blocklist (issue 16): a value passes only if it is known to be safe.

* A log line that is a JSON object (Rasa 3.6 renders its ``structlog`` events as JSON
  when stdout is not a terminal, see ``rasa/utils/log_utils.py``) is walked as data:
  keys are kept; a string value passes only under a key of :data:`SAFE_KEYS` *and* if
  it is a name the assistant itself defines (domain intents, entities, slots, actions,
  responses, forms; Rasa's event and action names) or has a machine shape (pseudonym,
  snake_case name, dotted module path, hex id, ISO time, short number); numbers pass
  only under :data:`SAFE_KEYS`. Everything else (``parse_data_text``, entity
  ``value``, ``slot_values``, event ``text``, ``metadata`` ...) becomes ``[redacted]``.
* In other lines every quoted literal (``'...'``, ``"..."``, ``b'...'``) is masked
  unless it passes the same test, a number after a quoted key passes only under
  :data:`SAFE_KEYS`, the JSON of an intent payload (``/share_location{...}``,
  ``/inform{...}``) is masked whole, and so is the ``body='...'`` of Rasa's
  ``ClientResponseError`` (the action server's answer to a failing action).
* Everywhere: registered values (:func:`register_sensitive`: profile name, username,
  message text of the request), phone-number-like digit runs, BSUIDs and parent
  BSUIDs (``DE.1000000000000000001``, ``US.ENT.11815799212886844830``), usernames
  (``@erika_test``), e-mail addresses and coordinate pairs are masked.

What an allowlist on free text cannot see: words a third-party library writes into a
line without quotes or structure. Rasa 3.6 logs dialogue content through structlog
(JSON, handled above) or in quotes; DEBUG in production is refused anyway
(:func:`check_log_level`) unless ``BLAUPAUSE_ALLOW_DEBUG_LOGS=1`` is set.

Phone numbers: 7-15 digits, optionally starting with ``+`` or ``(`` and joined by
spaces, dashes, slashes or parentheses (``+49 155 5000-0001``), also inside URLs,
JSON and reprs; several numbers joined into one run of more than 15 digits are masked
as a whole. Not masked: digits glued to letters or underscores (pseudonyms), decimals,
dotted values (IP addresses, versions), dates, times, ports, short numbers, single
unbroken runs of more than 15 digits (numeric ids) and job references like
``10000-1190587234-S``.

Request state: registered values live in a ``contextvars.ContextVar`` (one request's
task, never a concurrent one) together with the pattern compiled from them; nothing
is cached at module level, so no identifier or text outlives its request (issue 16,
finding 6). The only module-level cache is the domain vocabulary (names we define).

Masks (``[phone]``, ``[redacted]``, ``[bsuid]``, ``[username]``, ``[email]``) contain
no digits and pass the allowlist, so filtering an already filtered record changes
nothing.
"""
from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:  # the uncached compiler: re.compile would keep the pattern (and the values in it) in re's module cache
    from re import _compiler as _sre_compiler  # Python 3.11+
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_compile as _sre_compiler  # type: ignore[no-redef]

__all__ = [
    "ALLOW_DEBUG_LOGS_ENV",
    "BSUID_MASK",
    "DEFAULT_LOGGER_NAMES",
    "DebugLoggingRefusedError",
    "EMAIL_MASK",
    "PHONE_MASK",
    "SAFE_KEYS",
    "SENSITIVE_MASK",
    "USERNAME_MASK",
    "RedactingFilter",
    "check_log_level",
    "is_known_name",
    "is_safe_value",
    "redact",
    "redact_structure",
    "register_sensitive",
    "register_sensitive_values",
    "clear_sensitive",
    "sensitive_scope",
    "sensitive_values",
    "install_redaction",
    "uninstall_redaction",
]

DEFAULT_LOGGER_NAMES: tuple[str, ...] = (
    "", "rasa", "sanic", "rasa_sdk", "aiohttp", "urllib3", "httpx", "structlog", "connectors", "actions", "privacy",
)
PHONE_MASK = "[phone]"
SENSITIVE_MASK = "[redacted]"
BSUID_MASK = "[bsuid]"
USERNAME_MASK = "[username]"
EMAIL_MASK = "[email]"
_MASKS = (PHONE_MASK, SENSITIVE_MASK, BSUID_MASK, USERNAME_MASK, EMAIL_MASK)

ALLOW_DEBUG_LOGS_ENV = "BLAUPAUSE_ALLOW_DEBUG_LOGS"
DOMAIN_FILE_ENV = "BLAUPAUSE_DOMAIN_FILE"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent

_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15
_MIN_SENSITIVE_CHARS = 2
_MAX_SENSITIVE_VALUES = 32
_MAX_SAFE_STRING = 160

#: Keys under which a value may pass (if it also has a safe shape). Everything a user
#: says or is arrives under other keys (text, value, slot_values, metadata, ...).
SAFE_KEYS: frozenset[str] = frozenset(
    """
    event event_key event_info level logger logger_name name intent intent_name full_retrieval_intent_name
    action action_name policy policy_name prediction_source entity role group extractor extractors processors
    type type_name sender_id conversation_id message_id input_channel timestamp model_id assistant_id
    status status_code code version rasa_version latest_action_name active_loop requested_slot slot slot_name
    response response_name utter_action template template_name component class error error_type exc_type
    method path route host port confidence confidence_entity confidence_group confidence_role start end
    count attempt attempts latency_ms duration duration_ms elapsed page total index events number_of_events
    size length is_end_to_end_prediction is_no_user_prediction use_text_for_featurization
    max_history lock_lifetime ticket_number lifetime channel pseudonym ref reference outcome
    finish_reason reason kind lane key_version backend table action_extract_slot len_extraction_events
    """.split()
)

# Names Rasa itself defines (events, default actions, channels) and WhatsApp message types.
_BUILTIN_NAMES = frozenset(
    """
    user bot action slot reset_slots session_started active_loop loop followup restart rewind reminder
    cancel_reminder pause resume export undo entities user_featurization action_execution_rejected
    loop_interrupted stack form form_validation action_listen action_restart action_session_start
    action_default_fallback action_deactivate_loop action_revert_fallback_events action_default_ask_affirmation
    action_default_ask_rephrase action_two_stage_fallback action_unlikely_intent action_back action_extract_slots
    nlu_fallback out_of_scope whatsapp rest cmdline socketio text interactive location button list button_reply
    list_reply image audio video document sticker contacts reaction unsupported system request_welcome
    None True False null none true false ok error warning info debug critical exception
    GET POST PUT DELETE PATCH HEAD OPTIONS http https de en
    """.split()
)

_SAFE_SHAPES = re.compile(
    r"""
    [a-z]{1,4}_[a-z2-7]{16,64}                            # pseudonym u_... (base32)
    | [A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+             # underscore-joined name: utter_greet, run_WhitespaceTokenizer0
    | (?:[A-Z][a-z0-9]+){3,}[A-Za-z0-9]*                 # CamelCase class name with 3+ humps
    | (?:[A-Z][a-z0-9]+){2,}\w*\.[A-Za-z_]\w*              # Class.method
    | [A-Za-z_]\w*(?:\.[A-Za-z_]\w*){2,}                  # dotted module/class path
    | [A-Z][A-Za-z0-9]*(?:Error|Exception|Policy|Classifier|Extractor|Featurizer|Tokenizer|Store|Input|Output
        |Channel|Action|Rejection|Warning|Timeout|Response|Request|Message|Event|Tracker|Selector)
    | [0-9a-f]{16,128} | [0-9A-F]{16,128}                  # hex ids, digests
    | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}   # uuid
    | -?\d{1,6}(?:\.\d{1,3})?                              # short number (not a phone, not a coordinate)
    | \d{4}-\d{2}-\d{2}(?:[T\ ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?   # ISO time
    | \d{10}(?:\.\d{1,9})?                                 # unix timestamp
    | https?://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?(?:/[\w./-]*)?   # loopback URL, no query
    | (?:/[\w.-]+){2,}/?                                  # absolute file path / URL path with 2+ segments
    | <[a-z][\w .-]{0,40}>                                 # <module>, <frozen importlib._bootstrap>
    | [\s\W]{0,8}                                          # empty or punctuation only
    """,
    re.VERBOSE,
)
_MASK_ONLY = re.compile("(?:" + "|".join(re.escape(mask) for mask in _MASKS) + r"|[\s,;:()\[\]{}])*")
_IDENTIFIER_KEY = re.compile(r"[A-Za-z_][\w.-]{0,63}")

# Digit groups are possessive (\d++) so the engine never splits a group while
# backtracking; a match therefore starts and ends at group boundaries, and the
# number of groups is capped to keep the worst case linear.
_PHONE_CANDIDATE = re.compile(
    r"""
    (?<![\w+.])                                   # not glued to a word, a '+' or a decimal point
    (?<!\d[-/])                                   # not the tail of a dash/slash-joined number
    (?!\d{4}[-/]\d{1,2}[-/]\d{1,2}(?!\d))         # ISO-style date 2025-11-21, 2025/11/21
    (?!\d{1,2}[-/]\d{1,2}[-/]\d{2,4}(?!\d))       # day-first date 21/11/2025, 21-11-25
    \+?\(?\+?\d++
    (?:[ ()/-]{1,3}\d++){0,24}
    \)?
    (?![\w+]|-\w|\.\d)                            # not followed by a word, '-S' suffix or decimals
    """,
    re.VERBOSE,
)
_DIGIT = re.compile(r"\d")

_SENSITIVE_KEYS = (
    "wa_id", "from", "to", "recipient_id", "phone_number", "input", "body", "caption", "text", "address",
    "recipient", "user_id", "parent_user_id", "from_user_id", "previous_user_id", "previous_parent_user_id",
    "new_wa_id", "username", "profile_username",
)
_LOCATION_KEYS = ("latitude", "longitude")
_KEYED_VALUE = re.compile(
    r"""
    (?P<head>(?P<kq>["'])(?:"""
    + "|".join(re.escape(key) for key in _SENSITIVE_KEYS)
    + r""")(?P=kq)\s*:\s*)
    (?P<q>["'])(?:\\.|(?!(?P=q))[^\\])*+(?P=q)
    """,
    re.VERBOSE | re.DOTALL,
)
_KEYED_COORDINATE = re.compile(
    r"""
    (?P<head>(?P<kq>["'])(?:"""
    + "|".join(_LOCATION_KEYS)
    + r""")(?P=kq)\s*:\s*)
    (?P<q>["']?)-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?P=q)
    """,
    re.VERBOSE,
)
_PROFILE_NAME = re.compile(
    r"""
    (?P<head>(?P<kq>["'])profile(?P=kq)\s*:\s*\{\s*(?P<nq>["'])name(?P=nq)\s*:\s*)
    (?P<q>["'])(?:\\.|(?!(?P=q))[^\\])*+(?P=q)
    """,
    re.VERBOSE | re.DOTALL,
)

_BSUID = re.compile(r"(?<![\w.])[A-Z]{2}\.(?:ENT\.)?[0-9A-Za-z]{6,128}(?![\w])")
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+%-]+(?:@|\s?[(\[{]at[)\]}]\s?)[\w-]+(?:(?:\.|\s?[(\[{]dot[)\]}]\s?)[\w-]+)+", re.IGNORECASE
)
_USERNAME = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{1,34}(?<!\.)(?![\w@])")
_COORDINATE_PAIR = re.compile(r"(?<![\w.])-?\d{1,3}\.\d{3,}\s*[,;/ ]\s*-?\d{1,3}\.\d{3,}(?![\w.])")
# A lone coordinate-like decimal: 1-3 integer digits (not 0) and 5+ decimals. Confidences
# (0.93...) and unix timestamps (1732225023.5) do not match.
_COORDINATE = re.compile(r"(?<![\w.])-?[1-9]\d{0,2}\.\d{5,}(?![\w.])")
# The JSON of an intent payload ("/share_location{...}", "/inform{...}"), one nesting level.
_PAYLOAD_JSON = re.compile(r"(?P<head>/[A-Za-z_][\w-]*)\{(?:[^{}]|\{[^{}]*\})*\}")
# rasa.utils.endpoints.ClientResponseError: "500, Internal Server Error, body='b'{...}''"
_RESPONSE_BODY = re.compile(r"(?P<head>\bbody=)'.*'(?=[^']*$)", re.MULTILINE)
# A quoted literal: '...', "...", b'...' (not an apostrophe inside a word).
_QUOTED = re.compile(
    r"""(?<![\w\\])(?P<prefix>[bBrRuU]{0,2})(?P<q>['"])(?P<body>(?:\\.|(?!(?P=q))[^\\\n])*+)(?P=q)(?![\w])"""
)
_KEYED_NUMBER = re.compile(
    r"""(?P<head>(?P<kq>["'])(?P<key>[A-Za-z_][\w.-]{0,63})(?P=kq)\s*:\s*)(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])"""
)
_KEY_FOLLOWS = re.compile(r"\s*:")
# structlog's ConsoleRenderer (Rasa on a terminal without FORCE_JSON_LOGGING):
# "[debug    ] processor.message.parse   parse_data_text=ich suche ... key=value"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CONSOLE_EVENT = re.compile(
    r"^(?P<head>.*?\[\s*(?:debug|info|warning|warn|error|critical|exception)\s*\]\s+(?P<event>[\w.:-]+))"
    r"\s+(?P<rest>\w+=.*)$",
    re.DOTALL,
)
_CONSOLE_KEY = re.compile(r"(?:^|\s)(\w+)=")


class _RequestState:
    """The values registered in one request context and the pattern compiled from them."""

    __slots__ = ("values", "pattern")

    def __init__(self, values: tuple[str, ...] = ()) -> None:
        self.values = values
        self.pattern = _compile_sensitive(values)


_SENSITIVE: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar(
    "blaupause_privacy_sensitive_values", default=None
)

_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime"}


# --------------------------------------------------------------------------- vocabulary


def _domain_path() -> Path:
    configured = os.environ.get(DOMAIN_FILE_ENV, "").strip()
    return Path(configured) if configured else _PROJECT_ROOT / "domain.yml"


def _names_in(domain: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for section in ("intents", "entities", "actions", "forms", "responses", "slots"):
        value = domain.get(section) or ()
        items = value.keys() if isinstance(value, Mapping) else value
        for item in items:
            if isinstance(item, str):
                names.add(item)
            elif isinstance(item, Mapping):
                names.update(key for key in item if isinstance(key, str))
    for slot in (domain.get("slots") or {}).values():
        if isinstance(slot, Mapping):
            names.update(str(value) for value in slot.get("values") or () if isinstance(value, (str, int)))
    return names


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Names the assistant defines (domain.yml) plus Rasa's built-in names.

    Cached for the process: these are names we wrote, not anything a user said.
    """
    names = set(_BUILTIN_NAMES)
    try:
        import yaml  # rasa and rasa-sdk both depend on PyYAML

        domain = yaml.safe_load(_domain_path().read_text(encoding="utf-8")) or {}
        if isinstance(domain, Mapping):
            names |= _names_in(domain)
    except Exception:  # noqa: BLE001 - without a domain file only built-in names and shapes pass
        pass
    return frozenset(names)


def is_known_name(value: str) -> bool:
    """True if ``value`` is a name the assistant or Rasa defines (intent, slot, action, ...)."""
    return value in _vocabulary()


def is_safe_value(value: str) -> bool:
    """True if ``value`` may appear in a log line: a name we define or a machine shape."""
    if len(value) > _MAX_SAFE_STRING:
        return False
    if value in _vocabulary() or _MASK_ONLY.fullmatch(value):
        return True
    if _BSUID.search(value) or _EMAIL.search(value):
        return False
    return _SAFE_SHAPES.fullmatch(value) is not None


# --------------------------------------------------------------------------- request scope


def _variants(value: str) -> Iterator[str]:
    """The value as it may appear in logs: raw, JSON-escaped and repr-escaped."""
    yield value
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield repr(value)[1:-1]


def _compile_sensitive(values: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives: set[str] = set()
    for value in values:
        for variant in _variants(value):
            start = r"(?<!\w)" if re.match(r"\w", variant) else ""
            end = r"(?!\w)" if re.search(r"\w\Z", variant) else ""
            alternatives.add(start + re.escape(variant) + end)
    if not alternatives:
        return None
    ordered = sorted(alternatives, key=len, reverse=True)  # longest first: mask whole values
    # Not re.compile: its module-level cache would keep the identifiers after the request.
    return _sre_compiler.compile("|".join(ordered), re.IGNORECASE)


def register_sensitive(value: str) -> None:
    """Mask ``value`` (case-insensitively, as a whole word) in logs of this context.

    Meant for the WhatsApp profile name, the username, identifiers and the message text
    of the request being handled. Values shorter than 2 characters after stripping are
    ignored (masking them would destroy every log line); at most the 32 most recent
    values are kept. The values and their compiled pattern live in the request's
    context only (no module-level cache).
    """
    if not isinstance(value, str):
        raise TypeError("register_sensitive expects a str")
    value = value.strip()
    if len(value) < _MIN_SENSITIVE_CHARS:
        return
    state = _SENSITIVE.get()
    current = state.values if state is not None else ()
    if value in current:
        return
    _SENSITIVE.set(_RequestState((*current, value)[-_MAX_SENSITIVE_VALUES:]))


def sensitive_values() -> tuple[str, ...]:
    """The values registered in the current context (for diagnostics and tests)."""
    state = _SENSITIVE.get()
    return state.values if state is not None else ()


def register_sensitive_values(values: Iterable[str], *, limit: int = 256) -> None:
    """Replace this context's registrations by ``values`` (deduplicated, the last ``limit``).

    For the action server, which registers every text and value of the tracker it was
    sent for the duration of one action call (:mod:`privacy.action_errors`).
    """
    unique: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= _MIN_SENSITIVE_CHARS:
            unique[value.strip()] = None
    kept = tuple(unique)[-limit:] if limit > 0 else ()
    _SENSITIVE.set(_RequestState(kept) if kept else None)


def clear_sensitive() -> None:
    """Forget every value registered in this context (end of a request on a kept-alive task)."""
    _SENSITIVE.set(None)


@contextmanager
def sensitive_scope() -> Iterator[None]:
    """Start with no registered values and forget those registered inside on exit.

    Sanic runs each request in its own task, which already isolates registrations;
    this is for long-lived tasks that handle several users one after another.
    """
    token = _SENSITIVE.set(None)
    try:
        yield
    finally:
        _SENSITIVE.reset(token)


# --------------------------------------------------------------------------- masking


def _mask_phone(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = len(_DIGIT.findall(candidate))
    if digits < _MIN_PHONE_DIGITS:
        return candidate
    if digits <= _MAX_PHONE_DIGITS:
        return PHONE_MASK
    if candidate.isdigit():
        return candidate  # one long unbroken number: an id, not a phone number
    return PHONE_MASK  # several numbers joined by separators: mask them all


def _mask_keyed(match: re.Match[str]) -> str:
    quote = match.group("q")
    return f"{match.group('head')}{quote}{SENSITIVE_MASK}{quote}"


def _mask_quoted(match: re.Match[str]) -> str:
    body = match.group("body")
    text = match.string
    if _KEY_FOLLOWS.match(text, match.end()) and _IDENTIFIER_KEY.fullmatch(body):
        return match.group(0)  # a key of a dict/JSON object: structure, not content
    if is_safe_value(body):
        return match.group(0)
    quote = match.group("q")
    return f"{match.group('prefix')}{quote}{SENSITIVE_MASK}{quote}"


def _mask_keyed_number(match: re.Match[str]) -> str:
    if match.group("key") in SAFE_KEYS:
        return match.group(0)
    return f"{match.group('head')}{SENSITIVE_MASK}"


def _redact_console_line(text: str) -> str | None:
    """A structlog console line reduced to its event name and key names, else None.

    Its values are unquoted and may hold spaces, so no value can be told apart from
    the next key reliably: every value is masked.
    """
    plain = _ANSI.sub("", text) if "\x1b[" in text else text
    match = _CONSOLE_EVENT.match(plain)
    if match is None:
        return None
    keys = _CONSOLE_KEY.findall(match.group("rest"))
    return match.group("head") + " " + " ".join(f"{key}={SENSITIVE_MASK}" for key in keys)


def _redact_json_line(text: str) -> str | None:
    """The allowlisted re-rendering of a log line that is one JSON object, else None."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return json.dumps(redact_structure(data), ensure_ascii=False)


def redact_structure(value: Any, key: str | None = None) -> Any:
    """A copy of JSON-like data in which only allowlisted values remain.

    Mapping keys are kept (masked if they are not identifier-like); a string or number
    survives only under a key of :data:`SAFE_KEYS` and only if :func:`is_safe_value`
    accepts it; ``bool``/``None`` always survive. The ``name`` of a ``profile`` (the
    WhatsApp profile name) never does.
    """
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for index, (item_key, item) in enumerate(value.items()):
            name = str(item_key)
            safe_name = name if _IDENTIFIER_KEY.fullmatch(name) else f"{SENSITIVE_MASK}{index}"
            if key in ("profile", "contacts", "user", "metadata") and name in ("name", "username"):
                result[safe_name] = SENSITIVE_MASK
            else:
                result[safe_name] = redact_structure(item, name)
        return result
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_structure(item, key) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if key not in SAFE_KEYS:
        return SENSITIVE_MASK
    if isinstance(value, (int, float)):
        return value if is_safe_value(repr(value)) or key in ("timestamp", "confidence") else SENSITIVE_MASK
    return value if isinstance(value, str) and is_safe_value(value) else SENSITIVE_MASK


def redact(text: str) -> str:
    """Keep only allowlisted content of ``text`` (see the module docstring)."""
    state = _SENSITIVE.get()
    if state is not None and state.pattern is not None:
        text = state.pattern.sub(SENSITIVE_MASK, text)
    structured = _redact_json_line(text)
    if structured is None:
        structured = _redact_console_line(text)
    if structured is not None:
        text = structured
    text = _RESPONSE_BODY.sub(lambda m: f"{m.group('head')}'{SENSITIVE_MASK}'", text)
    text = _PAYLOAD_JSON.sub(lambda m: f"{m.group('head')}{{{SENSITIVE_MASK}}}", text)
    text = _PROFILE_NAME.sub(_mask_keyed, text)
    text = _KEYED_VALUE.sub(_mask_keyed, text)
    text = _KEYED_COORDINATE.sub(_mask_keyed, text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _BSUID.sub(BSUID_MASK, text)
    text = _USERNAME.sub(USERNAME_MASK, text)
    text = _COORDINATE_PAIR.sub(SENSITIVE_MASK, text)
    text = _COORDINATE.sub(SENSITIVE_MASK, text)
    text = _PHONE_CANDIDATE.sub(_mask_phone, text)
    text = _QUOTED.sub(_mask_quoted, text)
    return _KEYED_NUMBER.sub(_mask_keyed_number, text)


def _safe_str(obj: object) -> str:
    try:
        return str(obj)
    except Exception:  # noqa: BLE001 - a log filter must never raise; any __str__ may fail
        return f"<unprintable {type(obj).__name__}>"


class RedactingFilter(logging.Filter):
    """Rewrites records in place so that no handler ever sees the unmasked text.

    Always returns True (it masks, it never drops). The message is formatted once
    with its arguments and the arguments are cleared, because masking a number split
    across format string and arguments is otherwise impossible.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - if formatting fails, logging would print the raw args
            message = _safe_str(record.msg) + " [log arguments could not be formatted]"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the formatted (masked) text stands in; the raw exception would re-render
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD_RECORD_ATTRS and name != "message":
                continue
            if isinstance(value, str):
                setattr(record, name, redact(value))
            elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
                setattr(record, name, redact_structure(value))
        return True


def _targets(logger_names: Iterable[str]) -> list[logging.Logger]:
    names = tuple(logger_names)
    loggers: list[logging.Logger] = []
    for name in names:
        loggers.append(logging.getLogger(name) if name else logging.getLogger())
    for existing_name, existing in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(existing, logging.Logger):
            continue  # a PlaceHolder: no logger object, no handlers yet
        if any(name == "" or existing_name.startswith(name + ".") for name in names):
            loggers.append(existing)
    unique: dict[int, logging.Logger] = {id(logger): logger for logger in loggers}
    return list(unique.values())


def _attach(filterer: logging.Filterer, redacting: RedactingFilter) -> None:
    if not any(isinstance(existing, RedactingFilter) for existing in filterer.filters):
        filterer.addFilter(redacting)


class DebugLoggingRefusedError(RuntimeError):
    """DEBUG logging was configured in production without the documented override."""


def _debug_enabled_loggers(logger_names: Iterable[str]) -> list[str]:
    enabled = []
    for name in logger_names:
        logger = logging.getLogger(name) if name else logging.getLogger()
        if logger.isEnabledFor(logging.DEBUG):
            enabled.append(name or "root")
    return enabled


def check_log_level(
    environ: Mapping[str, str] | None = None, logger_names: Iterable[str] = DEFAULT_LOGGER_NAMES
) -> None:
    """Refuse DEBUG logging in production (issue 16, finding 2).

    DEBUG lines of Rasa, rasa-sdk and Sanic carry parse data, slot values and payloads;
    the filter masks what it recognises, but a production process should not produce
    them at all. Allowed when ``BLAUPAUSE_ENV=local`` or when the operator sets
    ``BLAUPAUSE_ALLOW_DEBUG_LOGS=1`` (documented override, e.g. for a short, supervised
    debugging session). Raises :class:`DebugLoggingRefusedError` naming the loggers.
    """
    env = os.environ if environ is None else environ
    if env.get("BLAUPAUSE_ENV", "").strip().lower() == "local":
        return
    if env.get(ALLOW_DEBUG_LOGS_ENV, "").strip().lower() in ("1", "true", "yes"):
        return
    enabled = _debug_enabled_loggers(logger_names)
    if enabled:
        raise DebugLoggingRefusedError(
            f"DEBUG logging is refused in production (enabled for: {', '.join(enabled)}): DEBUG lines carry "
            f"dialogue content. Use the default level (INFO), run locally with BLAUPAUSE_ENV=local, or set "
            f"{ALLOW_DEBUG_LOGS_ENV}=1 to allow it deliberately (the redaction filter still applies)."
        )


def install_redaction(
    logger_names: Iterable[str] = DEFAULT_LOGGER_NAMES,
    *,
    enforce_level: bool = True,
    environ: Mapping[str, str] | None = None,
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to the given loggers, their existing
    descendants, and all their handlers (including the root logger's handlers).

    Logger filters mask a record where it is created, before propagation, so handlers
    added later still receive masked records; handler filters cover records from
    loggers created after this call that propagate to those handlers. Call it after
    logging is configured (Rasa configures logging before loading channels).
    Idempotent: a logger or handler that already has a ``RedactingFilter`` is skipped.
    Returns the filter instance that was attached.

    ``enforce_level`` first applies :func:`check_log_level` (DEBUG refused in
    production). In a process where Rasa is loaded it also strips tracker bodies from
    Rasa's ``ClientResponseError`` (:mod:`privacy.action_errors`).
    """
    names = tuple(logger_names)
    if enforce_level:
        check_log_level(environ, names)
    from privacy import action_errors  # here: action_errors imports this module
    from privacy.personal_values import send_personal_values_with_action_calls

    action_errors.strip_rasa_client_error_bodies()
    send_personal_values_with_action_calls()
    redacting = RedactingFilter()
    targets = _targets(names)
    root = logging.getLogger()
    if root not in targets:
        targets.append(root)
    for logger in targets:
        if logger is not root or "" in names:
            _attach(logger, redacting)
        for handler in logger.handlers:
            _attach(handler, redacting)
    return redacting


def uninstall_redaction() -> None:
    """Remove every ``RedactingFilter`` from all loggers and their handlers (tests, reloads)."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers.extend(
        logger for logger in list(logging.Logger.manager.loggerDict.values()) if isinstance(logger, logging.Logger)
    )
    for logger in loggers:
        for filterer in (logger, *logger.handlers):
            for existing in list(filterer.filters):
                if isinstance(existing, RedactingFilter):
                    filterer.removeFilter(existing)
