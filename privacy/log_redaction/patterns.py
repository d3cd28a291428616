"""The masks, and the patterns of what the log redaction masks or lets pass.

Why one module of patterns: the allowlist (:data:`SAFE_KEYS`, the machine shapes) and
the maskers (phone numbers, BSUIDs, usernames, e-mail addresses, coordinates, quoted
literals, payload JSON) must be read side by side when one is changed: a shape that is
allowed must not also be one that is masked. See :mod:`privacy.log_redaction` for the rules.
Masks contain no digits and pass the allowlist, so filtering twice changes nothing.
"""
from __future__ import annotations

import re

__all__ = ["PHONE_MASK", "SENSITIVE_MASK", "BSUID_MASK", "USERNAME_MASK", "EMAIL_MASK", "SAFE_KEYS"]

PHONE_MASK = "[phone]"
SENSITIVE_MASK = "[redacted]"
BSUID_MASK = "[bsuid]"
USERNAME_MASK = "[username]"
EMAIL_MASK = "[email]"
_MASKS = (PHONE_MASK, SENSITIVE_MASK, BSUID_MASK, USERNAME_MASK, EMAIL_MASK)

_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15

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
