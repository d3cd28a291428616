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

Used by scripts/nlu_cross_validation.py (``make nlu-report``), never by the assistant itself.
Like every adjustment in :mod:`rasa_compat`, it refuses a Rasa version it was not written for.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from rasa_compat import WRITTEN_FOR, require_rasa

__all__ = ["seeded_generate_folds", "install_seeded_folds"]

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
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError("the fold seed must be an int")

    def generate_folds(n: int, training_data: Any) -> Folds:
        """Generates n cross validation folds for given training data (seeded, see rasa_compat.seeded_folds)."""
        from rasa.shared.nlu.training_data.training_data import TrainingData
        from sklearn.model_selection import StratifiedKFold

        skf = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
        x = training_data.intent_examples
        # stratified on the intent as it appears in the data, retrieval intents included (as Rasa does)
        y = [example.get_full_intent() for example in x]
        for i_fold, (train_index, test_index) in enumerate(skf.split(x, y)):
            logger.debug(f"Fold: {i_fold} (seed {seed})")
            train = [x[i] for i in train_index]
            test = [x[i] for i in test_index]
            yield (
                TrainingData(
                    training_examples=train,
                    entity_synonyms=training_data.entity_synonyms,
                    regex_features=training_data.regex_features,
                    lookup_tables=training_data.lookup_tables,
                    responses=training_data.responses,
                ),
                TrainingData(
                    training_examples=test,
                    entity_synonyms=training_data.entity_synonyms,
                    regex_features=training_data.regex_features,
                    lookup_tables=training_data.lookup_tables,
                    responses=training_data.responses,
                ),
            )

    setattr(generate_folds, _SEED_MARK, seed)
    return generate_folds


def install_seeded_folds(seed: int) -> bool:
    """Make ``rasa.nlu.test.generate_folds`` (and so Rasa's cross-validation) split with ``seed``.

    Installing again replaces the seed (the replacement always wraps Rasa's own function, kept
    as ``__wrapped__``). Raises :class:`rasa_compat.RasaVersionError` on another Rasa version,
    leaving Rasa unchanged; returns True when installed.
    """
    require_rasa(WRITTEN_FOR, "install_seeded_folds")
    import rasa.nlu.test as rasa_nlu_test

    current = rasa_nlu_test.generate_folds
    original = current.__wrapped__ if hasattr(current, _SEED_MARK) else current
    replacement = seeded_generate_folds(seed)
    functools.update_wrapper(replacement, original)
    setattr(replacement, _SEED_MARK, seed)
    rasa_nlu_test.generate_folds = replacement
    return True
