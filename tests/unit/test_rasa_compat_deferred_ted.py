"""rasa_compat.deferred_ted against Rasa 3.6's own DefaultPolicyPredictionEnsemble.

The ensemble's result with TED's prediction deferred must equal its result with TED computed
first, for every combination of predictions the policies of config.yml can return; and TED
must be computed whenever it could matter.
"""
from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import rasa
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    LoopInterrupted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, TEXT

import rasa_compat
from rasa_compat import RasaVersionError, deferred_ted

ACTIONS = ["utter_greet", "action_search_jobs", "action_llm_fallback", "utter_ask_location"]
DOMAIN = Domain.from_dict({"intents": ["greet", "inform"], "actions": ACTIONS,
                           "responses": {"utter_greet": [{"text": "Hallo"}],
                                         "utter_ask_location": [{"text": "Wo?"}]}})
N = DOMAIN.num_actions


@pytest.fixture()
def rasa_own(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rasa's own ensemble and TED methods, restored after the test; counters reset."""
    def unwrapped(method: Any) -> Any:
        while hasattr(method, "__wrapped__"):
            method = method.__wrapped__
        return method

    combine = unwrapped(DefaultPolicyPredictionEnsemble.combine_predictions)
    monkeypatch.setattr(DefaultPolicyPredictionEnsemble, "combine_predictions", combine)
    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities",
                        unwrapped(TEDPolicy.predict_action_probabilities))
    monkeypatch.setattr(deferred_ted, "counters", {"deferred": 0, "computed": 0})
    return combine


def _probabilities(rng: random.Random, top: float) -> list[float]:
    values = [0.0] * N
    if top:
        values[rng.randrange(N)] = top
    return values


def _softmax(rng: random.Random) -> list[float]:
    raw = [rng.random() ** rng.choice([1, 4, 12]) for _ in range(N)]
    if rng.random() < 0.15:  # a certain TED: one action at exactly 1.0
        return _probabilities(rng, 1.0)
    total = sum(raw)
    return [value / total for value in raw]


def _case(rng: random.Random) -> tuple[list[PolicyPrediction], DialogueStateTracker]:
    """A prediction set as config.yml's policies return it, in config.yml's order, and a tracker."""
    memo = PolicyPrediction(_probabilities(rng, rng.choice([0.0, 0.0, 1.0, 0.62])), "MemoizationPolicy", 3)
    rule_top = rng.choice([0.3, 0.3, 1.0, 1.0, 0.0])
    rule = PolicyPrediction(
        _probabilities(rng, rule_top), "RulePolicy", rng.choice([4, 4, 4, 1]),
        events=[LoopInterrupted(True)] if rng.random() < 0.1 else [],
        is_end_to_end_prediction=rng.random() < 0.1, is_no_user_prediction=rng.random() < 0.15,
        hide_rule_turn=rng.random() < 0.3)
    ted = PolicyPrediction(_softmax(rng), "TEDPolicy", 1, optional_events=None,
                           diagnostic_data={"attention_weights": rng.random()})
    language = PolicyPrediction([0.0] * N, "LanguageSlotPolicy", 0,
                                events=[SlotSet("language", "en")] if rng.random() < 0.2 else [])
    events: list[Any] = [ActionExecuted("action_listen"), UserUttered("hallo", {"name": "greet"})]
    if rng.random() < 0.1:
        events += [ActionExecuted("utter_greet"), ActionExecutionRejected("utter_ask_location")]
    elif rng.random() < 0.5:
        events.append(ActionExecuted("utter_greet"))
    return [memo, rule, ted, language], DialogueStateTracker.from_events("fake", events)


def _fields(prediction: PolicyPrediction) -> tuple[Any, ...]:
    return (prediction.probabilities, prediction.policy_name, prediction.policy_priority,
            [type(e).__name__ + repr({k: v for k, v in e.as_dict().items() if k != "timestamp"})
             for e in prediction.events],
            prediction.is_end_to_end_prediction, prediction.is_no_user_prediction,
            prediction.diagnostic_data, prediction.hide_rule_turn, prediction.action_metadata)


