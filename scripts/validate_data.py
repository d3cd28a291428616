"""`rasa data validate --fail-on-warnings`, minus one false positive, plus the check it replaces.

Rasa 3.6's validator warns "The utterance 'X' is not used in any story or rule" for every
response that no story or rule names, including the two kinds this assistant uses on
purpose: a form's questions (``utter_ask_<slot>``, uttered by the form itself) and responses
that custom actions send by name (``dispatcher.utter_message(response="utter_…")``, so
wording stays in domain.yml). With ``--fail-on-warnings`` no assistant with a form can pass.

This script runs exactly the checks of ``rasa data validate`` (rasa/cli/utils.py
``validate_files``) with warnings as failures. The only difference: responses that are a
form's question or that the code in ``actions/`` sends by name count as used, and instead
every response name the actions send must exist in the domain (a check Rasa lacks, which
catches typos the test stories cannot see because ``rasa test`` does not run actions).

It also checks that domain.yml and labels.yml agree, since a designer edits both: every
search slot labels.yml lists (``actions.search.slots``, actions/search/slots.py) is a slot of
the domain, and the ``language`` slot's values are labels.yml's ``languages``.

Usage: python scripts/validate_data.py   (from the project root; exits 1 on any problem)
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, List, Mapping, Set

import yaml

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from rasa.cli.utils import _validate_domain, _validate_nlu, _validate_story_structure  # noqa: E402
from rasa.shared.importers.importer import TrainingDataImporter  # noqa: E402
from rasa.validator import Validator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages (wording) must import

import wording  # noqa: E402
# Any string literal naming a response: response="utter_x", constants, conditional expressions.
_RESPONSE_IN_CODE = re.compile(r"""["'](utter_[A-Za-z0-9_]+)["']""")


def responses_sent_by_actions(actions_dir: Path) -> Set[str]:
    """Response names that appear as string literals in the action code."""
    names: Set[str] = set()
    for path in actions_dir.rglob("*.py"):
        names.update(_RESPONSE_IN_CODE.findall(path.read_text(encoding="utf-8")))
    return names


class ProjectValidator(Validator):
    """Rasa's validator that knows which responses forms and actions use."""

    used_outside_stories: Set[str] = set()

    def _gather_utterance_actions(self) -> Set[str]:
        # A response a story or rule names stays gathered even if an action also sends it
        # (utter_confirm_delete: the rules ask it, action_erase_data asks it when refusing);
        # otherwise Rasa would call the story's step "not a valid utterance action".
        return super()._gather_utterance_actions() - (self.used_outside_stories - self._used_in_stories())

    def _used_in_stories(self) -> Set[str]:
        return {
            event.action_name
            for story in self.story_graph.story_steps
            for event in story.events
            if getattr(event, "action_name", None)
        }

    def verify_utterances_in_stories(self, ignore_warnings: bool = True) -> bool:
        """Rasa's check, but an unused response fails (Rasa 3.6 only warns, even with
        --fail-on-warnings, because it computes ``ignore_warnings or ok``)."""
        ok = super().verify_utterances_in_stories(ignore_warnings)
        unused = sorted(self._gather_utterance_actions() - self._used_in_stories())
        for name in unused:
            print(f"validate: the response '{name}' is used by no story, rule, form or action", file=sys.stderr)
        return ok and (ignore_warnings or not unused)


_UNESCAPED_ENTITIES = re.compile(r'(?<!\{)\{"')


def unescaped_payloads(responses: dict) -> List[str]:
    """Response button payloads with entities written ``{"...}`` instead of ``{{"...}}``.

    Why: Rasa fills ``{slot}`` placeholders in every response string, button payloads included.
    ``/inform{"job_title":"Koch"}`` looks like a placeholder named ``"job_title":"Koch"``, so
    Rasa logs an ERROR with every slot value of the conversation (job title, city: personal data
    in the log) and sends the payload unchanged. Doubled braces are Rasa's documented escape and
    reach the user's tap as ``/inform{"job_title":"Koch"}``.
    """
    found = []
    for name, variations in responses.items():
        for variation in variations:
            for button in variation.get("buttons") or []:
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str) and _UNESCAPED_ENTITIES.search(payload):
                    found.append(f"{name}: {payload}")
    return found


def labels_disagreeing_with_domain(domain: Mapping[str, Any], labels: wording.Labels) -> List[str]:
    """What labels.yml names that domain.yml lacks: search slots, or languages of the ``language`` slot."""
    slots = domain.get("slots") or {}
    problems = [
        f"labels.yml lists the search slot '{name}', which domain.yml does not define"
        for name in labels.section("actions.search.slots")
        if name not in slots
    ]
    values = [str(value) for value in (slots.get("language") or {}).get("values") or []]
    if sorted(values) != sorted(labels.languages):
        problems.append(
            f"the language slot's values {values} in domain.yml are not labels.yml's languages {list(labels.languages)}"
        )
    return problems


def main() -> int:
    importer = TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(ROOT / "data")]
    )
    validator = ProjectValidator.from_importer(importer)
    domain = validator.domain

    form_questions = {
        f"utter_ask_{slot}"
        for form in domain.form_names
        for slot in domain.required_slots_for_form(form)
    } | {
        f"utter_ask_{form}_{slot}"
        for form in domain.form_names
        for slot in domain.required_slots_for_form(form)
    }
    # The channel and the privacy requests render a few responses themselves (answers after an erasure).
    sent_by_actions = set().union(*(responses_sent_by_actions(ROOT / name) for name in ("actions", "connectors", "privacy")))
    missing = sorted(name for name in sent_by_actions if name not in domain.responses)
    ProjectValidator.used_outside_stories = (form_questions | sent_by_actions) & set(domain.responses)

    ok = True
    if missing:
        ok = False
        for name in missing:
            print(f"validate: actions send the response '{name}', which domain.yml does not define", file=sys.stderr)
    raw_domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8")) or {}
    for problem in labels_disagreeing_with_domain(raw_domain, wording.current()):
        ok = False
        print(f"validate: {problem}", file=sys.stderr)
    for where in unescaped_payloads(domain.responses):
        ok = False
        print(f"validate: write entities in button payloads with doubled braces, {{{{...}}}}: {where}", file=sys.stderr)
    ok = _validate_domain(validator) and ok
    ok = _validate_nlu(validator, True) and ok
    ok = _validate_story_structure(validator, None, True) and ok
    print(
        "validate: responses used by forms or actions rather than stories: "
        + ", ".join(sorted(ProjectValidator.used_outside_stories))
    )
    print("validate: " + ("project data is valid" if ok else "project validation failed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
