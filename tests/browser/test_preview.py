"""The designer's preview in a real browser (issue 15, item 5 and "Done when").

Headless Chromium (Debian's, driven by Playwright: harness/chromium.py, tests/support/browser.py)
opens the preview that harness.local_stack.LocalStack starts with ``preview=True``: the preview
process hosts the Meta Graph stand-in Rasa answers to, so what the page shows is what the
channel really sent. The tests type and tap as a designer would and check what the page shows
against the Graph API payloads the stand-in accepted. Each test leaves a screenshot in
``results/screenshots/<test name>.png``.

One stack for the module (Rasa takes about a minute to load); each test starts its session over
(a new fake identity), so no test sees another's conversation.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List

import httpx
import pytest
import yaml

from harness.local_stack import LocalStack
from tests.support.browser import require_chromium, screenshot
from tests.support.model import require_model
from tests.support.paths import DOMAIN_FILE

pytestmark = pytest.mark.browser

TURN_MS = 60_000  # the first turns of a fresh Rasa are slow; the page shows them when they come


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    require_chromium()  # before paying a minute for Rasa
    assistant = LocalStack(tmp_path_factory.mktemp("browser-preview"), model=require_model(), preview=True)
    try:
        assistant.start()
        yield assistant
    finally:
        assistant.stop()


def _start_over(stack: LocalStack, page: Any, *sessions: str) -> Dict[str, Dict[str, Any]]:
    """New fake identities for ``sessions``, then the chat page; returns each session's identity."""
    identities = {}
    for sid in sessions:
        answer = httpx.post(f"{stack.preview_url}/api/sessions/{sid}/reset", timeout=10)
        answer.raise_for_status()
        identities[sid] = answer.json()["session"]
    page.goto(stack.preview_url + "/")
    page.locator("[data-session=phone] [data-testid=composer]").wait_for()
    return identities


def _pane(page: Any, sid: str = "phone") -> Any:
    return page.locator(f'[data-session="{sid}"]')


def _bot(pane: Any) -> Any:
    return pane.locator('[data-testid=bubble][data-direction="in"]')


def _type(pane: Any, text: str) -> None:
    pane.locator("[data-testid=composer]").fill(text)
    pane.locator("[data-testid=send]").click()


def _wait_bot_text(pane: Any, pattern: str) -> Any:
    """The newest bot bubble whose text matches ``pattern`` (waits for it)."""
    bubble = _bot(pane).filter(has_text=re.compile(pattern)).last
    bubble.wait_for(timeout=TURN_MS)
    return bubble


def _tap_button(pane: Any, title: str) -> None:
    pane.locator("[data-testid=reply-button]", has_text=title).last.click()


def _tap_row(pane: Any, title: str) -> None:
    """Open the newest list and tap the row titled ``title``; the sheet closes."""
    pane.locator("[data-testid=list-open]").last.click()
    sheet = pane.locator("[data-testid=list-sheet]")
    sheet.wait_for()
    sheet.locator("[data-testid=list-row]").filter(has=pane.page.locator(".row-title", has_text=title)).first.click()
    sheet.wait_for(state="detached")


def _graph_message(stack: LocalStack, wamid: str) -> Dict[str, Any]:
    """The Graph API message the stand-in accepted under ``wamid`` (a bot bubble's data-wamid)."""
    for record in stack.sent():
        if record.get("wamid") == wamid:
            return record["message"]
    raise AssertionError(f"the stand-in accepted no message {wamid}")


# -- the chat ----------------------------------------------------------------------------------

