"""scripts/nlu_heldout.py's own counting (the evaluation itself is Rasa's)."""
from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

from rasa.nlu.test import EntityEvaluationResult, IntentEvaluationResult
from tests.support.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("nlu_heldout", REPO_ROOT / "scripts" / "nlu_heldout.py")
nlu_heldout = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = nlu_heldout  # dataclasses look their module up
_spec.loader.exec_module(nlu_heldout)


def _entity(entity: str, value: str, text: str, surface: str) -> dict:
    start = text.index(surface)
    return {"entity": entity, "value": value, "start": start, "end": start + len(surface)}


def test_normalise_folds_case_umlauts_sharp_s_and_punctuation() -> None:
    assert nlu_heldout.normalise("Köln!") == nlu_heldout.normalise("koeln") == "koeln"
    assert nlu_heldout.normalise("Straßenbahn-Fahrer") == "strassenbahn fahrer"
    assert nlu_heldout.normalise("Café") == "cafe"
    assert nlu_heldout.normalise("Koch") != nlu_heldout.normalise("Köchin")


def test_found_by_value_or_by_text_and_missed_otherwise() -> None:
    by_value = "job als koch in koeln"
    by_text = "suche was als köchin"
    missed = "arbeit in muenchen als bäcker"
    utterances = [
        (by_value, [_entity("job_title", "Koch", by_value, "koch"), _entity("location", "Köln", by_value, "koeln")],
         [_entity("job_title", "koch", by_value, "koch"), _entity("location", "Koeln", by_value, "koeln")]),
        # a synonym mapped the predicted value elsewhere: the same text still counts
        (by_text, [_entity("job_title", "Köchin", by_text, "köchin")], [_entity("job_title", "Koch", by_text, "köchin")]),
        # the location was taken for a job title, the job title partly found
        (missed, [_entity("location", "München", missed, "muenchen"), _entity("job_title", "Bäcker", missed, "bäcker")],
         [_entity("job_title", "muenchen", missed, "muenchen"), _entity("job_title", "Bäck", missed, "bäck")]),
        ("hallo", [], [_entity("location", "Hallo", "hallo", "hallo")]),
    ]
    job = nlu_heldout.entity_found(utterances, "job_title")
    assert (job.found, job.total, job.rate) == (2, 3, 2 / 3)
    assert job.misses == [{"text": missed, "annotated": ["Bäcker"], "predicted": ["muenchen", "Bäck"]}]
    location = nlu_heldout.entity_found(utterances, "location")
    assert (location.found, location.total) == (1, 2)
    assert location.misses[0]["predicted"] == []


def test_an_utterance_counts_only_when_every_annotation_of_the_type_is_found() -> None:
    text = "jobs in berlin oder hamburg"
    targets = [_entity("location", "Berlin", text, "berlin"), _entity("location", "Hamburg", text, "hamburg")]
    half = nlu_heldout.entity_found([(text, targets, targets[:1])], "location")
    assert (half.found, half.total) == (0, 1)
    whole = nlu_heldout.entity_found([(text, targets, targets)], "location")
    assert (whole.found, whole.total, whole.misses) == (1, 1, [])


def test_no_utterance_with_the_entity_is_no_rate() -> None:
    assert nlu_heldout.entity_found([("hallo", [], [])], "location").rate is None
    assert nlu_heldout.intent_accuracy([]) is None


def test_figures_from_rasa_s_results() -> None:
    text = "koch in berlin"
    intents = [IntentEvaluationResult("search_job", "search_job", text, 0.9),
               IntentEvaluationResult("greet", "thank", "moin", 0.5),
               IntentEvaluationResult("thank", "thank", "danke", 0.99),
               IntentEvaluationResult("help", "help", "hilfe", 0.8)]
    entities = [EntityEvaluationResult([_entity("job_title", "Koch", text, "koch")],
                                       [_entity("job_title", "Koch", text, "koch")], [], text)]
    report = {"weighted avg": {"f1-score": 0.7}, "macro avg": {"f1-score": 0.6}}
    result = nlu_heldout.figures(intents, entities, report, "heldout.yml", "model.tar.gz")
    assert result["intent_accuracy"] == 0.75 and result["utterances"] == 4
    assert (result["intent_f1_weighted"], result["intent_f1_macro"]) == (0.7, 0.6)
    assert result["found"]["job_title"]["rate"] == 1.0 and result["found"]["location"]["total"] == 0
    assert result["intent_errors"] == [{"text": "moin", "intent": "greet", "predicted": "thank"}]
    json.dumps(result)  # written as heldout.json


def test_without_a_held_out_set_nothing_is_evaluated_and_old_figures_go(tmp_path: Any) -> None:
    out = tmp_path / "heldout-results"
    out.mkdir()
    (out / "heldout.json").write_text("{}", encoding="utf-8")
    assert nlu_heldout.main(["--heldout", str(tmp_path / "missing.yml"), "--out", str(out)]) == 0
    assert not (out / "heldout.json").exists()


def test_a_missing_model_is_an_error(tmp_path: Any) -> None:
    heldout = tmp_path / "heldout.yml"
    heldout.write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    assert nlu_heldout.main(["--heldout", str(heldout), "--model", str(tmp_path / "none.tar.gz"),
                             "--out", str(tmp_path / "out")]) == 1
