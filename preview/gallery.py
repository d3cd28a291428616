"""The response gallery: every response of domain.yml, in every language, as WhatsApp shows it.

Why: what a designer writes in domain.yml is not what a job seeker sees (issue 15 item 2):
four buttons become a list, long titles are cut, long texts split. The gallery renders each
response through the channel's real renderer (``connectors.whatsapp.render.render_response``
with an ``InMemoryPayloadIdMap``, like the channel in development) and says, per response
and language, what the renderer had to change (preview/gallery_warnings.py) and what sends
it (preview/gallery_usage.py). Served as GET /api/gallery (docs of the JSON shape: the
module's ``gallery_entries``).

Languages are those of labels.yml, the first the default (:mod:`wording`). Which variant a
language gets follows Rasa 3.6's conditional response variations
(https://rasa.com/docs/rasa/3.x/responses#conditional-response-variations): a variant with
the condition ``language = en`` is English; the variant without a condition is the default
language's and the fallback of every language without its own; several variants that apply
are picked at random by Rasa, so all are shown, numbered; conditions on other slots are
spelled out. Variants for another channel than ``whatsapp`` are left out. Placeholders are
filled with sample values (preview/gallery_samples.py), each entry says which.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

import wording
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.render import render_response
from connectors.whatsapp.render.labels import channel_labels
from preview.gallery_samples import fill_placeholders
from preview.gallery_usage import usage_index
from preview.gallery_warnings import response_warnings

__all__ = ["ROOT", "gallery_entries", "gallery_summary", "gallery_document", "language_name"]

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "whatsapp"
LANGUAGE_SLOT = "language"
NOT_USED = "not used"
_NOT_USED_WARNING = "not used by any rule, story, form or action"

_LANGUAGE_NAMES = {
    "de": "German", "en": "English", "fr": "French", "es": "Spanish", "it": "Italian", "nl": "Dutch",
    "pl": "Polish", "tr": "Turkish", "ar": "Arabic", "uk": "Ukrainian", "ru": "Russian", "pt": "Portuguese",
}


def language_name(code: str) -> str:
    """"German" for "de"; the code itself in quotes for a language not in the small table."""
    return _LANGUAGE_NAMES.get(code, f"'{code}'")


def _read_domain(domain_path: Path) -> dict[str, Any]:
    """responses and forms of a domain file, or of every YAML file of a domain folder."""
    files = [domain_path]
    if domain_path.is_dir():
        files = sorted(domain_path.rglob("*.yml")) + sorted(domain_path.rglob("*.yaml"))
    domain: dict[str, Any] = {"responses": {}, "forms": {}}
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(document, Mapping):
            domain["responses"].update(document.get("responses") or {})
            domain["forms"].update(document.get("forms") or {})
    return domain


def _language_of(variant: Mapping[str, Any]) -> str | None:
    for condition in variant.get("condition") or []:
        if isinstance(condition, Mapping) and condition.get("name") == LANGUAGE_SLOT:
            return str(condition.get("value"))
    return None


def _other_conditions(variant: Mapping[str, Any]) -> str:
    """The conditions besides the language, readable: "when slot remote = true"."""
    parts = []
    for condition in variant.get("condition") or []:
        if not isinstance(condition, Mapping) or condition.get("name") == LANGUAGE_SLOT:
            continue
        value = condition.get("value")
        shown = "empty" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        parts.append(f"slot {condition.get('name')} = {shown}")
    return "when " + " and ".join(parts) if parts else ""


def _variants_for(
    variants: Sequence[Mapping[str, Any]], language: str, default: str
) -> tuple[list[Mapping[str, Any]], str | None]:
    """(the variants that may be sent in ``language``, the language they were written for if another).

    Own variants (``language = <language>``, alone or with other conditions) and variants
    conditioned on other slots only; the unconditioned ones too unless an own variant with no
    other condition always wins over them.
    """
    usable = [v for v in variants if isinstance(v, Mapping) and v.get("channel") in (None, CHANNEL)]
    own = [v for v in usable if _language_of(v) == language]
    any_language = [v for v in usable if v.get("condition") and _language_of(v) is None]
    plain = [v for v in usable if not v.get("condition")]
    always_own = any(not _other_conditions(v) for v in own)
    chosen = own + any_language + ([] if always_own else plain)
    fallback_from = default if not own and plain and language != default else None
    return chosen, fallback_from


def _condition_text(variant: Mapping[str, Any], number: int, count: int) -> str:
    parts = [f"variant {number} of {count}, Rasa picks one at random"] if count > 1 else []
    other = _other_conditions(variant)
    if other:
        parts.append(other)
    if variant.get("channel"):
        parts.append(f"channel {variant['channel']}")
    return "; ".join(parts)


def _code_dirs(actions_dir: Path, code_dirs: Iterable[tuple[str, Path]] | None) -> list[tuple[str, Path]]:
    if code_dirs is not None:
        return list(code_dirs)
    return [("action", actions_dir), ("channel", ROOT / "connectors"), ("channel", ROOT / "privacy")]


async def gallery_entries(
    domain_path: Path = ROOT / "domain.yml",
    data_dir: Path = ROOT / "data",
    actions_dir: Path = ROOT / "actions",
    *,
    code_dirs: Iterable[tuple[str, Path]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per response, language and variant, in domain order, then language order.

    Entry: ``{"name", "language", "condition"`` (readable, '' for the plain variant),
    ``"source"`` (the variant as written), ``"rendered"`` (Graph API message objects),
    ``"following_pages"`` (list pages behind a "more" row, as a tap gets them),
    ``"warnings"``, ``"used_by"`` (["rule: greet", "action: actions/job_search.py"], or
    ["not used"]), ``"filled"`` ({placeholder: sample value}), ``"unfilled"`` ([placeholder])``}``.
    ``code_dirs``: (kind, folder) pairs searched for the response's name; by default
    ("action", actions_dir), ("channel", connectors/), ("channel", privacy/).
    """
    labels = wording.current()
    languages, default = list(labels.languages), labels.default_language
    domain = _read_domain(Path(domain_path))
    responses: Mapping[str, Any] = domain["responses"]
    used = usage_index(
        list(responses), data_dir=Path(data_dir), forms=domain["forms"],
        code_dirs=_code_dirs(Path(actions_dir), code_dirs), root=ROOT,
    )
    id_map = InMemoryPayloadIdMap()
    entries: list[dict[str, Any]] = []
    for name, variants in responses.items():
        variants = variants if isinstance(variants, list) else []
        used_by = used.get(name) or [NOT_USED]
        for language in languages:
            chosen, fallback_from = _variants_for(variants, language, default)
            common = {"name": name, "language": language, "used_by": used_by}
            if not chosen:
                entries.append({**common, "condition": "", "source": {}, "rendered": [], "following_pages": [],
                                "warnings": [f"no {language_name(language)} variant: nothing is sent"]
                                + ([_NOT_USED_WARNING] if used_by == [NOT_USED] else []),
                                "filled": {}, "unfilled": []})
                continue
            for number, variant in enumerate(chosen, start=1):
                entry = await _entry(variant, language, default, id_map)
                if fallback_from:
                    entry["warnings"].insert(
                        0, f"no {language_name(language)} variant: the {language_name(fallback_from)} one is sent"
                    )
                if used_by == [NOT_USED]:
                    entry["warnings"].append(_NOT_USED_WARNING)
                entries.append({**common, "condition": _condition_text(variant, number, len(chosen)), **entry})
    return entries


async def _entry(variant: Mapping[str, Any], language: str, default: str, id_map: InMemoryPayloadIdMap) -> dict[str, Any]:
    message, filled, unfilled = fill_placeholders(variant, language, default)
    rendered = await render_response(message, id_map=id_map, language=language)
    warnings, following = await response_warnings(
        message, rendered, id_map=id_map, labels=channel_labels(language)
    )
    return {
        "source": copy.deepcopy(dict(variant)),
        "rendered": rendered,
        "following_pages": following,
        "warnings": warnings,
        "filled": filled,
        "unfilled": unfilled,
    }


def gallery_summary(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """{"responses": distinct names, "variants": entries (variant x language), "warnings": all warnings}."""
    return {
        "responses": len({entry["name"] for entry in entries}),
        "variants": len(entries),
        "warnings": sum(len(entry["warnings"]) for entry in entries),
    }


async def gallery_document(**kwargs: Any) -> dict[str, Any]:
    """The body of GET /api/gallery: {"languages", "responses": entries, "summary"}."""
    entries = await gallery_entries(**kwargs)
    return {"languages": list(wording.current().languages), "responses": entries, "summary": gallery_summary(entries)}
