"""Rasa 3.6's turn without its waste: the adjustments :func:`install_hot_path` installs.

Why a module of its own inside :mod:`rasa_compat`: these are performance adjustments (issue 12),
found by profiling the Rasa process under load (bench/profile.py, docs/performance.md); the
other adjustments in :mod:`rasa_compat` keep privacy guarantees. Each one gives the same
results, exceptions and messages as the Rasa code it replaces (tests/unit/test_rasa_compat.py
and tests/unit/test_rasa_compat_hot_path.py compare them with Rasa's own), checks the Rasa
version it was written for, and is installed once per process by the channel at start-up.
``BLAUPAUSE_RASA_HOT_PATH=off`` leaves Rasa's code unchanged (for the "before" profile).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from rasa_compat import WRITTEN_FOR, _wrap_once, require_rasa
from rasa_compat.deferred_ted import defer_ted_predictions
from rasa_compat.serving_load import load_models_without_training_step

__all__ = ["compile_action_result_validation", "cache_event_type_lookup", "parse_payloads_without_nlu",
           "install_hot_path"]

_VALIDATION_MARK = "_blaupause_compiled_validator"


def compile_action_result_validation() -> bool:
    """Validate custom action results with a validator built once, not per call.

    Why: Rasa 3.6's ``RemoteAction._validate_action_result`` calls
    ``jsonschema.validate(result, self.action_response_format_spec())`` for every custom
    action result; ``jsonschema.validate`` checks the schema against its meta-schema and
    builds a new validator on every call, the biggest single item in the Rasa process's
    profile. The replacement does what ``jsonschema.validate`` (4.17) does, minus the repeated
    parts: ``validator_for(schema)`` and ``check_schema`` once, then per call
    ``best_match(validator.iter_errors(result))`` raised as is. Rasa's wrapping is kept
    as in 3.6: on a ``ValidationError`` its message gets Rasa's hint appended and the error is
    re-raised; True otherwise. A subclass that overrides ``action_response_format_spec``
    keeps Rasa's original method (its schema may differ).

    Idempotent. Returns False when Rasa is not importable (the action server).
    """
    try:
        from rasa.core.actions import action as rasa_action
    except ImportError:
        return False
    require_rasa(WRITTEN_FOR, "compile_action_result_validation")
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    remote = rasa_action.RemoteAction
    schema = remote.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    base_spec = remote.action_response_format_spec  # a staticmethod: the same function object each time

    def wrap(original: Any) -> Any:
        def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
            if type(self).action_response_format_spec is not base_spec:
                return original(self, result)  # pragma: no cover - no such subclass in Rasa 3.6
            error: Optional[ValidationError] = best_match(validator.iter_errors(result))
            if error is None:
                return True
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{rasa_action.DOCS_BASE_URL}/custom-actions"
            )
            raise error

        return _validate_action_result

    _wrap_once(remote, "_validate_action_result", _VALIDATION_MARK, wrap)
    return True


def install_hot_path(env: Mapping[str, str] | None = None) -> bool:
    """Install every adjustment that takes waste out of Rasa 3.6's turn (once per process; idempotent).

    Called by the WhatsApp channel at start-up (``WhatsAppInput.from_credentials``). Today:
    :func:`compile_action_result_validation`, :func:`cache_event_type_lookup`,
    :func:`parse_payloads_without_nlu`, :func:`rasa_compat.deferred_ted.defer_ted_predictions`
    (TED's prediction only when it can change the ensemble's pick) and
    :func:`rasa_compat.serving_load.load_models_without_training_step` (DIET and TED loaded
    without tracing a training step: 71 % of a Rasa start in the profile).
    Raises :class:`RasaVersionError` on another Rasa version; returns False when Rasa is not
    importable, or when ``BLAUPAUSE_RASA_HOT_PATH=off`` (in ``env``, default the process
    environment): Rasa's own code then runs unchanged, which bench/profile.py uses to profile
    the turn before and after.
    """
    import os

    switch = (env if env is not None else os.environ).get("BLAUPAUSE_RASA_HOT_PATH", "on").strip().lower()
    if switch in ("off", "0", "false", "no"):
        return False
    compiled = compile_action_result_validation()
    payloads = parse_payloads_without_nlu()
    deferred = defer_ted_predictions()
    loaded = load_models_without_training_step()
    return cache_event_type_lookup() and compiled and payloads and deferred and loaded


_EVENT_TYPES_MARK = "_blaupause_cached_event_types"


def cache_event_type_lookup() -> bool:
    """Resolve an event's class by its type name from a table, not by walking every subclass.

    Why: Rasa 3.6's ``Event.resolve_by_type`` (called for every event of every tracker read
    from a store, and for every event an action returns) builds
    ``rasa.shared.utils.common.all_subclasses(Event)`` on each call: a recursive walk of the
    class tree with ``inspect.isabstract`` for each class, about two thirds of the CPU of
    loading a tracker. The replacement builds the same list once, in the same order, and keeps
    the first class per type name (Rasa returns the first match of that list). A subclass of
    ``Event`` created later (a custom event imported after start) marks the table stale
    through ``Event.__init_subclass__``, so the next lookup rebuilds it: the result is always
    the one Rasa's walk would give. A name not in the table (``"topic"``, an unknown name) goes
    to Rasa's own method: same default, same ``ValueError``. Idempotent; False without Rasa.
    """
    try:
        from rasa.shared.core import events as rasa_events
        from rasa.shared.utils.common import all_subclasses
    except ImportError:
        return False
    require_rasa(WRITTEN_FOR, "cache_event_type_lookup")
    event = rasa_events.Event
    original = event.resolve_by_type
    if getattr(original, _EVENT_TYPES_MARK, False):
        return True
    table: dict[str, Any] = {}
    stale = [True]

    def resolve_by_type(type_name: str, default: Optional[Any] = None) -> Optional[Any]:
        if stale[0]:
            table.clear()
            for cls in all_subclasses(event):
                table.setdefault(cls.type_name, cls)
            stale[0] = False
        found = table.get(type_name)
        return found if found is not None else original(type_name, default)

    inherited = event.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: Any, **kwargs: Any) -> None:
        stale[0] = True
        if inherited is not None:  # pragma: no cover - Rasa 3.6's Event defines none
            inherited.__func__(cls, **kwargs)
        else:
            super(event, cls).__init_subclass__(**kwargs)

    setattr(resolve_by_type, _EVENT_TYPES_MARK, True)
    event.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[assignment]
    return True


_PAYLOAD_MARK = "_blaupause_payloads_without_nlu"
#: The name Rasa's ``RegexMessageHandler`` gives as the extractor of a payload's entities.
_PAYLOAD_EXTRACTOR = "RegexMessageHandler"


def parse_payloads_without_nlu() -> bool:
    """Read a button payload ("/more_results", '/select_job{"job_id": "42"}') without running the NLU models.

    Why: Rasa 3.6 runs every message through the whole NLU graph (tokenizer, featurizers, DIET,
    our components) and only then lets its last node, ``RegexMessageHandler``,
    replace the result of a message that starts with "/" by the intent and entities written
    in it (``YAMLStoryReader.unpack_regex_message``, which builds a *new* message: nothing the
    models computed survives). On WhatsApp every tap on a reply button or a list row arrives
    as such a payload (connectors/whatsapp; a third of the turns of bench/turns.py), so the
    models' work on it is thrown away. The replacement of
    ``MessageProcessor._parse_message_with_graph`` calls that same unpacking directly when the
    graph would certainly end in it: the text starts with "/", Rasa's own pattern matches it
    with nothing left over, and the intent is in the model's domain. Anything else (text, an
    unknown intent, a malformed payload, ``only_output_properties=False``) runs the graph as
    before, so Rasa's warnings and results are unchanged. Same parse data as the graph
    (tests/unit/test_rasa_compat_payloads.py compares them with Rasa's ``RegexMessageHandler``).

    Idempotent. Returns False when Rasa is not importable (the action server).
    """
    try:
        from rasa.core import processor as rasa_processor
        from rasa.shared.constants import INTENT_MESSAGE_PREFIX
        from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
        from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
        from rasa.shared.nlu.training_data.message import Message
    except ImportError:
        return False
    require_rasa(WRITTEN_FOR, "parse_payloads_without_nlu")
    pattern = YAMLStoryReader._regex_message_pattern()

    def certain_payload(text: str, domain: Any) -> bool:
        stripped = text.strip()
        if not stripped.startswith(INTENT_MESSAGE_PREFIX) or domain is None:
            return False
        match = pattern.match(stripped)
        return bool(match) and not match.group("rest") and match.group(INTENT_NAME_KEY).strip() in domain.intents

    def wrap(original: Any) -> Any:
        def _parse_message_with_graph(self: Any, message: Any, tracker: Any,
                                      only_output_properties: bool = True) -> dict[str, Any]:
            text = message.text
            if not (only_output_properties and isinstance(text, str) and certain_payload(text, self.domain)):
                return original(self, message, tracker, only_output_properties)
            parsed = YAMLStoryReader.unpack_regex_message(
                Message(data={TEXT: text}), self.domain, entity_extractor_name=_PAYLOAD_EXTRACTOR)
            parse_data: dict[str, Any] = {
                TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
            parse_data.update(parsed.as_dict(only_output_properties=True))
            return parse_data

        return _parse_message_with_graph

    _wrap_once(rasa_processor.MessageProcessor, "_parse_message_with_graph", _PAYLOAD_MARK, wrap)
    return True
