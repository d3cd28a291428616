"""Evaluate the trained model on the held-out NLU test set (never trained on), issue 13 item 5.

Why: cross-validation tests on utterances written in the same session as the training data;
the held-out set was written separately and checked for near-duplicates of the training data
(scripts/nlu_overlap.py, run before this by ``make nlu-report``), so it shows how the model
does on messages phrased in ways it has not seen. Issue 13's targets for it: intent accuracy
>= 0.92, and job title and location found in >= 0.90 of the utterances that contain them.

What it does, in one process: loads the model (default models/current.tar.gz, the one
``make train`` made from the current data), runs Rasa 3.6's own evaluation steps on the set
(``rasa.nlu.test.get_eval_data``, ``evaluate_intents``, ``evaluate_entities``: the same as
``rasa test nlu --nlu <set> --model <model>``, writing intent_report.json,
DIETClassifier_report.json and the errors files into the output folder), then counts for
each held-out utterance with a ``job_title`` (``location``) annotation whether the model
predicted an entity of that type with the same value or the same text, after normalising
case, umlauts, ``ß``, accents and punctuation. An utterance counts as found when every
annotation of that type in it is found. Like Rasa's evaluation, the intent is the classifier's
even when the FallbackClassifier would have replaced it.

The figures go to ``heldout.json`` in the output folder (read by
scripts/summarize_nlu_report.py). Without a held-out set it evaluates nothing, removes a
previous ``heldout.json`` and exits 0, so ``make nlu-report`` works before the set exists.

Usage: python scripts/nlu_heldout.py [--heldout PATH] [--model models/current.tar.gz]
       [--out results/nlu-heldout] [--domain domain.yml]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rasa_compat.reproducible_training import pin_cpu_isa  # noqa: E402

DEFAULT_HELDOUT = "tests/nlu/heldout.yml"
#: The figures file this script writes (in the output folder).
FIGURES_FILE = "heldout.json"
#: The entities whose "found" rate issue 13 sets a target for.
FOUND_ENTITIES = ("job_title", "location")

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(value: Any) -> str:
    """Lowercase, umlauts as ae/oe/ue, ``ß`` as ss, accents dropped, punctuation as one space."""
    text = str(value).casefold().translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", text).strip()


@dataclass
class Found:
    """How many utterances containing an entity type had all its annotations found."""

    entity: str
    found: int = 0
    total: int = 0
    misses: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> Optional[float]:
        return self.found / self.total if self.total else None


def _matches(target: Mapping[str, Any], prediction: Mapping[str, Any], text: str) -> bool:
    if prediction.get("entity") != target.get("entity"):
        return False
    if normalise(prediction.get("value", "")) == normalise(target.get("value", "")):
        return True
    spans = [(e.get("start"), e.get("end")) for e in (target, prediction)]
    if any(not isinstance(i, int) for span in spans for i in span):
        return False
    (ts, te), (ps, pe) = spans
    return normalise(text[ts:te]) == normalise(text[ps:pe]) != ""


def entity_found(utterances: Iterable[tuple[str, Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]],
                 entity: str) -> Found:
    """Count ``(text, annotated entities, predicted entities)`` triples that contain ``entity``.

    An annotation is found when a prediction of the same type has the same normalised value
    (synonyms are mapped by the pipeline) or covers the same normalised text.
    """
    result = Found(entity)
    for text, targets, predictions in utterances:
        wanted = [t for t in targets if t.get("entity") == entity]
        if not wanted:
            continue
        result.total += 1
        if all(any(_matches(t, p, text) for p in predictions) for t in wanted):
            result.found += 1
        else:
            result.misses.append({
                "text": text,
                "annotated": [t.get("value") for t in wanted],
                "predicted": [p.get("value") for p in predictions if p.get("entity") == entity],
            })
    return result


def intent_accuracy(pairs: Iterable[tuple[Optional[str], Optional[str]]]) -> Optional[float]:
    """The share of ``(target, prediction)`` pairs where the prediction is the target."""
    pairs = list(pairs)
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else None


def figures(intent_results: Sequence[Any], entity_results: Sequence[Any], intent_report: Mapping[str, Any],
            heldout: str, model: str) -> Dict[str, Any]:
    """The held-out figures from Rasa's evaluation results (what heldout.json holds)."""
    triples = [(r.message, r.entity_targets, r.entity_predictions) for r in entity_results]
    found = {entity: entity_found(triples, entity) for entity in FOUND_ENTITIES}
    errors = [{"text": r.message, "intent": r.intent_target, "predicted": r.intent_prediction}
              for r in intent_results if r.intent_target != r.intent_prediction]
    averages = {name: (intent_report.get(name) or {}).get("f1-score") for name in ("weighted avg", "macro avg")}
    return {
        "heldout": heldout,
        "model": model,
        "utterances": len(intent_results),
        "intent_accuracy": intent_accuracy((r.intent_target, r.intent_prediction) for r in intent_results),
        "intent_f1_weighted": averages["weighted avg"],
        "intent_f1_macro": averages["macro avg"],
        "found": {entity: {**asdict(result), "rate": result.rate} for entity, result in found.items()},
        "intent_errors": errors,
    }


