"""Seeded folds for Rasa 3.6's NLU cross-validation: :func:`install_seeded_folds`.

Why: ``rasa test nlu --cross-validation`` splits the training data in
``rasa.nlu.test.generate_folds`` with ``StratifiedKFold(n_splits=n, shuffle=True)`` and no
``random_state``, so every run tests on other folds. DIET itself is seeded (config.yml,
``random_seed: 42``), yet the weighted intent F1 of the same data moved between 0.69 and 0.76
from run to run: a change of one point could not be told from the dice (issue 13, item 5,
"Measurement you can trust"). The replacement is Rasa 3.6's function with one difference,
``random_state=seed``; the split, the stratification on the full intent (retrieval intents
included) and the ``TrainingData`` of each fold (with the data's synonyms, regexes, lookup
tables and responses) are Rasa's. ``rasa.nlu.test.cross_validate`` looks the function up in its
module at each run, so replacing the module attribute is enough.

Two splits, both seeded: ``stratified`` is Rasa's ``StratifiedKFold`` with the seed; the same
data gives the same folds, but adding one example reshuffles every fold, so two data rounds are
compared on other folds. A round of ~90 examples for some intents (2026-12-01) moved the F1 of
intents it did not touch by up to 0.064 (help 0.895 -> 0.831): mostly the new split, not the
new data. ``stable`` (``scripts/nlu_cross_validation.py --split stable``) puts
each example in the fold a keyed hash of (seed, intent, text) names: an example stays in its
fold whatever is added or removed around it, so a data round is measured on the same test
examples plus its own. The price: folds are balanced per intent only on average (in the
shipped data the least even intent is cancel_delete, 27 / 16 / 29 examples over 3 folds), and
fewer examples of an intent to train on in some folds: the same data scored weighted F1 0.899
on it against 0.909 on the stratified split (Rasa's average over all intents). The report's
figures (``make nlu-report``) stay on the stratified split; the stable one is for comparing
data rounds. Measured with it, that round moved the untouched out_of_scope and help by 0.016
and 0.005, where the stratified split had moved them by 0.025 and 0.064. What still moves is
the training itself: any change of the data changes DIET's batches (job_title F1 0.954 ->
0.911 with no entity data changed).

Used by scripts/nlu_cross_validation.py (``make nlu-report``), never by the assistant itself.
Like every adjustment in :mod:`rasa_compat`, it refuses a Rasa version it was not written for.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from rasa_compat import WRITTEN_FOR, require_rasa

__all__ = ["seeded_generate_folds", "stable_generate_folds", "stable_fold_of", "install_seeded_folds"]

logger = logging.getLogger(__name__)

#: Set on the installed function: the seed it splits with (and that it is ours).
_SEED_MARK = "_blaupause_fold_seed"

Folds = Iterator[tuple[Any, Any]]


def seeded_generate_folds(seed: int) -> Callable[[int, Any], Folds]:
    """Rasa 3.6's ``generate_folds(n, training_data)``, splitting with ``random_state=seed``.

    Each fold is ``(train, test)``, two ``TrainingData`` built as Rasa 3.6 builds them. Raises
    :class:`rasa_compat.RasaVersionError` on another Rasa version.
    """
    require_rasa(WRITTEN_FOR, "seeded_generate_folds")
    _check_seed(seed)

    def generate_folds(n: int, training_data: Any) -> Folds:
        """Generates n cross validation folds for given training data (seeded, see rasa_compat.seeded_folds)."""
        from sklearn.model_selection import StratifiedKFold

        skf = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
        x = training_data.intent_examples
        # stratified on the intent as it appears in the data, retrieval intents included (as Rasa does)
        y = [example.get_full_intent() for example in x]
        for i_fold, (train_index, test_index) in enumerate(skf.split(x, y)):
            logger.debug(f"Fold: {i_fold} (seed {seed})")
            yield _fold(training_data, [x[i] for i in train_index], [x[i] for i in test_index])

    setattr(generate_folds, _SEED_MARK, seed)
    return generate_folds


def stable_fold_of(seed: int, intent: str, text: str, n: int) -> int:
    """The fold (0..n-1) of one example: a keyed BLAKE2b hash of its intent and text, modulo n.

    Depends on nothing but the example and the seed, so no other example can move it.
    """
    digest = hashlib.blake2b(f"{intent}\x1f{text}".encode("utf-8"), digest_size=8,
                             key=str(seed).encode("ascii")).digest()
    return int.from_bytes(digest, "big") % n


def stable_generate_folds(seed: int) -> Callable[[int, Any], Folds]:
    """``generate_folds(n, training_data)`` with folds that stay put when the data changes.

    Each example's test fold is :func:`stable_fold_of`; it is trained on in the other folds.
    Raises :class:`rasa_compat.RasaVersionError` on another Rasa version.
    """
    require_rasa(WRITTEN_FOR, "stable_generate_folds")
    _check_seed(seed)

    def generate_folds(n: int, training_data: Any) -> Folds:
        """Generates n cross validation folds, each example in a fixed fold (rasa_compat.seeded_folds)."""
        x = training_data.intent_examples
        folds = [stable_fold_of(seed, example.get_full_intent(), example.get("text") or "", n) for example in x]
        for i_fold in range(n):
            logger.debug(f"Fold: {i_fold} (stable, seed {seed})")
            yield _fold(training_data, [e for e, f in zip(x, folds) if f != i_fold],
                        [e for e, f in zip(x, folds) if f == i_fold])

    setattr(generate_folds, _SEED_MARK, seed)
    return generate_folds


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError("the fold seed must be an int")


def _fold(training_data: Any, train: list[Any], test: list[Any]) -> tuple[Any, Any]:
    """(train, test) as Rasa 3.6 builds them: the examples plus the data's synonyms, regexes, lookups, responses."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    def part(examples: list[Any]) -> Any:
        return TrainingData(
            training_examples=examples,
            entity_synonyms=training_data.entity_synonyms,
            regex_features=training_data.regex_features,
            lookup_tables=training_data.lookup_tables,
            responses=training_data.responses,
        )

    return part(train), part(test)


#: The splits :func:`install_seeded_folds` knows.
SPLITS = {"stable": stable_generate_folds, "stratified": seeded_generate_folds}


def install_seeded_folds(seed: int, split: str = "stratified") -> bool:
    """Make ``rasa.nlu.test.generate_folds`` (and so Rasa's cross-validation) split with ``seed``.

    ``split`` is ``stratified`` (Rasa's split, seeded) or ``stable`` (each example in a fixed
    fold); ValueError for another name.

    Installing again replaces the seed (the replacement always wraps Rasa's own function, kept
    as ``__wrapped__``). Raises :class:`rasa_compat.RasaVersionError` on another Rasa version,
    leaving Rasa unchanged; returns True when installed.
    """
    require_rasa(WRITTEN_FOR, "install_seeded_folds")
    import rasa.nlu.test as rasa_nlu_test

    if split not in SPLITS:
        raise ValueError(f"unknown fold split {split!r}; one of {', '.join(sorted(SPLITS))}")
    current = rasa_nlu_test.generate_folds
    original = current.__wrapped__ if hasattr(current, _SEED_MARK) else current
    replacement = SPLITS[split](seed)
    functools.update_wrapper(replacement, original)
    setattr(replacement, _SEED_MARK, seed)
    rasa_nlu_test.generate_folds = replacement
    return True
