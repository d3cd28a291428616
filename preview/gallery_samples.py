"""Sample values for a response's ``{placeholders}``, filled the way Rasa fills them.

Why: Rasa fills ``{slot}`` and the variables an action passes (``{total}``, ``{results}``)
before the channel sees a response, so the gallery must render a filled text to show what
WhatsApp cuts or splits: a ``{results}`` of five job lines makes a text much longer than its
template. The filling is Rasa's own (``rasa.core.nlg.interpolator.interpolate``, as
``TemplatedNaturalLanguageGenerator._fill_response`` calls it on the same keys), so ``{{``
in a payload turns into ``{`` exactly as in a conversation. The one difference, on purpose:
Rasa returns a text untouched when any placeholder is unknown; here an unknown placeholder
keeps its ``{name}`` and the known ones are still filled, and the entry says which were which.

The values are invented and obviously fake (an ``.invalid`` URL); a value may differ per
language (``{de: …, en: …}``), falling back to the German one.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rasa.core.nlg.interpolator import interpolate

__all__ = ["SAMPLE_VALUES", "FILLED_KEYS", "fill_placeholders"]

#: The keys of a response Rasa fills (TemplatedNaturalLanguageGenerator._fill_response).
FILLED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")

_RESULTS_DE = (
    "1. Koch (m/w/d) – Gasthaus Adler, Berlin\n2. Jungkoch (m/w/d) – Hotel am See, Berlin\n"
    "3. Beikoch in Teilzeit – Kantine Mitte, Berlin\n4. Koch für Frühstück – Café Morgenrot, Berlin\n"
    "5. Küchenchef (m/w/d) – Restaurant Spree, Berlin"
)
_RESULTS_EN = _RESULTS_DE.replace("in Teilzeit", "part-time")

#: One sample per slot or action variable; a dict gives one per language.
SAMPLE_VALUES: Mapping[str, Any] = {
    "job_title": "Koch",
    "location": "Berlin",
    "radius_km": "25",
    "working_time": {"de": "Vollzeit", "en": "full-time"},
    "remote": {"de": "nein", "en": "no"},
    "criteria": {"de": "Beruf: Koch, Ort: Berlin", "en": "job: Koch, place: Berlin"},
    "total": "23",
    "first": "1",
    "last": "5",
    "results": {"de": _RESULTS_DE, "en": _RESULTS_EN},
    "title": "Koch (m/w/d)",
    "employer": "Gasthaus Adler",
    "place": "Berlin",
    "start_date": "01.09.2026",
    "url": "https://jobs.example.invalid/job-0001",
    "answer": {
        "de": "Eine Bewerbung braucht meist einen Lebenslauf und ein kurzes Anschreiben.",
        "en": "An application usually needs a CV and a short cover letter.",
    },
    "voice_transcript": {"de": "Ich suche einen Job als Koch in Berlin", "en": "cook jobs in Berlin"},
    "sessions": "2",
    "messages": "14",
    "voice_notes": {
        "de": " (davon 3 Sprachnachrichten, nur als Text gespeichert)",
        "en": " (3 of them voice messages, kept only as text)",
    },
    "first_activity": {"de": "02.06.2026 09:12", "en": "2026-06-02 09:12"},
    "last_activity": {"de": "14.06.2026 18:40", "en": "2026-06-14 18:40"},
    "retained_until": {"de": "14.07.2026 18:40", "en": "2026-07-14 18:40"},
    "slots": {"de": "• Beruf: Koch\n• Ort: Berlin", "en": "• job: Koch\n• place: Berlin"},
}


class _Recording(dict):  # type: ignore[type-arg]
    """The values Rasa's interpolator reads; remembers what it asked for, keeps unknown ``{name}``."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.filled: dict[str, str] = {}
        self.unfilled: list[str] = []

    def __getitem__(self, key: str) -> str:
        if dict.__contains__(self, key):
            value = dict.__getitem__(self, key)
            self.filled[key] = value
            return value
        if key not in self.unfilled:
            self.unfilled.append(key)
        return "{" + key + "}"


def _values_for(language: str, default_language: str, samples: Mapping[str, Any]) -> dict[str, str]:
    values = {}
    for name, value in samples.items():
        if isinstance(value, Mapping):
            value = value.get(language, value.get(default_language, next(iter(value.values()), "")))
        values[name] = str(value)
    return values


def fill_placeholders(
    variant: Mapping[str, Any],
    language: str,
    default_language: str,
    samples: Mapping[str, Any] = SAMPLE_VALUES,
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(the bot message the channel would get, {placeholder: sample used}, placeholders kept).

    ``variant`` is not changed; the message is a copy without ``condition``/``channel`` (Rasa's
    bookkeeping, the channel never sees them).
    """
    message = {key: copy.deepcopy(value) for key, value in variant.items() if key not in ("condition", "channel")}
    values = _Recording(_values_for(language, default_language, samples))
    for key in FILLED_KEYS:
        if key in message:
            message[key] = interpolate(message[key], values)
    return message, dict(values.filled), list(values.unfilled)
