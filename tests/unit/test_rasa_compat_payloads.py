"""rasa_compat.hot_path.parse_payloads_without_nlu against Rasa's own graph ending in RegexMessageHandler."""
from __future__ import annotations

from typing import Any

import pytest
import yaml
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.data import TrainingType
from rasa.shared.nlu.training_data.message import Message

import rasa_compat
from rasa_compat import RasaVersionError
from tests.support.paths import DOMAIN_FILE, REPO_ROOT

DOMAIN = Domain.load(str(DOMAIN_FILE))


class GraphRunner:
    """Rasa's NLU graph as far as a payload is concerned: the models, then RegexMessageHandler last."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.runs = 0

    def run(self, inputs: dict[str, Any], targets: list[str]) -> dict[str, Any]:
        self.runs += 1
        (user_message,) = inputs["__message__"]
        message = Message(data={"text": user_message.text})
        # what the models would have written: the handler must replace all of it for a payload
        message.set("intent", {"name": "greet", "confidence": 0.93}, add_to_output=True)
        message.set("intent_ranking", [{"name": "greet", "confidence": 0.93}], add_to_output=True)
        message.set("entities", [{"entity": "language", "value": "de", "start": 0, "end": 1,
                                  "extractor": "LanguageDetector"}], add_to_output=True)
        message.set("text_tokens", ["x"])
        (handled,) = RegexMessageHandler().process([message], self.domain)
        return {targets[0]: [handled]}


class Processor:
    """The attributes of ``MessageProcessor`` that ``_parse_message_with_graph`` reads."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.graph_runner = GraphRunner(domain)
        self.model_metadata = type("Metadata", (), {"nlu_target": "run_RegexMessageHandler"})()


@pytest.fixture()
def rasa_own(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rasa's own method (unwrapped if a test installed ours earlier in this process)."""
    method = MessageProcessor._parse_message_with_graph
    while getattr(method, "_blaupause_payloads_without_nlu", False):
        method = method.__wrapped__
    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", method)
    return method


PAYLOADS = [
    "/more_results",
    "  /more_results  ",
    '/select_job{"job_id": "42"}',
    '/select_job@0.7{"job_id": "42"}',
    '/voice_unsure{"transcript": "Koch in Berlin"}',
    '/switch_language{"language": "en"}',
    '/share_location{"latitude": 52.52, "longitude": 13.40}',
    '/more_results{"no_such_entity": 1}',  # Rasa drops the unknown entity, with a warning, either way
]
NOT_CERTAIN = [
    "Hallo",
    "/",
    "/no_such_intent",
    '/select_job{"job_index": ',
    "/more_results and some words",
    "Koch in Berlin /more_results",
]


def _parse(method: Any, text: str) -> tuple[dict[str, Any], int]:
    processor = Processor(DOMAIN)
    tracker = DialogueStateTracker.from_events("4915550000001", [])
    parsed = method(processor, UserMessage(text=text, sender_id="x"), tracker)
    return parsed, processor.graph_runner.runs


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("text", PAYLOADS + NOT_CERTAIN)
def test_the_parse_data_is_the_graphs(rasa_own: Any, text: str) -> None:
    expected, runs = _parse(rasa_own, text)
    assert runs == 1
    assert rasa_compat.parse_payloads_without_nlu() is True
    actual, runs = _parse(MessageProcessor._parse_message_with_graph, text)
    assert actual == expected
    assert runs == (0 if text in PAYLOADS else 1), "a certain payload skips the NLU graph, all else runs it"


def test_a_payloads_entities_are_the_ones_written_in_it(rasa_own: Any) -> None:
    rasa_compat.parse_payloads_without_nlu()
    parsed, _ = _parse(MessageProcessor._parse_message_with_graph, '/select_job{"job_id": "42"}')
    assert parsed["intent"] == {"name": "select_job", "confidence": 1.0}
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [("job_id", "42")]


def test_rasa_own_parse_still_runs_when_all_properties_are_asked_for(rasa_own: Any) -> None:
    rasa_compat.parse_payloads_without_nlu()
    processor = Processor(DOMAIN)
    tracker = DialogueStateTracker.from_events("x", [])
    parsed = MessageProcessor._parse_message_with_graph(processor, UserMessage(text="/more_results"), tracker, False)
    assert processor.graph_runner.runs == 1 and parsed["intent"]["name"] == "more_results"


def test_installing_twice_wraps_once(rasa_own: Any) -> None:
    rasa_compat.parse_payloads_without_nlu()
    once = MessageProcessor._parse_message_with_graph
    rasa_compat.parse_payloads_without_nlu()
    assert MessageProcessor._parse_message_with_graph is once
    assert once.__wrapped__ is rasa_own


def test_our_pipeline_ends_in_the_handler_the_shortcut_stands_for() -> None:
    """The shortcut is only right while Rasa's NLU target is RegexMessageHandler (default recipe)."""
    config = yaml.safe_load((REPO_ROOT / "config.yml").read_text(encoding="utf-8"))
    graph = DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.BOTH)
    assert graph.nlu_target == f"run_{RegexMessageHandler.__name__}"


def test_another_rasa_version_is_refused(monkeypatch: pytest.MonkeyPatch, rasa_own: Any) -> None:
    import rasa

    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RasaVersionError, match="parse_payloads_without_nlu"):
        rasa_compat.parse_payloads_without_nlu()
