"""The Graph API stand-in refuses over-limit messages by its own table, independently of the channel.

Why: a stand-in that checked with connectors/whatsapp/limits.py would agree with a wrong production
limit. Here every entry of Meta's table is tried at its limit (accepted) and one past it (refused),
and a production limit made wrong on purpose lets a message through the channel's own check while
the stand-in still answers Meta's 131009.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import connectors.whatsapp.limits as production
from standins.meta_graph.meta_limits import META_LIMITS, limit
from standins.meta_graph.message_checks import outbound_problems

USER = "4915550000001"


def _buttons(count: int = 1, *, title: str = "Ja", button_id: str | None = None, body: str = "Wie weiter?") -> dict:
    buttons = [{"type": "reply", "reply": {"id": button_id or f"b{i}", "title": f"{title}{i}" if count > 1 else title}}
               for i in range(count)]
    return {"type": "interactive", "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}}


def _list(rows: int = 1, *, sections: int = 1, body: str = "Treffer", button: str = "Stellen", **row: str) -> dict:
    per_section = [
        {"title": f"Teil {s}", "rows": [{"id": f"r{s}_{i}", "title": "Koch", **row} for i in range(rows)]}
        for s in range(sections)
    ]
    return {
        "type": "interactive",
        "interactive": {"type": "list", "body": {"text": body}, "action": {"button": button, "sections": per_section}},
    }


def _with(message: dict, path: tuple[str, ...], value: Any) -> dict:
    target = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return message


def _cta(body: str = "Mehr", display_text: str = "Öffnen") -> dict:
    action = {"name": "cta_url", "parameters": {"display_text": display_text, "url": "https://example.org/job"}}
    return {"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": body}, "action": action}}


#: Entry of Meta's table -> a message whose field of that entry holds ``n`` characters.
TEXT_FIELDS: dict[str, Callable[[int], dict]] = {
    "text.body": lambda n: {"type": "text", "text": {"body": "x" * n}},
    "button.body": lambda n: _buttons(body="x" * n),
    "button.title": lambda n: _buttons(title="x" * n),
    "button.id": lambda n: _buttons(button_id="x" * n),
    "list.body": lambda n: _list(body="x" * n),
    "list.button": lambda n: _list(button="x" * n),
    "section.title": lambda n: _with(_list(sections=2), ("interactive", "action", "sections", 0, "title"), "x" * n),
    "row.title": lambda n: _list(title="x" * n),
    "row.description": lambda n: _list(description="x" * n),
    "row.id": lambda n: _list(id="x" * n),
    "header.text": lambda n: _with(_buttons(), ("interactive", "header"), {"type": "text", "text": "x" * n}),
    "footer.text": lambda n: _with(_buttons(), ("interactive", "footer"), {"text": "x" * n}),
    "cta_url.body": lambda n: _cta(body="x" * n),
    "cta_url.display_text": lambda n: _cta(display_text="x" * n),
    "location_request.body": lambda n: {
        "type": "interactive",
        "interactive": {"type": "location_request_message", "body": {"text": "x" * n}, "action": {"name": "send_location"}},
    },
    "media.caption": lambda n: {"type": "image", "image": {"id": "1", "caption": "x" * n}},
    "template.name": lambda n: {"type": "template", "template": {"name": "x" * n, "language": {"code": "xx"}}},
}
#: Entry of Meta's table -> a message with ``n`` of what it counts.
COUNTS: dict[str, Callable[[int], dict]] = {
    "button.count": lambda n: _buttons(n),
    "list.sections": lambda n: _list(sections=n),
    "list.rows": lambda n: _list(rows=n),
}


def test_every_entry_of_the_table_is_tried():
    assert set(TEXT_FIELDS) | set(COUNTS) == set(META_LIMITS)


@pytest.mark.parametrize("entry", sorted(TEXT_FIELDS))
def test_text_at_the_limit_passes_and_one_more_is_refused(entry):
    assert outbound_problems(TEXT_FIELDS[entry](limit(entry))) == []
    assert outbound_problems(TEXT_FIELDS[entry](limit(entry) + 1)) != []


@pytest.mark.parametrize("entry", sorted(COUNTS))
def test_count_at_the_limit_passes_and_one_more_is_refused(entry):
    assert outbound_problems(COUNTS[entry](limit(entry))) == []
    assert outbound_problems(COUNTS[entry](limit(entry) + 1)) != []


def test_rows_are_counted_over_all_sections():
    [problem] = outbound_problems(_list(rows=4, sections=3))
    assert "12 rows" in problem


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (_buttons(2, title="Ja", button_id="same"), "ids"),
        (_with(_buttons(2), ("interactive", "action", "buttons", 1, "reply", "title"), "JA0"), "titles"),
        (_with(_list(sections=2), ("interactive", "action", "sections", 1, "title"), None), "sections[1].title"),
        ({"type": "image", "image": {"id": "1", "link": "https://example.org/a.png"}}, "exactly one"),
        ({"type": "sticker", "sticker": {"id": "1", "caption": "x"}}, "caption"),
        (_with(_cta(), ("interactive", "action", "parameters", "url"), "ftp://example.org"), "url"),
        ({"type": "template", "template": {"name": "hallo"}}, "language"),
        ({"type": "contacts", "contacts": []}, "contacts"),
    ],
    ids=["duplicate-ids", "titles-differ-only-in-case", "second-section-untitled", "id-and-link", "sticker-caption",
         "cta-not-http", "template-language", "no-contacts"],
)
def test_structure_rules_of_metas_pages(message, fragment):
    problems = outbound_problems(message)
    assert problems and any(fragment in problem for problem in problems), problems


def test_problems_never_contain_the_message_text():
    secret = "Geheimnis " * 500
    problems = outbound_problems({"type": "text", "text": {"body": secret}})
    assert problems and all("Geheimnis" not in problem for problem in problems)


def test_a_wrong_production_limit_lets_a_title_through_that_the_stand_in_refuses(monkeypatch):
    message = _buttons(title="Ein zu langer Titel!!!")  # 22 characters, Meta allows 20
    monkeypatch.setattr(production, "REPLY_BUTTON_TITLE_MAX", 30)

    assert production.validate_outbound(message) == []
    assert any("reply.title: 22 characters, at most 20" in p for p in outbound_problems(message))


async def test_the_stand_in_answers_131009_whatever_the_production_limits_say(monkeypatch, standin, http):
    for name in production.__all__:
        if name.endswith("_MAX"):
            monkeypatch.setattr(production, name, getattr(production, name) * 10)
    message = _list(rows=11)
    assert production.validate_outbound(message) == []

    response = await http.post(
        f"/v21.0/{standin.phone_number_id}/messages", json={"messaging_product": "whatsapp", "to": USER, **message}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 131009 and "11 rows" in error["error_data"]["details"]
    assert standin.messages == ()
