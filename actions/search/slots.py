"""Which slots make up one job search: read from YAML, never listed in Python.

Why: a designer adds a search criterion (say an ``employer`` slot) by editing YAML only. The
slots of a search are the ``actions.search.slots`` mapping of labels.yml, in order, each
with the name the search summary gives it (``~`` keeps a slot out of the summary). The
slots the form asks for are the form's ``required_slots`` in domain.yml: Rasa sends the
domain with every action call (``rasa_sdk`` passes it as ``domain``); when a call carries
none, the domain file is read (``BLAUPAUSE_DOMAIN_FILE``, by default the project's
domain.yml, the same file privacy/log_redaction/ reads).

A few slots have a meaning of their own for the job providers (:data:`BUILT_IN_SLOTS`,
the fields of :class:`actions.jobs.JobQuery`); every other search slot travels to the
provider as a filter (``JobQuery.filters``).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

import wording
from actions.label_cache import derived
from privacy.log_redaction.vocabulary import DOMAIN_FILE_ENV

__all__ = [
    "BUILT_IN_SLOTS",
    "SEARCH_FORM",
    "search_slots",
    "summary_slots",
    "filter_slots",
    "form_required_slots",
]

#: Slots the query builder maps onto JobQuery fields (actions/search/query.py), and the page.
BUILT_IN_SLOTS: Final[frozenset[str]] = frozenset(
    {"job_title", "location", "radius_km", "working_time", "remote", "latitude", "longitude", "search_page"}
)
SEARCH_FORM: Final[str] = "job_search_form"
logger = logging.getLogger(__name__)
_DEFAULT_DOMAIN_FILE: Final[Path] = Path(__file__).resolve().parents[2] / "domain.yml"


def _slot_section(labels: wording.Labels) -> Mapping[str, Any]:
    return labels.section("actions.search.slots")


def _names(labels: wording.Labels) -> tuple[str, ...]:
    return tuple(str(name) for name in _slot_section(labels))


def _shown(labels: wording.Labels) -> tuple[str, ...]:
    return tuple(str(name) for name, names in _slot_section(labels).items() if names)


def _filters(labels: wording.Labels) -> tuple[str, ...]:
    return tuple(name for name in _names(labels) if name not in BUILT_IN_SLOTS)


def search_slots(labels: wording.Labels | None = None) -> tuple[str, ...]:
    """Every slot of one search, in the order labels.yml lists them (action_reset_search clears these)."""
    return derived(labels or wording.current(), _names)


def summary_slots(labels: wording.Labels | None = None) -> tuple[str, ...]:
    """The search slots the summary ({criteria}) names when they are filled."""
    return derived(labels or wording.current(), _shown)


def filter_slots(labels: wording.Labels | None = None) -> tuple[str, ...]:
    """The search slots without a JobQuery field of their own: sent as ``JobQuery.filters``."""
    return derived(labels or wording.current(), _filters)


def form_required_slots(domain: Mapping[str, Any] | None = None, form: str = SEARCH_FORM) -> tuple[str, ...]:
    """The form's ``required_slots`` from ``domain`` (as Rasa sends it), else from the domain file."""
    listed = _required_in(domain or {}, form)
    if listed:
        return listed
    return _required_in_file(_domain_file(), form)


def _required_in(domain: Mapping[str, Any], form: str) -> tuple[str, ...]:
    forms = domain.get("forms") if isinstance(domain, Mapping) else None
    spec = forms.get(form) if isinstance(forms, Mapping) else None
    required = spec.get("required_slots") if isinstance(spec, Mapping) else None
    return tuple(str(slot) for slot in required) if isinstance(required, list) else ()


def _domain_file() -> str:
    configured = os.environ.get(DOMAIN_FILE_ENV, "").strip()
    return configured or str(_DEFAULT_DOMAIN_FILE)


@lru_cache(maxsize=8)
def _required_in_file(path: str, form: str) -> tuple[str, ...]:
    try:
        domain = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        # Cached: said once per file. Rasa normally sends the domain, so this is rarely needed.
        logger.warning("cannot read the domain file for the form's required slots (%s)", type(error).__name__)
        return ()
    return _required_in(domain if isinstance(domain, Mapping) else {}, form)
