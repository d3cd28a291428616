"""scripts/nlu_overlap.py: near-duplicates between the held-out NLU set and the training data."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from tests.support.paths import DOMAIN_FILE, REPO_ROOT

_spec = importlib.util.spec_from_file_location("nlu_overlap", REPO_ROOT / "scripts" / "nlu_overlap.py")
nlu_overlap = importlib.util.module_from_spec(_spec)
sys.modules["nlu_overlap"] = nlu_overlap  # dataclasses look their module up there
_spec.loader.exec_module(nlu_overlap)

HELDOUT = REPO_ROOT / "tests" / "nlu" / "heldout.yml"
TRAINING = REPO_ROOT / "data" / "nlu"


def _nlu_file(path: Path, intents: dict) -> Path:
    body = {"version": "3.1", "nlu": [
        {"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)} for intent, texts in intents.items()
    ]}
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def _domain_file(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"intents": ["search_job", "greet", "select_job"],
                                    "entities": ["job_title", "location"]}), encoding="utf-8")
    return path


def test_annotations_are_stripped_to_their_text() -> None:
    text = 'Ich suche [Koch](job_title) in [Köln]{"entity": "location"} [Teilzeit]{"entity": "working_time", "value": "teilzeit"}'
    assert nlu_overlap.strip_annotations(text) == "Ich suche Koch in Köln Teilzeit"
    assert nlu_overlap.entities_of(text) == ["job_title", "location", "working_time"]


def test_normalising_folds_case_umlauts_accents_punctuation_and_emojis() -> None:
    assert nlu_overlap.normalise("Ich MÖCHTE nach [Köln](location)! 😊") == "ich moechte nach koeln"
    assert nlu_overlap.normalise("Straße, Café   part-time?") == "strasse cafe part time"
    assert nlu_overlap.normalise("moechte Koeln") == nlu_overlap.normalise("möchte Köln")


def test_an_exact_duplicate_after_normalising_scores_one() -> None:
    assert nlu_overlap.similarity("[Koch](job_title) in [Köln](location)!", "koch in koeln") == 1.0


def test_a_near_duplicate_scores_above_the_threshold_and_a_different_one_below() -> None:
    assert nlu_overlap.similarity("Ich suche eine Stelle als Köchin in Hamburg",
                                  "ich suche eine stelle als koechin in hamburg bitte") >= 0.8
    assert nlu_overlap.similarity("zeig mir mehr", "Bist du ein Bot?") < 0.3


def test_the_check_fails_on_an_exact_and_a_near_duplicate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _nlu_file(data / "search.yml", {"search_job": ["Ich suche einen Job als [Koch](job_title) in [Berlin](location)",
                                                   "/select_job{\"job_id\": \"1\"}"]})
    heldout = _nlu_file(tmp_path / "heldout.yml", {"search_job": [
        "ich suche einen job als koch in berlin",            # exact after normalising
        "ich such einen Job als [Koch](job_title) in [Berlin](location)",  # near: one letter less
    ]})
    code = nlu_overlap.main(["--heldout", str(heldout), "--data", str(data),
                             "--domain", str(_domain_file(tmp_path / "domain.yml"))])
    assert code == 1
    assert "1 exact and 1 near duplicates" in capsys.readouterr().err


def test_the_check_passes_for_a_clean_pair(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _nlu_file(data / "search.yml", {"search_job": ["Ich suche einen Job als [Koch](job_title) in [Berlin](location)"],
                                    "greet": ["Hallo"]})
    heldout = _nlu_file(tmp_path / "heldout.yml", {"search_job": ["[Gärtner](job_title) [Kassel](location)"],
                                                   "greet": ["moin leute"]})
    code = nlu_overlap.main(["--heldout", str(heldout), "--data", str(data),
                             "--domain", str(_domain_file(tmp_path / "domain.yml"))])
    assert code == 0
    assert "most similar pairs" in capsys.readouterr().out


def test_unknown_intents_entities_and_payload_only_intents_are_domain_problems() -> None:
    domain = {"intents": ["search_job", "select_job"], "entities": ["job_title"]}
    heldout = [
        nlu_overlap.Example("search_job", "[Koch](job_title) in [Bonn](city)", "h"),
        nlu_overlap.Example("affirm", "ja", "h"),
        nlu_overlap.Example("select_job", "den ersten bitte", "h"),
    ]
    problems = nlu_overlap.domain_problems(heldout, domain, trained_intents={"search_job"})
    assert len(problems) == 3
    assert "entity 'city'" in problems[0]
    assert "intent 'affirm' is not in the domain" in problems[1]
    assert "'select_job' has no text examples" in problems[2]


def test_the_shipped_heldout_set_has_no_near_duplicates_and_matches_the_domain(capsys: pytest.CaptureFixture) -> None:
    assert nlu_overlap.main(["--heldout", str(HELDOUT), "--data", str(TRAINING), "--domain", str(DOMAIN_FILE)]) == 0


def test_the_shipped_heldout_set_is_large_balanced_and_outside_the_training_data() -> None:
    examples = nlu_overlap.read_examples(HELDOUT)
    counts = {}
    for example in examples:
        counts[example.intent] = counts.get(example.intent, 0) + 1
    trained = {example.intent for example in nlu_overlap.read_tree(TRAINING)}
    assert len(examples) >= 220
    assert set(counts) == trained  # every text intent the training data teaches is tested
    assert min(counts.values()) >= 8
    assert counts["search_job"] >= 30 and counts["inform"] >= 30
    assert "data" not in HELDOUT.relative_to(REPO_ROOT).parts


def test_rasa_reads_the_shipped_heldout_set() -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(HELDOUT))
    assert len(data.training_examples) == len(nlu_overlap.read_examples(HELDOUT))
    entities = {entity["entity"] for example in data.training_examples for entity in example.get("entities") or []}
    assert {"job_title", "location", "working_time", "radius", "remote"} <= entities


def test_emoji_only_messages_are_not_all_the_same_empty_text() -> None:
    assert nlu_overlap.normalise("👋") == "👋"
    assert nlu_overlap.normalise("👍") != nlu_overlap.normalise("🙏")
    assert nlu_overlap.similarity("👋", "👍") < 0.8
    assert nlu_overlap.similarity("👍", "👍") == 1.0
