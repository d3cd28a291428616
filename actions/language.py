"""Which language to answer in: German first, English when the user writes English or asks.

Rasa picks each response's wording by the ``language`` slot (conditional response
variations in ``domain.yml``). This action fills that slot on every user message through a
``custom`` slot mapping (https://rasa.com/docs/rasa/3.x/domain#custom-slot-mappings), so the
detection runs before any response is chosen and designers never touch Python.

The detector is a transparent word-list scorer rather than a statistical model: messages
are short ("Koch", "Berlin", "ok"), and for those the right answer is "no evidence, keep
the current language". Only a clear majority of language-specific words switches.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

__all__ = ["ActionDetectLanguage", "detect_language", "SUPPORTED_LANGUAGES"]

SUPPORTED_LANGUAGES = ("de", "en")

_GERMAN = frozenset(
    """
    ich du er sie wir ihr mir mich dich mein meine dein deine bitte danke hallo moin servus
    tschüss tschüß und oder nicht kein keine keinen ein eine einen einem einer der die das dem den
    des ist bin bist sind war habe hast hat haben suche suchen sucht gibt gib es als auch noch
    mit für von bei nach aus zum zur im am auf wie was wo wer wann warum welche welcher welches
    kann kannst können möchte möchten will würde gerne gern arbeit stelle stellen jobs job
    nur lieber statt umkreis teilzeit vollzeit minijob zeig zeige mehr neue neu hilfe ja nein
    daten lösche löschen meine gespräch guten tag morgen abend schön super
    """.split()
)
_ENGLISH = frozenset(
    """
    i you he she we they me my your yours please thanks thank hello hi hey bye goodbye and or
    not no any a an the is am are was were have has had looking look search searching find
    for from with near around in at on as also what where who when why which can could would
    like want need work jobs job only instead within radius part full time show more new help
    yes data delete my conversation good morning evening great nice speak english
    """.split()
)
# Words both lists share carry no evidence.
_SHARED = _GERMAN & _ENGLISH
_WORD = re.compile(r"[a-zäöüß]+", re.IGNORECASE)
_UMLAUT = re.compile(r"[äöüß]", re.IGNORECASE)


def detect_language(text: str) -> Optional[str]:
    """Return "de" or "en" when the text clearly is that language, else None.

    Button payloads ("/intent{...}") and texts without evidence return None, so the
    conversation keeps its language.
    """
    if not text or text.startswith("/"):
        return None
    words = [w.lower() for w in _WORD.findall(text)]
    german = sum(1 for w in words if w in _GERMAN and w not in _SHARED)
    english = sum(1 for w in words if w in _ENGLISH and w not in _SHARED)
    if _UMLAUT.search(text):
        german += 1
    if german == english:
        return None
    if english > german and english >= 1 and (english >= 2 or len(words) <= 2):
        return "en"
    if german > english and german >= 1 and (german >= 2 or len(words) <= 2):
        return "de"
    return None


class ActionDetectLanguage(Action):
    """Fills the ``language`` slot from an explicit request or from the message's words."""

    def name(self) -> Text:
        return "action_detect_language"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        requested = next(tracker.get_latest_entity_values("language"), None)
        detected = requested if requested in SUPPORTED_LANGUAGES else None
        if detected is None:
            detected = detect_language((tracker.latest_message or {}).get("text") or "")
        if detected is None or detected == tracker.get_slot("language"):
            return []
        return [SlotSet("language", detected)]
