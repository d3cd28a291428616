"""Load the trained model in a fresh process and print what it predicts (tests/e2e/test_serving_load.py).

``python -m tests.support.serving_load_probe MODEL HELDOUT (--serving | --rasa)``: ``--serving``
installs :func:`rasa_compat.serving_load.load_models_without_training_step` first, ``--rasa``
loads with Rasa's own ``RasaModel.load``. Prints one JSON object: every variable of DIET's and
TED's TensorFlow models (name -> SHA-256 of its bytes), the parse of every held-out utterance
(intent ranking and entities, floats as ``repr`` so a last-bit difference shows) and the action
Rasa predicts, with its policy and probabilities, after each message of a short conversation.
A fresh process each, so neither load sees TensorFlow state the other left.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

CONVERSATION = ["Hallo", "Ich suche einen Job als Koch in Berlin", "nur Teilzeit", "danke, tschüss"]


def _utterances(heldout: str) -> List[str]:
    texts: List[str] = []
    for block in yaml.safe_load(Path(heldout).read_text(encoding="utf-8"))["nlu"]:
        for line in block.get("examples", "").splitlines():
            if line.startswith("- "):
                texts.append(line[2:])
    return texts


def _exact(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def _weights(agent: Any) -> Dict[str, str]:
    weights: Dict[str, str] = {}
    for name, node in agent.processor.graph_runner._instantiated_nodes.items():
        model = getattr(node._component, "model", None)
        if model is None or not hasattr(model, "variables"):
            continue
        for variable in model.variables:
            weights[f"{name}/{variable.name}"] = hashlib.sha256(variable.numpy().tobytes()).hexdigest()
    return weights


async def _probe(model: str, heldout: str) -> Dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.events import ActionExecuted, UserUttered

    agent = Agent.load(model)
    parses = []
    for text in _utterances(heldout):
        parse = await agent.parse_message(text)
        parses.append(_exact({"text": text, "intent_ranking": parse.get("intent_ranking"),
                              "entities": parse.get("entities")}))
    tracker = await agent.processor.fetch_tracker_and_update_session("probe")
    predictions = []
    for text in CONVERSATION:
        parse = await agent.processor.parse_message(UserMessage(text))
        tracker.update(UserUttered(text, parse["intent"], parse["entities"], parse))
        action, prediction = agent.processor.predict_next_with_tracker_if_should(tracker)
        predictions.append(_exact({"action": action.name(), "policy": prediction.policy_name,
                                   "probabilities": [float(p) for p in prediction.probabilities]}))
        tracker.update(ActionExecuted(action.name()))
    return {"weights": _weights(agent), "parses": parses, "predictions": predictions}


def main(argv: List[str]) -> int:
    model, heldout, mode = argv
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if mode == "--serving":
        from rasa_compat.serving_load import load_models_without_training_step

        load_models_without_training_step()
    elif mode != "--rasa":
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(asyncio.run(_probe(model, heldout))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
