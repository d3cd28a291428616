"""Who sends a response: the rules, stories, forms and code that name it.

Why: a designer changing a response wants to know where it turns up in a conversation, and a
response nothing names is dead wording (or a typo in a story). Found by name, the way Rasa and
the code find it:

- rules and stories in ``data/`` (every ``*.yml`` below it) whose steps run ``action: <name>``;
- forms of the domain: a form asks for a required slot with ``utter_ask_<form>_<slot>`` or
  ``utter_ask_<slot>`` (https://rasa.com/docs/rasa/3.x/forms#using-a-custom-action-to-ask-for-the-next-slot);
- Python sources that name it as a string literal (``response="utter_job_results"``, a
  constant): the actions (actions/job_search.py) and the channel, including its privacy hook
  (privacy/requests/markers.py). docs/architecture.md lists these responses sent by code.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["usage_index"]


def _steps_name(steps: Any, name: str) -> bool:
    """Whether any step (also inside ``or`` blocks) runs ``action: name``."""
    if isinstance(steps, Mapping):
        if steps.get("action") == name:
            return True
        return any(_steps_name(value, name) for value in steps.values() if isinstance(value, (list, Mapping)))
    if isinstance(steps, list):
        return any(_steps_name(step, name) for step in steps)
    return False


def _dialogue_items(data_dir: Path) -> list[tuple[str, str, Any]]:
    """(kind, name, steps) of every rule and story under ``data_dir``."""
    items = []
    for path in sorted(data_dir.rglob("*.yml")) + sorted(data_dir.rglob("*.yaml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(document, Mapping):
            continue
        for kind in ("rule", "story"):
            for item in document.get(f"{kind}s" if kind == "rule" else "stories") or []:
                if isinstance(item, Mapping):
                    items.append((kind, str(item.get(kind, "unnamed")), item.get("steps")))
    return items


def _form_askers(forms: Mapping[str, Any]) -> dict[str, list[str]]:
    """{response name: ["form: job_search_form (asks for job_title)"]} of the domain's forms."""
    askers: dict[str, list[str]] = {}
    for form, spec in (forms or {}).items():
        slots = spec.get("required_slots", []) if isinstance(spec, Mapping) else []
        if isinstance(slots, Mapping):  # the pre-3.0 form syntax
            slots = list(slots)
        for slot in slots if isinstance(slots, list) else []:
            label = f"form: {form} (asks for {slot})"
            for response in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
                askers.setdefault(response, []).append(label)
    return askers


def _sources(code_dirs: Iterable[tuple[str, Path]], root: Path) -> list[tuple[str, str]]:
    """(label prefix and relative path, text) of every Python file below the code folders."""
    sources = []
    for kind, folder in code_dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            try:
                shown = path.resolve().relative_to(root).as_posix()
            except ValueError:
                shown = path.relative_to(folder.parent).as_posix()
            sources.append((f"{kind}: {shown}", text))
    return sources


def usage_index(
    names: Sequence[str],
    *,
    data_dir: Path,
    forms: Mapping[str, Any],
    code_dirs: Iterable[tuple[str, Path]],
    root: Path,
) -> dict[str, list[str]]:
    """{response name: ["rule: greet", "story: …", "form: …", "action: actions/job_search.py"]}.

    ``code_dirs`` are (kind, folder) pairs, e.g. ("action", actions/), ("channel", connectors/).
    A name with nothing naming it maps to [].
    """
    dialogue = _dialogue_items(data_dir)
    askers = _form_askers(forms)
    sources = _sources(code_dirs, root)
    index: dict[str, list[str]] = {}
    for name in names:
        used = [f"{kind}: {item}" for kind, item, steps in dialogue if _steps_name(steps, name)]
        used += askers.get(name, [])
        quoted = (f'"{name}"', f"'{name}'")
        used += [label for label, text in sources if any(q in text for q in quoted)]
        index[name] = list(dict.fromkeys(used))
    return index