def test_a_message_shows_as_a_user_bubble_with_ticks_and_the_reply_on_the_left(stack: LocalStack, page: Any) -> None:
    _start_over(stack, page, "phone")
    pane = _pane(page)
    _type(pane, "Hallo")
    mine = pane.locator('[data-testid=bubble][data-direction="out"]').last
    mine.wait_for()
    assert mine.locator(".bubble-text").inner_text() == "Hallo"
    ticks = mine.locator("[data-testid=ticks]")
    assert ticks.get_attribute("data-state") in {"sent", "delivered", "read"}
    reply = _wait_bot_text(pane, "Blaupause-Jobassistent")
    # WhatsApp's layout: the user's bubble on the right, the business's on the left.
    messages = pane.locator("[data-testid=messages]").bounding_box()
    mine_box, reply_box = mine.locator(".bubble").bounding_box(), reply.locator(".bubble").bounding_box()
    middle = messages["x"] + messages["width"] / 2
    assert mine_box["x"] + mine_box["width"] > middle and mine_box["x"] > reply_box["x"]
    assert reply_box["x"] < middle
    # The channel marks the user's message as read when it answers: the ticks turn blue.
    page.wait_for_function(
        "el => el.getAttribute('data-state') === 'read'", arg=ticks.element_handle(), timeout=TURN_MS
    )
    assert [b.inner_text() for b in reply.locator("[data-testid=reply-button]").all()] == [
        "Jobs suchen", "Datenschutz", "Hilfe"
    ]
    assert reply.locator(".bubble-time").inner_text().strip()


def test_a_whole_job_search_by_taps_in_german(stack: LocalStack, page: Any) -> None:
    _start_over(stack, page, "phone")
    pane = _pane(page)
    _type(pane, "Hallo")
    _wait_bot_text(pane, "Blaupause-Jobassistent")
    _tap_button(pane, "Jobs suchen")
    ask = _wait_bot_text(pane, "Als was möchtest du arbeiten")
    # Ten choices are a list behind a button, as WhatsApp shows them.
    assert ask.locator("[data-testid=list-open]").inner_text().strip() == "Optionen"
    assert ask.locator("[data-testid=reply-button]").count() == 0
    ask.locator("[data-testid=list-open]").click()
    sheet = pane.locator("[data-testid=list-sheet]")
    rows = sheet.locator("[data-testid=list-row] .row-title")
    assert rows.count() == 10 and "Koch/Köchin" in rows.all_inner_texts()
    screenshot(page, "german_search_list_sheet")
    sheet.locator("[data-testid=list-row]", has_text="Koch/Köchin").click()
    sheet.wait_for(state="detached")
    _wait_bot_text(pane, "Wo soll der Job sein")
    _tap_row(pane, "Berlin")
    results = _wait_bot_text(pane, 'Stellen für "Koch" in Berlin')
    assert results.locator("[data-testid=list-open]").count() == 1
    _wait_bot_text(pane, "Mehr Ergebnisse|Neue Suche")


def test_a_result_title_is_cut_exactly_as_the_graph_payload_carries_it(stack: LocalStack, page: Any) -> None:
    _start_over(stack, page, "phone")
    pane = _pane(page)
    _type(pane, "Ich suche einen Job als Koch in Berlin")
    results = _wait_bot_text(pane, 'Stellen für "Koch" in Berlin')
    sent = _graph_message(stack, results.get_attribute("data-wamid"))
    rows = [row for section in sent["interactive"]["action"]["sections"] for row in section["rows"]]
    cut = [row for row in rows if row["title"].endswith("…")]
    assert cut, f"no result title longer than 24 characters in {[r['title'] for r in rows]}"
    assert all(len(row["title"]) <= 24 for row in rows)
    results.locator("[data-testid=list-open]").click()
    sheet = pane.locator("[data-testid=list-sheet]")
    assert sheet.locator(".row-title").all_inner_texts() == [row["title"] for row in rows]
    shown = sheet.locator("[data-testid=list-row]", has=page.locator(".row-title", has_text=cut[0]["title"])).first
    # The full line survives in the description, as WhatsApp shows it under the cut title.
    assert shown.locator(".row-description").inner_text() == cut[0]["description"]
    screenshot(page, "cut_result_titles")
    shown.click()
    _wait_bot_text(pane, "Arbeitgeber")


def test_an_english_sentence_gets_an_english_answer(stack: LocalStack, page: Any) -> None:
    _start_over(stack, page, "phone")
    pane = _pane(page)
    _type(pane, "I am looking for a job as a cook in Hamburg")
    # The bundled data may have no cook in Hamburg: either answer is English and names the search.
    answer = _wait_bot_text(pane, r'(I found \d+|Sorry, I found no) jobs for "Koch" in Hamburg')
    assert _bot(pane).filter(has_text=re.compile("Stellen|Suche")).count() == 0
    assert answer.locator("[data-testid=reply-button], [data-testid=list-open]").count() >= 1
    _wait_bot_text(pane, "New search")
    turn = pane.locator("[data-testid=inspector] [data-testid=turn]").last
    turn.locator(".slots", has_text="language → en").wait_for(timeout=TURN_MS)


