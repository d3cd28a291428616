"""TED's prediction computed only when it can change Rasa 3.6's choice of the next action.

Why: for every action Rasa predicts, its graph runs every policy (MemoizationPolicy,
RulePolicy, TEDPolicy, ours) and then lets ``DefaultPolicyPredictionEnsemble`` pick one
prediction. TED (featurising the last five turns, then a TensorFlow call) is the costliest
of them, and in a rule- and story-driven assistant most of its predictions cannot win: the
ensemble takes the highest confidence, and on a tie the higher priority (Rasa 3.6,
``rasa/core/policies/ensemble.py``, ``_pick_best_policy``); a rule or a memorised story
predicts with confidence 1.0 at priority 4 or 3, TED at most 1.0 (a softmax) at priority 1.
A loop's happy path ("no user" prediction) or a rule on the user's text (an end-to-end
prediction) excludes TED's intent-based prediction altogether.

What :func:`defer_ted_predictions` installs:

- ``TEDPolicy.predict_action_probabilities`` returns a :class:`DeferredPrediction`: a
  ``PolicyPrediction`` that runs TED's own method the first time anything reads it. So
  every consumer other than the ensemble sees exactly TED's prediction.
- ``DefaultPolicyPredictionEnsemble.combine_predictions`` leaves a pending TED prediction
  out only when :func:`decided_without` shows it cannot be the ensemble's pick and adds
  nothing to its result; otherwise it computes it and Rasa's own method decides as before.

"Adds nothing" holds for TED as configured here, and is checked per policy instance before
deferring: no end-to-end features (``TEXT`` not among its trained features, so its
prediction is never end-to-end and has no optional events), softmax confidences (at most
1.0), and no mandatory events (TED never returns any). A TED trained end-to-end, or with
another confidence type, is computed at once as before. When the last action was rejected
(``ActionExecutionRejected``) Rasa zeroes that action in every prediction first; TED is then
computed too. tests/unit/test_rasa_compat_deferred_ted.py compares the ensemble's result
with and without the deferral over thousands of generated prediction sets; ``make
test-stories`` runs the test conversations through Rasa with the hot path installed.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from rasa_compat import WRITTEN_FOR, _wrap_once, require_rasa

__all__ = ["DeferredPrediction", "decided_without", "defer_ted_predictions", "counters"]

_TED_MARK = "_blaupause_deferred_ted"
_ENSEMBLE_MARK = "_blaupause_ensemble_skips_deferred"

#: How many TED predictions were deferred, and how many of those had to be computed after all
#: (for bench/ and tests; plain ints, no lock: a count, never a decision).
counters = {"deferred": 0, "computed": 0}


@functools.cache
def deferred_class() -> type:
    """The :class:`DeferredPrediction` class (built on first use: it subclasses Rasa's ``PolicyPrediction``)."""
    from rasa.core.policies.policy import PolicyPrediction

    class DeferredPrediction(PolicyPrediction):
        """A ``PolicyPrediction`` whose attributes are TED's, computed on first read.

        Nothing of ``PolicyPrediction.__init__`` runs until then: every attribute lookup that
        finds nothing on the instance (``probabilities``, ``events``, ``max_confidence``'s
        reads, ...) goes through ``__getattr__``, which computes TED's prediction once and
        copies its attributes onto this object.
        """

        def __init__(self, compute: Callable[[], Any], policy_priority: int) -> None:  # noqa: D107
            self.__dict__["_pending"] = compute
            self.__dict__["deferred_priority"] = policy_priority

        @property
        def pending(self) -> bool:
            """True until TED's prediction has been computed."""
            return "_pending" in self.__dict__

        def resolve(self) -> "DeferredPrediction":
            """Compute TED's prediction now (once) and take over its attributes."""
            compute = self.__dict__.pop("_pending", None)
            if compute is not None:
                counters["computed"] += 1
                self.__dict__.update(vars(compute()))
            return self

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__") or "_pending" not in self.__dict__:
                raise AttributeError(name)
            self.resolve()
            return getattr(self, name)

    return DeferredPrediction


def __getattr__(name: str) -> Any:  # module attribute DeferredPrediction, without importing Rasa at import time
    if name == "DeferredPrediction":
        return deferred_class()
    raise AttributeError(name)


def _last_action_rejected(tracker: Any) -> bool:
    """Rasa's own test in ``_best_policy_prediction``: is the latest action event a rejection?"""
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    for event in reversed(tracker.events):
        if isinstance(event, (ActionExecutionRejected, ActionExecuted)):
            return isinstance(event, ActionExecutionRejected)
    return False


def decided_without(pending: Sequence[Any], known: Sequence[Any], tracker: Any) -> bool:
    """True when the ensemble's pick among ``known`` cannot change by adding the ``pending`` ones.

    Each pending prediction is known to be intent-based (not end-to-end), not a "no user"
    prediction, without events, with a maximum confidence of at most 1.0 and the priority
    ``deferred_priority``. Following ``_pick_best_policy``: if any known prediction is a "no
    user" or an end-to-end one, the pending ones are not eligible at all; otherwise one known
    prediction whose (confidence, priority) beats (1.0, pending priority) outranks each of
    them, and removing a prediction that is never the maximum leaves the first maximum (the
    pick) where it was. A rejected last action changes probabilities first: never decided.
    """
    if not known or _last_action_rejected(tracker):
        return False
    if any(p.is_no_user_prediction for p in known) or any(p.is_end_to_end_prediction for p in known):
        return True
    ceiling = max(p.deferred_priority for p in pending)
    return any(p.max_confidence > 1.0 or (p.max_confidence >= 1.0 and p.policy_priority > ceiling) for p in known)


def _deferrable(policy: Any) -> bool:
    """TED as configured here: intent-based only, softmax confidences (see the module docstring)."""
    from rasa.shared.nlu.constants import TEXT
    from rasa.utils.tensorflow.constants import MODEL_CONFIDENCE, SOFTMAX

    features = getattr(policy, "fake_features", None)
    return (features is not None and TEXT not in features
            and getattr(policy, "config", {}).get(MODEL_CONFIDENCE) == SOFTMAX)


def defer_ted_predictions() -> bool:
    """Install the deferral (see the module docstring). Idempotent; False when Rasa is not importable."""
    try:
        from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
        from rasa.core.policies.ted_policy import TEDPolicy
    except ImportError:
        return False
    require_rasa(WRITTEN_FOR, "defer_ted_predictions")
    deferred = deferred_class()

    def wrap_ted(original: Any) -> Any:
        def predict_action_probabilities(self: Any, tracker: Any, domain: Any, rule_only_data: Any = None,
                                         precomputations: Any = None, **kwargs: Any) -> Any:
            if not _deferrable(self):
                return original(self, tracker, domain, rule_only_data, precomputations, **kwargs)
            counters["deferred"] += 1
            return deferred(lambda: original(self, tracker, domain, rule_only_data, precomputations, **kwargs),
                            self.priority)

        return predict_action_probabilities

    def wrap_ensemble(original: Any) -> Any:
        def combine_predictions(self: Any, predictions: list[Any], tracker: Any, domain: Any) -> Any:
            known: list[Any] = []
            pending: list[Any] = []
            for prediction in predictions:  # one pass; ``in``/``==`` would read (and compute) a pending one
                (pending if isinstance(prediction, deferred) and prediction.pending else known).append(prediction)
            if pending:
                if decided_without(pending, known, tracker):
                    predictions = known
                else:
                    for prediction in pending:
                        prediction.resolve()
            return original(self, predictions, tracker, domain)

        return combine_predictions

    _wrap_once(TEDPolicy, "predict_action_probabilities", _TED_MARK, wrap_ted)
    _wrap_once(DefaultPolicyPredictionEnsemble, "combine_predictions", _ENSEMBLE_MARK, wrap_ensemble)
    return True
