"""What leaves for the LLM (issue 16, finding 8): the OpenAI-compatible stand-in records it.

The action server does not receive the WhatsApp profile name or username (they are not
stored in the tracker, and the tracker is what Rasa sends), so names are masked where
people write them (introductions, sign-offs); callers that do hold the values pass
``known_values``.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.llm import ChatCompletionsClient, LLMConfig
from actions.llm.redaction import redact_detailed
from actions.llm_fallback import ActionLLMFallback
from standins.llm import LLMStandin

API_KEY = "test-key-not-secret"

# (what the user wrote, what must not reach the LLM, what must still reach it)
CASES = [
    ("Hallo, ich heiße Erika Mustermann und suche Arbeit als Koch", ["Erika", "Mustermann"], "suche Arbeit als Koch"),
    ("Mein Name ist Max Mustermann, wie schreibe ich ein Anschreiben?", ["Max", "Mustermann"], "Anschreiben"),
    ("my name is John Smith, how do I write a CV?", ["John", "Smith"], "write a CV"),
    ("Kannst du helfen?\nViele Grüße, Erika", ["Erika"], "Kannst du helfen"),
    ("Ruf an: 0151,2345,6789 bitte", ["2345", "6789"], "bitte"),
    ("Ruf an: 0151·2345·6789 bitte", ["2345", "6789"], "bitte"),
    ("Nummer 0151 • 2345 • 678", ["2345", "678"], "Nummer"),
    ("schreib an erika (at) example (dot) de", ["erika", "example"], "schreib an"),
    ("schreib an erika[at]example.de oder erika{at}example.org", ["erika", "example"], "schreib an"),
    ("Ich wohne in der Hauptstraße 12, 10115 Berlin, gibt es Jobs?", ["Hauptstraße", "10115"], "gibt es Jobs"),
    ("Meine Adresse: Am Markt 3 06484 Quedlinburg", ["Markt 3", "06484"], "Meine Adresse"),
    ("Lindenweg 5a, bin flexibel", ["Lindenweg"], "bin flexibel"),
    ("frag @erika_test nach Jobs", ["erika_test"], "nach Jobs"),
]


@pytest.fixture
def standin() -> Iterator[LLMStandin]:
    with LLMStandin(api_key=API_KEY) as server:
        yield server


def _sent(standin: LLMStandin) -> tuple[str, str]:
    request = standin.requests[-1]
    return request.raw.decode("utf-8"), request.body["messages"][1]["content"]


@pytest.mark.parametrize("text, hidden, kept", CASES)
async def test_the_llm_receives_no_personal_values(standin: LLMStandin, text: str, hidden: list[str], kept: str) -> None:
    client = ChatCompletionsClient(LLMConfig(base_url=standin.base_url, model="m", api_key=API_KEY))
    await client.complete(system_prompt="s", user_text=text, max_tokens=50, temperature=0.2)
    raw, content = _sent(standin)
    for value in hidden:
        assert value not in raw and json.dumps(value)[1:-1] not in raw, (value, content)
    assert kept in content


async def test_known_values_of_the_request_are_masked(standin: LLMStandin) -> None:
    client = ChatCompletionsClient(LLMConfig(base_url=standin.base_url, model="m", api_key=API_KEY))
    await client.complete(system_prompt="s", user_text="Erika hier, erika_test ist mein Name, Mustermann auch",
                          max_tokens=50, temperature=0.2, known_values=("Erika Mustermann", "@erika_test"))
    raw, content = _sent(standin)
    assert "Erika" not in raw and "Mustermann" not in raw and "erika_test" not in raw
    assert content == "[name] hier, [name] ist mein Name, [name] auch"


async def test_the_fallback_action_sends_a_masked_message(standin: LLMStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"LLM_BASE_URL": standin.base_url, "LLM_MODEL": "m", "LLM_API_KEY": API_KEY}
    tracker = Tracker(
        "u_" + "d" * 32, {"language": "de"},
        {"text": "Ich heiße Erika Mustermann, Hauptstraße 12, 10115 Berlin, Tel 0151·2345·6789. Wie bewerbe ich mich?",
         "intent": {"name": "out_of_scope"}},
        [], False, None, None, "action_listen",
    )
    dispatcher = CollectingDispatcher()
    await ActionLLMFallback(environ=environ).run(dispatcher, tracker, {})
    raw, content = _sent(standin)
    for value in ("Erika", "Mustermann", "Hauptstraße", "10115", "2345", "6789"):
        assert value not in raw
    assert "Wie bewerbe ich mich?" in content


@pytest.mark.parametrize(
    "text",
    [
        "Ich suche einen Job als Koch in Berlin",
        "Job in 10115 Berlin, Umkreis 25 km",
        "Ich bin Koch und suche Teilzeit",
        "Ich habe 2019, 2020 und 2021 als Koch gearbeitet",
        "Best jobs in Hamburg?",
        "This is my first job search",
        "Gehalt 3.500 Euro brutto, 3,5 Jahre Erfahrung",
    ],
)
def test_ordinary_job_search_text_is_kept(text: str) -> None:
    result = redact_detailed(text)
    assert result.text == text and not result.changed


@pytest.mark.parametrize(
    "text",
    ["A-" * 1000, "Aa " * 700, "Hauptstraße " * 200, "Aa-Bb " * 300 + "12", "ich heiße " + "Aa " * 600,
     "'" * 2000, "Am " * 600 + "1 12345", "1," * 1000, "1·" * 1000, "x (at) " * 300, "Aa" + "-Aa" * 700],
)
def test_pathological_input_is_redacted_quickly(text: str) -> None:
    import time

    started = time.perf_counter()
    redact_detailed(text[:2000])
    assert time.perf_counter() - started < 1.0
