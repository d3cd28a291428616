"""Check that the held-out NLU test set shares no near-duplicates with the training data.

A held-out set measures how well the assistant understands messages it has never seen
(issue 13, item 5). That measurement is only worth something if no held-out utterance is a
copy, or a copy with a changed letter, of a training example: the classifier would
recognise it rather than understand it. This script compares every utterance of
tests/nlu/heldout.yml with every text example of data/nlu/**/*.yml after normalising both
(entity annotations stripped to their plain text, lowercase, umlauts and accents folded,
``ß`` as ``ss``, punctuation and emojis removed), and reports:

- exact duplicates after normalisation ("Köln!" and "koeln" are the same);
- near-duplicates: character 3-gram Jaccard similarity at or above the threshold.

It prints the most similar pairs either way, so a reviewer sees how close the set comes.
It also checks that every intent and entity of the held-out set exists in domain.yml and
that every intent is one the training data teaches from text (payload-only intents such as
``select_job`` or ``voice_*`` are never typed), so ``rasa test nlu --nlu <file>`` can
evaluate it. Lookup tables and synonyms are word lists, not utterances, and are not compared.

Usage: python scripts/nlu_overlap.py [--heldout tests/nlu/heldout.yml] [--data data/nlu]
       [--domain domain.yml] [--threshold 0.8] [--top 15]
Exits 1 when any pair is at or above the threshold or the domain check fails (``make
nlu-report`` enforces it), else 0. Standard library and PyYAML only.
"""
from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Set, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Rasa 3 entity annotation: [text](entity) or [text]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
_ENTITY_NAME = re.compile(r"\[[^\]]*\](?:\(([^)]*)\)|\{[^}]*\"entity\"\s*:\s*\"([^\"]+)\"[^}]*\})")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_NOT_EMOJI = re.compile(r"[^\U0001F000-\U0001FAFF\u2600-\u27BF]+")


@dataclass(frozen=True)
class Example:
    """One utterance of an NLU file: its intent, annotated text and where it is."""

    intent: str
    text: str
    source: str


@dataclass(frozen=True)
class Pair:
    """A held-out utterance and its most similar training example."""

    score: float
    heldout: Example
    training: Example


def strip_annotations(text: str) -> str:
    """``[Koch](job_title) in [Köln]{"entity": "location"}`` → ``Koch in Köln``."""
    return _ANNOTATION.sub(r"\1", text)


def normalise(text: str) -> str:
    """Plain text, lowercase, umlauts folded (``ö`` → ``oe``), accents dropped, only letters,
    digits and single spaces: the form in which two utterances count as the same. Emojis go,
    except in a message of emojis only ("👍"): that is its emojis, not an empty text equal to
    every other emoji-only message."""
    folded = strip_annotations(text).lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", folded)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _NOT_WORD.sub(" ", ascii_only).strip()
    return words or _NOT_EMOJI.sub(" ", ascii_only).strip()


def trigrams(normalised: str) -> Set[str]:
    """Character 3-grams of a normalised text, padded so word edges count."""
    padded = f" {normalised} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)} if normalised else set()


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character 3-grams of two texts (1.0: the same after normalising)."""
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return 1.0
    ga, gb = trigrams(na), trigrams(nb)
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


def entities_of(text: str) -> List[str]:
    """The entity names annotated in an example."""
    return [match.group(1) or match.group(2) for match in _ENTITY_NAME.finditer(text)]


def read_examples(path: Path) -> List[Example]:
    """The intent examples of one Rasa 3 NLU YAML file (payloads like ``/select_job{...}`` skipped)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: List[Example] = []
    for item in document.get("nlu") or []:
        if "intent" not in item:
            continue  # synonym, lookup or regex: word lists, not utterances
        for line in str(item.get("examples") or "").splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            text = line[2:].strip()
            if text and not text.startswith("/"):
                examples.append(Example(item["intent"], text, path.as_posix()))
    return examples


def read_tree(directory: Path) -> List[Example]:
    """Every text example of every NLU YAML file under a directory."""
    files = sorted(set(directory.rglob("*.yml")) | set(directory.rglob("*.yaml")))
    return [example for path in files for example in read_examples(path)]


def most_similar(heldout: Sequence[Example], training: Sequence[Example]) -> List[Pair]:
    """For each held-out utterance, its most similar training example, most similar first."""
    prepared = [(example, normalise(example.text)) for example in training]
    grams = [(example, text, trigrams(text)) for example, text in prepared]
    pairs: List[Pair] = []
    for example in heldout:
        text = normalise(example.text)
        own = trigrams(text)
        best = (0.0, None)
        for candidate, candidate_text, candidate_grams in grams:
            if text == candidate_text:
                score = 1.0
            elif own and candidate_grams:
                score = len(own & candidate_grams) / len(own | candidate_grams)
            else:
                score = 0.0
            if score > best[0] or best[1] is None:
                best = (score, candidate)
        if best[1] is not None:
            pairs.append(Pair(best[0], example, best[1]))
    return sorted(pairs, key=lambda pair: -pair.score)


def domain_problems(heldout: Iterable[Example], domain: dict, trained_intents: Set[str]) -> List[str]:
    """Intents or entities of the held-out set the domain lacks, and intents no training text teaches."""
    intents = {next(iter(i)) if isinstance(i, dict) else i for i in domain.get("intents") or []}
    entities = {next(iter(e)) if isinstance(e, dict) else e for e in domain.get("entities") or []}
    problems: List[str] = []
    for example in heldout:
        if example.intent not in intents:
            problems.append(f"intent '{example.intent}' is not in the domain: {example.text}")
        elif example.intent not in trained_intents:
            problems.append(f"intent '{example.intent}' has no text examples in the training data: {example.text}")
        for entity in entities_of(example.text):
            if entity not in entities:
                problems.append(f"entity '{entity}' is not in the domain: {example.text}")
    return problems


def _counts(examples: Iterable[Example]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for example in examples:
        counts[example.intent] = counts.get(example.intent, 0) + 1
    return dict(sorted(counts.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout", type=Path, default=ROOT / "tests" / "nlu" / "heldout.yml")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--domain", type=Path, default=ROOT / "domain.yml")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)

    heldout = read_examples(args.heldout)
    training = read_tree(args.data)
    pairs = most_similar(heldout, training)
    domain = yaml.safe_load(args.domain.read_text(encoding="utf-8")) or {}
    problems = domain_problems(heldout, domain, {example.intent for example in training})

    print(f"held-out: {len(heldout)} utterances, training: {len(training)} examples")
    print("per intent: " + ", ".join(f"{intent} {n}" for intent, n in _counts(heldout).items()))
    print(f"\nmost similar pairs (character 3-gram Jaccard, threshold {args.threshold}):")
    for pair in pairs[: args.top]:
        print(f"  {pair.score:.3f}  {normalise(pair.heldout.text)!r} ({pair.heldout.intent})"
              f"  ~  {normalise(pair.training.text)!r} ({pair.training.intent})")
    exact: List[Tuple[str, str]] = [(p.heldout.text, p.training.text) for p in pairs if p.score >= 1.0]
    near = [pair for pair in pairs if pair.score >= args.threshold]
    for problem in problems:
        print(f"domain: {problem}", file=sys.stderr)
    if near or problems:
        print(f"\nFAIL: {len(exact)} exact and {len(near) - len(exact)} near duplicates at or above "
              f"{args.threshold}; {len(problems)} domain problems", file=sys.stderr)
        return 1
    print(f"\nOK: no pair at or above {args.threshold}; every intent and entity is in the domain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