async def evaluate(heldout: str, model: str, out: str, domain: str) -> Dict[str, Any]:
    """Rasa's evaluation of ``heldout`` with ``model`` (reports into ``out``) and the figures."""
    from rasa.core.agent import Agent
    from rasa.nlu.test import _get_active_entity_extractors, evaluate_entities, evaluate_intents, get_eval_data
    from rasa.shared.importers.importer import TrainingDataImporter

    Path(out).mkdir(parents=True, exist_ok=True)
    processor = Agent.load(model_path=model).processor
    test_data = TrainingDataImporter.load_from_dict(training_data_paths=[heldout], domain_path=domain).get_nlu_data()
    intent_results, _, entity_results = await get_eval_data(processor, test_data)
    intent_report: Dict[str, Any] = {}
    if intent_results:
        intent_report = evaluate_intents(intent_results, out, False, True, True, report_as_dict=True)["report"]
    if any(entity_results):
        evaluate_entities(entity_results, _get_active_entity_extractors(entity_results), out, False, True, True,
                          report_as_dict=True)
    return figures(intent_results, entity_results, intent_report, heldout, os.path.realpath(model))


def _configure_logging() -> None:
    """Rasa's logging as its command line sets it up (level from ``LOG_LEVEL``, default INFO).

    Without it, Rasa's structured log prints every parsed message text at DEBUG.
    """
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(None, None, warn_only_once=True, filter_repeated_logs=True)
    configure_structlog(None)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", default=DEFAULT_HELDOUT, help="the held-out set (Rasa NLU YAML)")
    parser.add_argument("--model", default="models/current.tar.gz", help="the trained model")
    parser.add_argument("--out", default="results/nlu-heldout", help="output folder")
    parser.add_argument("--domain", default="domain.yml", help="the domain")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    (out / FIGURES_FILE).unlink(missing_ok=True)  # never leave a previous run's figures behind
    if not Path(args.heldout).is_file():
        print(f"nlu-heldout: no held-out set at {args.heldout}, nothing evaluated")
        return 0
    if not Path(args.model).exists():
        print(f"nlu-heldout: no model at {args.model} (run `make train`)", file=sys.stderr)
        return 1
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    pin_cpu_isa()  # the same kernels the model was trained with (scripts/train.sh)
    _configure_logging()
    sys.path.insert(0, os.getcwd())  # the pipeline's own components (nlu/), as the rasa command does
    result = asyncio.run(evaluate(args.heldout, args.model, args.out, args.domain))
    (out / FIGURES_FILE).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    found = ", ".join(f"{e} {v['found']}/{v['total']}" for e, v in result["found"].items())
    accuracy = result["intent_accuracy"]
    print(f"nlu-heldout: {result['utterances']} utterances, intent accuracy "
          f"{accuracy if accuracy is None else round(accuracy, 3)}, found {found}; figures in {out / FIGURES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
