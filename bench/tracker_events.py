"""Realistic Rasa trackers for the tracker store benchmark, built with Rasa's own event classes.

One search turn is 7 events, about 4 KB of JSON: the user message with intent ranking and
entities, the custom action, slot sets, the bot's result list with buttons, action_listen;
a session starts about every 40 events, as in real use. The texts are the assistant's own
German test sentences; every sender is a fake number's pseudonym.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

__all__ = ["SESSION_EVERY", "turn_events", "build_events"]

SESSION_EVERY = 40

_INTENTS = (
    "search_job", "inform", "more_results", "greet", "select_job", "new_search", "help",
    "thank", "privacy_info", "goodbye",
)


def _user(text: str, intent: str, ts: float, entities: list[dict[str, Any]]) -> Any:
    from rasa.shared.core.events import UserUttered

    ranking = [{"name": name, "confidence": round(0.9 / (i + 1), 4)} for i, name in enumerate(_INTENTS)]
    ranking.insert(0, {"name": intent, "confidence": 0.97})
    parse_data = {
        "intent": {"name": intent, "confidence": 0.97},
        "entities": entities,
        "intent_ranking": ranking[:10],
        "text": text,
        "response_selector": {"all_retrieval_intents": [], "default": {"response": {}, "ranking": []}},
    }
    return UserUttered(
        text,
        intent={"name": intent, "confidence": 0.97},
        entities=entities,
        parse_data=parse_data,
        timestamp=ts,
        input_channel="whatsapp",
        message_id=secrets.token_hex(16),
        metadata={"channel": "whatsapp", "message_type": "text"},
    )


def turn_events(ts: float, index: int) -> list[Any]:
    """One realistic search turn: 7 events, about 4 KB of JSON."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet

    text = "Ich suche einen Job als Koch in Berlin"
    entities = [
        {"entity": "job_title", "value": "Koch", "start": 24, "end": 28, "confidence_entity": 0.99,
         "extractor": "DIETClassifier"},
        {"entity": "location", "value": "Berlin", "start": 32, "end": 38, "confidence_entity": 0.98,
         "extractor": "DIETClassifier"},
    ]
    results = "\n".join(f"{n}. Koch/Köchin (m/w/d) – Restaurant Beispiel {n}, Berlin" for n in range(1, 6))
    buttons = [{"title": "Weitere Ergebnisse", "payload": "/more_results"},
               {"title": "Neue Suche", "payload": "/new_search"}]
    return [
        _user(text, "search_job", ts, entities),
        ActionExecuted("action_search_jobs", policy="RulePolicy", confidence=1.0, timestamp=ts + 0.01),
        SlotSet("job_title", "Koch", timestamp=ts + 0.02),
        SlotSet("location", "Berlin", timestamp=ts + 0.02),
        BotUttered(f"Ich habe {40 + index} Stellen für \"Koch\" in Berlin gefunden:\n{results}",
                   data={"buttons": buttons}, metadata={"utter_action": "utter_job_results"}, timestamp=ts + 0.03),
        ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0, timestamp=ts + 0.04),
    ]


def _session_start(ts: float) -> list[Any]:
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(timestamp=ts + 0.001),
        ActionExecuted("action_listen", timestamp=ts + 0.002),
    ]


def build_events(count: int, *, start: float | None = None) -> list[Any]:
    """``count`` events of a realistic conversation, a session start about every 40 events."""
    ts = (time.time() - 7 * 24 * 3600) if start is None else start
    events: list[Any] = []
    since_session = SESSION_EVERY
    index = 0
    while len(events) < count:
        if since_session >= SESSION_EVERY:
            events.extend(_session_start(ts))
            since_session = 3
            ts += 1
        turn = turn_events(ts, index)
        events.extend(turn)
        since_session += len(turn)
        index += 1
        ts += 20
    return events[:count]
