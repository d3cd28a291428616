"""Rasa 3.6 loads DIET and TED for serving without tracing a training step first.

Why: ``RasaModel.load`` (rasa/utils/tensorflow/models.py) builds an empty model, compiles it
with Adam and calls ``model.fit`` on one example, "to build weights of the correct size", and
only then ``load_weights``. ``fit`` traces Keras's whole train function (forward pass, two
gradient tapes, the optimizer update) into a TensorFlow graph and runs it once; the result is
thrown away when the trained weights are loaded over it. A profile of ``rasa run`` with the
WhatsApp channel (py-spy, 40 Hz, until the webhook answered; issue 13's CI-time work) put
**71 % of the start-up in that ``fit``** (45 of 63 s on the CI host that day), for DIET and TED
together. Every Rasa start pays it: a restart, a new instance of a scale-out, each test stack.

What replaces it, only when the model is loaded to predict (``finetune_mode`` False):
the same empty model and ``compile``, then one *eager* call of ``batch_loss`` (the forward
pass ``train_step`` runs, with ``_training`` set as it sets it), which creates every variable
training creates, without a graph, gradients or an optimizer step; then Rasa's own
``load_weights``. TensorFlow's checkpoints restore by object path, not by creation order, and
``assert_existing_objects_matched`` proves every variable of the model got its trained value
(the optimizer's slots stay in the file: nothing predicts with them, hence ``expect_partial``).
Then Rasa's own ``run_inference`` on the prediction example, as before. If anything of that
raises, the model is built again by Rasa's own ``load``: never a half-loaded model.

Same predictions: tests/e2e/test_serving_load.py loads the trained model both ways and
compares DIET's parse (intent ranking, entities, every confidence) and TED's action
probabilities bit for bit. Fine-tuning (``rasa train --finetune``) keeps Rasa's path.
Installed by :func:`rasa_compat.hot_path.install_hot_path`; version-guarded like the rest.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from rasa_compat import WRITTEN_FOR, _wrap_once, require_rasa

logger = logging.getLogger(__name__)

__all__ = ["load_for_serving", "load_models_without_training_step"]

_MARK = "_blaupause_serving_load"
#: Rasa's own ``RasaModel.load`` (its function), kept when the serving load is installed
#: (a module name, so that tests can stand in for it).
_rasa_load: Optional[Callable[..., Any]] = None


def load_for_serving(cls: Any, model_file_name: str, model_data_example: Any,
                     predict_data_example: Optional[Any], *args: Any, **kwargs: Any) -> Any:
    """``RasaModel.load`` for prediction: weights built by one eager forward pass, not by ``fit``.

    Mirrors Rasa 3.6's ``load`` line by line except the ``fit`` (see the module docstring);
    raises whatever TensorFlow raises, and AssertionError when a variable got no trained value.
    """
    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator

    model = cls(*args, **kwargs)
    learning_rate = kwargs.get("config", {}).get(LEARNING_RATE, 0.001)
    run_eagerly = kwargs.get("config", {}).get(RUN_EAGERLY)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), run_eagerly=run_eagerly)
    batch_in, _ = RasaBatchDataGenerator(model_data_example, batch_size=1, shuffle=False)[0]
    model._training = True  # as train_step sets it: every layer is built as in training
    try:
        model.batch_loss(tuple(tf.convert_to_tensor(part) for part in batch_in))
    finally:
        model._training = None
    status = model.load_weights(model_file_name)
    status.assert_existing_objects_matched()
    status.expect_partial()
    if predict_data_example:
        model.run_inference(predict_data_example)
    return model


def load_models_without_training_step() -> bool:
    """Install the serving load on ``RasaModel.load`` (DIET's and TED's models). Idempotent.

    False when Rasa is not importable (the action server).
    """
    try:
        from rasa.utils.tensorflow.models import RasaModel
    except ImportError:
        return False
    require_rasa(WRITTEN_FOR, "load_models_without_training_step")

    def wrap(rasa_load: Callable[..., Any]) -> Callable[..., Any]:
        global _rasa_load
        _rasa_load = rasa_load

        def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
                 finetune_mode: bool = False, *args: Any, **kwargs: Any) -> Any:
            if not finetune_mode:
                try:
                    return load_for_serving(cls, model_file_name, model_data_example, predict_data_example,
                                            *args, **kwargs)
                except Exception as error:  # noqa: BLE001 - Rasa's own load decides, raises its own
                    logger.warning("serving load of %s failed (%s: %s); loading with Rasa's training step",
                                   cls.__name__, type(error).__name__, error)
            return _rasa_load(cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                              *args, **kwargs)

        return load

    _wrap_once(RasaModel, "load", _MARK, wrap)
    return True