def test_a_whole_job_search_by_taps_in_english_next_to_a_username_user(stack: LocalStack, page: Any) -> None:
    identities = _start_over(stack, page, "phone", "bsuid")
    german, english = _pane(page, "phone"), _pane(page, "bsuid")
    assert identities["bsuid"]["phone"] is None and identities["bsuid"]["user_id"]
    _type(english, "Hello")
    _wait_bot_text(english, "job assistant")
    _type(german, "Hallo")  # the other session, at the same time
    _tap_button(english, "Search jobs")
    _wait_bot_text(english, "What kind of job")
    _tap_row(english, "Cook")
    _wait_bot_text(english, "Where should the job be")
    _tap_row(english, "Berlin")
    _wait_bot_text(english, r'jobs for "[^"]+" in Berlin')
    _wait_bot_text(german, "Blaupause-Jobassistent")
    # The username user has no number: every reply went to its BSUID (``recipient``), none to a ``to``.
    user_id = identities["bsuid"]["user_id"]
    to_username = [m for m in stack.sent() if m.get("recipient") == user_id]
    assert to_username and all(not m.get("to") for m in to_username)
    assert _bot(german).filter(has_text="jobs for").count() == 0


def test_a_location_preset_answers_the_location_question(stack: LocalStack, page: Any) -> None:
    _start_over(stack, page, "phone")
    pane = _pane(page)
    _type(pane, "Ich suche einen Job als Koch")
    _wait_bot_text(pane, "Wo soll der Job sein")
    pane.locator("[data-testid=attach]").click()
    pane.locator('[data-testid=location-preset][data-city="Hamburg"]').click()
    pane.locator('[data-testid=bubble][data-direction="out"][data-type="location"]').wait_for()
    _wait_bot_text(pane, "Hamburg")


def test_the_inspector_shows_intent_confidence_and_actions_of_the_last_turn(stack: LocalStack, page: Any) -> None:
    _start_over(stack, page, "phone")
    pane = _pane(page)
    _type(pane, "Hallo")
    _wait_bot_text(pane, "Blaupause-Jobassistent")
    turn = pane.locator("[data-testid=inspector] [data-testid=turn]").last
    turn.locator(".intent", has_text="greet").wait_for(timeout=TURN_MS)
    confidence = float(turn.locator(".confidence").inner_text())
    assert 0.0 < confidence <= 1.0
    actions = turn.locator(".actions").inner_text()
    assert "utter_greet" in actions, actions
    turn.locator(".payloads summary").click()
    payloads = turn.locator(".payloads pre").all_inner_texts()
    assert any("Jobs suchen" in text for text in payloads), payloads


# -- the gallery -------------------------------------------------------------------------------

def test_the_gallery_shows_every_response_in_both_languages_with_warnings(stack: LocalStack, page: Any) -> None:
    names = list(yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))["responses"])
    page.goto(stack.preview_url + "/gallery")
    responses = page.locator("[data-testid=response]")
    responses.first.wait_for()
    assert responses.count() == 2 * len(names)
    for language in ("de", "en"):
        shown = {box.get_attribute("data-name") for box in page.locator(f'[data-testid=response][data-language="{language}"]').all()}
        assert shown == set(names), set(names) ^ shown
    assert page.locator("[data-testid=warning]").count() >= 1
    greet = page.locator('[data-testid=response][data-name="utter_greet"][data-language="en"]')
    assert greet.locator("[data-testid=reply-button]").all_inner_texts() == ["Search jobs", "Privacy", "Help"]


# -- nothing from outside ------------------------------------------------------------------------

def test_the_pages_load_nothing_from_outside_loopback(stack: LocalStack, page: Any, seen_requests: List[str]) -> None:
    _start_over(stack, page, "phone")
    _type(_pane(page), "Hallo")
    _wait_bot_text(_pane(page), "Blaupause-Jobassistent")
    page.goto(stack.preview_url + "/gallery")
    page.locator("[data-testid=response]").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert seen_requests, "the page made no request at all"
    outside = [url for url in seen_requests
               if not url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:"))]
    assert outside == []
