"""rasa_compat.seeded_folds against Rasa 3.6's own generate_folds (rasa/nlu/test.py)."""
from __future__ import annotations

from typing import Any

import pytest
import rasa
import rasa.nlu.test as rasa_nlu_test
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import rasa_compat
from rasa_compat import RasaVersionError

_INTENTS = {"greet": 7, "search_job": 9, "thank": 5, "help": 6}


def _data() -> TrainingData:
    examples = [
        Message(data={"text": f"{intent} example {number}", "intent": intent})
        for intent, count in _INTENTS.items()
        for number in range(count)
    ]
    return TrainingData(
        training_examples=examples,
        entity_synonyms={"koeln": "Köln"},
        regex_features=[{"name": "radius", "pattern": r"\d+ ?km"}],
        lookup_tables=[{"name": "location", "elements": ["Köln", "Berlin"]}],
    )


def _folds(generate: Any, n: int = 3, data: TrainingData | None = None) -> list[tuple[list[str], list[str]]]:
    return [
        ([m.get("text") for m in train.intent_examples], [m.get("text") for m in test.intent_examples])
        for train, test in generate(n, data or _data())
    ]


@pytest.fixture()
def original(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rasa's own generate_folds, restored after the test."""
    function = rasa_nlu_test.generate_folds
    function = getattr(function, "__wrapped__", function)
    monkeypatch.setattr(rasa_nlu_test, "generate_folds", function)
    return function


def test_the_same_seed_gives_the_same_folds() -> None:
    assert _folds(rasa_compat.seeded_generate_folds(2026)) == _folds(rasa_compat.seeded_generate_folds(2026))


def test_another_seed_gives_other_folds() -> None:
    assert _folds(rasa_compat.seeded_generate_folds(2026)) != _folds(rasa_compat.seeded_generate_folds(7))


def test_every_example_is_tested_exactly_once_and_never_trained_on_in_its_fold() -> None:
    everything = sorted(m.get("text") for m in _data().intent_examples)
    folds = _folds(rasa_compat.seeded_generate_folds(2026))
    assert len(folds) == 3
    tested = sorted(text for _, test in folds for text in test)
    assert tested == everything
    for train, test in folds:
        assert not set(train) & set(test)
        assert sorted(train + test) == everything


def test_folds_are_stratified_and_carry_the_data_s_features() -> None:
    for train, test in rasa_compat.seeded_generate_folds(2026)(3, _data()):
        counts = {intent: sum(m.get("intent") == intent for m in test.intent_examples) for intent in _INTENTS}
        assert all(total // 3 <= counts[intent] <= -(-total // 3) for intent, total in _INTENTS.items())
        for part in (train, test):
            assert part.entity_synonyms == {"koeln": "Köln"}
            assert part.regex_features == [{"name": "radius", "pattern": r"\d+ ?km"}]
            assert part.lookup_tables == [{"name": "location", "elements": ["Köln", "Berlin"]}]


def test_rasa_s_own_split_has_the_same_shape(original: Any) -> None:
    """Rasa's function (unseeded) and ours split the same examples into folds of the same sizes."""
    ours = _folds(rasa_compat.seeded_generate_folds(2026))
    rasa_s = _folds(original)
    assert [len(test) for _, test in ours] == [len(test) for _, test in rasa_s]
    assert sorted(t for _, test in ours for t in test) == sorted(t for _, test in rasa_s for t in test)


def test_install_replaces_rasa_s_function_and_changes_the_seed_on_reinstall(original: Any) -> None:
    assert rasa_compat.install_seeded_folds(2026) is True
    installed = rasa_nlu_test.generate_folds
    assert installed is not original and installed.__wrapped__ is original
    assert _folds(installed) == _folds(rasa_compat.seeded_generate_folds(2026))
    rasa_compat.install_seeded_folds(7)
    assert rasa_nlu_test.generate_folds.__wrapped__ is original
    assert _folds(rasa_nlu_test.generate_folds) == _folds(rasa_compat.seeded_generate_folds(7))


def test_a_seed_must_be_an_int() -> None:
    with pytest.raises(TypeError):
        rasa_compat.seeded_generate_folds("2026")  # type: ignore[arg-type]


def test_refuses_another_rasa_version(original: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RasaVersionError, match="install_seeded_folds was written for rasa 3.6"):
        rasa_compat.install_seeded_folds(2026)
    assert rasa_nlu_test.generate_folds is original
    with pytest.raises(RasaVersionError, match="seeded_generate_folds was written for rasa 3.6"):
        rasa_compat.seeded_generate_folds(2026)


def _more_data() -> TrainingData:
    """_data() plus new examples of two intents, as a data round adds them."""
    data = _data()
    added = [Message(data={"text": f"new {intent} example {n}", "intent": intent})
             for intent in ("greet", "help") for n in range(6)]
    return TrainingData(training_examples=data.training_examples + added)


def _test_fold_of_each_text(generate: Any, data: TrainingData) -> dict[str, int]:
    return {text: i for i, (_, test) in enumerate(_folds(generate, data=data)) for text in test}


def test_stable_folds_test_every_example_once_and_depend_on_the_seed() -> None:
    everything = sorted(m.get("text") for m in _data().intent_examples)
    folds = _folds(rasa_compat.stable_generate_folds(2026))
    assert sorted(text for _, test in folds for text in test) == everything
    for train, test in folds:
        assert not set(train) & set(test) and sorted(train + test) == everything
    assert folds == _folds(rasa_compat.stable_generate_folds(2026))
    assert folds != _folds(rasa_compat.stable_generate_folds(7))


def test_stable_folds_keep_every_example_in_its_fold_when_examples_are_added() -> None:
    before = _test_fold_of_each_text(rasa_compat.stable_generate_folds(2026), _data())
    after = _test_fold_of_each_text(rasa_compat.stable_generate_folds(2026), _more_data())
    assert {text: after[text] for text in before} == before
    # Rasa's stratified split (seeded) moves examples the data round did not touch
    strat_before = _test_fold_of_each_text(rasa_compat.seeded_generate_folds(2026), _data())
    strat_after = _test_fold_of_each_text(rasa_compat.seeded_generate_folds(2026), _more_data())
    assert any(strat_after[text] != fold for text, fold in strat_before.items())


def test_stable_folds_carry_the_data_s_features() -> None:
    for train, test in rasa_compat.stable_generate_folds(2026)(3, _data()):
        for part in (train, test):
            assert part.entity_synonyms == {"koeln": "Köln"}
            assert part.lookup_tables == [{"name": "location", "elements": ["Köln", "Berlin"]}]


def test_the_stable_fold_of_an_example_is_its_hash_of_intent_and_text() -> None:
    from rasa_compat.seeded_folds import stable_fold_of

    assert stable_fold_of(2026, "greet", "moin", 3) == stable_fold_of(2026, "greet", "moin", 3)
    assert {stable_fold_of(2026, "greet", f"moin {n}", 3) for n in range(30)} == {0, 1, 2}
    with pytest.raises(TypeError):
        rasa_compat.stable_generate_folds(True)  # type: ignore[arg-type]


def test_install_takes_the_split_by_name(original: Any) -> None:
    assert rasa_compat.install_seeded_folds(2026, "stable") is True
    assert rasa_nlu_test.generate_folds.__wrapped__ is original
    assert _folds(rasa_nlu_test.generate_folds) == _folds(rasa_compat.stable_generate_folds(2026))
    rasa_compat.install_seeded_folds(2026, "stratified")
    assert _folds(rasa_nlu_test.generate_folds) == _folds(rasa_compat.seeded_generate_folds(2026))
    with pytest.raises(ValueError, match="unknown fold split 'random'"):
        rasa_compat.install_seeded_folds(2026, "random")