def test_the_ensembles_pick_is_the_same_with_ted_deferred(rasa_own: Any) -> None:
    rng = random.Random(2026)
    ensemble = DefaultPolicyPredictionEnsemble()
    assert deferred_ted.defer_ted_predictions() is True
    deferred_class = deferred_ted.deferred_class()
    skipped = computed = 0
    for _ in range(5000):
        predictions, tracker = _case(rng)
        expected = _fields(rasa_own(ensemble, copy.deepcopy(predictions), tracker, DOMAIN))
        ted = copy.deepcopy(predictions[2])
        calls: list[int] = []

        def compute(ted: PolicyPrediction = ted) -> PolicyPrediction:
            calls.append(1)
            return ted

        lazy = copy.deepcopy(predictions)
        lazy[2] = deferred_class(compute, 1)
        got = _fields(ensemble.combine_predictions(lazy, tracker, DOMAIN))
        assert got == expected
        skipped += not calls
        computed += bool(calls)
    # both paths are exercised by the generated cases
    assert skipped > 1000 and computed > 1000


def test_ted_is_computed_when_it_could_win(rasa_own: Any) -> None:
    deferred_ted.defer_ted_predictions()
    tracker = DialogueStateTracker.from_events("fake", [ActionExecuted("action_listen"),
                                                        UserUttered("hallo", {"name": "greet"})])
    ted = PolicyPrediction(_probabilities(random.Random(1), 0.9), "TEDPolicy", 1)
    lazy = deferred_ted.deferred_class()(lambda: ted, 1)
    fallback_only = PolicyPrediction([0.0] * 2 + [0.3] + [0.0] * (N - 3), "RulePolicy", 4)
    result = DefaultPolicyPredictionEnsemble().combine_predictions([fallback_only, lazy], tracker, DOMAIN)
    assert result.policy_name == "TEDPolicy" and not lazy.pending


def test_a_deferred_prediction_reads_as_teds_own(rasa_own: Any) -> None:
    ted = PolicyPrediction([0.1, 0.7] + [0.2 / (N - 2)] * (N - 2), "TEDPolicy", 1, diagnostic_data={"a": 1})
    lazy = deferred_ted.deferred_class()(lambda: copy.deepcopy(ted), 1)
    assert isinstance(lazy, PolicyPrediction) and lazy.pending
    assert lazy.max_confidence == ted.max_confidence and lazy.max_confidence_index == 1
    assert not lazy.pending and lazy == ted and lazy.diagnostic_data == {"a": 1}
    with pytest.raises(AttributeError):
        lazy.no_such_attribute  # noqa: B018 - the read is the test


def _fake_ted(features: dict[str, Any], confidence: str = "softmax") -> Any:
    policy = TEDPolicy.__new__(TEDPolicy)
    policy.fake_features = features
    policy.config = {"model_confidence": confidence}
    policy.priority = 1
    return policy


def test_ted_wrapper_defers_only_an_intent_based_softmax_ted(rasa_own: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = PolicyPrediction([1.0] + [0.0] * (N - 1), "TEDPolicy", 1)
    seen: list[Any] = []

    def stub(self: Any, tracker: Any, domain: Any, rule_only_data: Any = None,
             precomputations: Any = None, **kwargs: Any) -> PolicyPrediction:
        seen.append((rule_only_data, precomputations, kwargs))
        return answer

    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", stub)
    deferred_ted.defer_ted_predictions()
    tracker = DialogueStateTracker.from_events("fake", [])
    lazy = _fake_ted({INTENT: []}).predict_action_probabilities(tracker, DOMAIN, {"r": 1}, "pre", extra=2)
    assert isinstance(lazy, deferred_ted.deferred_class()) and lazy.pending and not seen
    assert lazy.probabilities == answer.probabilities and seen == [({"r": 1}, "pre", {"extra": 2})]
    for policy in (_fake_ted({TEXT: [], INTENT: []}), _fake_ted({INTENT: []}, "linear_norm")):
        assert policy.predict_action_probabilities(tracker, DOMAIN) is answer  # computed at once
    assert deferred_ted.counters == {"deferred": 1, "computed": 1}


def test_installs_once(rasa_own: Any) -> None:
    deferred_ted.defer_ted_predictions()
    first = DefaultPolicyPredictionEnsemble.combine_predictions, TEDPolicy.predict_action_probabilities
    deferred_ted.defer_ted_predictions()
    assert (DefaultPolicyPredictionEnsemble.combine_predictions, TEDPolicy.predict_action_probabilities) == first


def test_refuses_another_rasa_version(rasa_own: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RasaVersionError, match="defer_ted_predictions"):
        deferred_ted.defer_ted_predictions()


def test_the_hot_path_installs_it(rasa_own: Any) -> None:
    assert rasa_compat.hot_path.install_hot_path({}) is True
    assert getattr(DefaultPolicyPredictionEnsemble.combine_predictions, "_blaupause_ensemble_skips_deferred", False)
