"""What Meta would object to in one outbound message, checked against the stand-in's own table.

Every length and count comes from :mod:`standins.meta_graph.meta_limits` (Meta's pages), never
from the channel's limits module, so the stand-in can catch a wrong production limit. The
structure rules follow the same pages: reply buttons are ``{"type": "reply", "reply": {id,
title}}`` with titles unique (case-insensitive) and ids unique; list row ids are unique; a list
with several sections needs section titles; a media object has exactly one of ``id`` or ``link``
and only image, video and document take a caption; a CTA button needs an http(s) URL.

The text of a message never appears in a problem, only its path and numbers, so a refused reply
can be logged by the test that sent it.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from standins.meta_graph.meta_limits import META_LIMITS, length, limit

__all__ = ["outbound_problems"]

_MEDIA = ("image", "video", "audio", "document", "sticker")
_TAKES_CAPTION = ("image", "video", "document")
_WEB_ADDRESS = re.compile(r"^https?://\S+$")
#: Which entry of the table bounds the body of each interactive type (unknown types: the strictest).
_BODY_LIMIT = {
    "button": "button.body",
    "list": "list.body",
    "cta_url": "cta_url.body",
    "location_request_message": "location_request.body",
}


class _Findings:
    """The problems found while walking one message."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, why: str) -> None:
        self.problems.append(f"{path}: {why}")

    def text(self, path: str, value: Any, limit_name: str, *, optional: bool = False) -> str | None:
        """A non-empty string within ``limit_name``; returns it when it is a string at all."""
        if value is None and optional:
            return None
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return None
        if not value.strip():
            self.add(path, "must not be empty")
        elif length(value) > limit(limit_name):
            self.add(path, f"{length(value)} characters, at most {limit(limit_name)}")
        return value

    def text_object(self, path: str, value: Any, limit_name: str) -> None:
        """``{"text": ...}`` as interactive bodies and footers are."""
        if isinstance(value, Mapping):
            self.text(f"{path}.text", value.get("text"), limit_name)
        else:
            self.add(path, "must be an object with 'text'")

    def items(self, path: str, value: Any, limit_name: str) -> list[Any]:
        """A list of 1 to ``limit_name`` entries; empty when it is not."""
        if isinstance(value, list) and 1 <= len(value) <= limit(limit_name):
            return value
        self.add(path, f"needs 1 to {limit(limit_name)} {META_LIMITS[limit_name].unit}")
        return []

    def distinct(self, path: str, values: Iterable[str], *, ignore_case: bool) -> None:
        keys = [v.casefold() if ignore_case else v for v in values]
        if len(set(keys)) != len(keys):
            self.add(path, "values must be unique")


def _media(f: _Findings, kind: str, obj: Mapping[str, Any], path: str) -> None:
    if ("id" in obj) == ("link" in obj):
        f.add(path, "needs exactly one of 'id' or 'link'")
    if "link" in obj and not (isinstance(obj["link"], str) and _WEB_ADDRESS.match(obj["link"])):
        f.add(f"{path}.link", "must be an http(s) URL")
    if "caption" in obj:
        if kind in _TAKES_CAPTION:
            f.text(f"{path}.caption", obj["caption"], "media.caption")
        else:
            f.add(path, "does not take a caption")


def _header(f: _Findings, header: Any) -> None:
    kind = header.get("type") if isinstance(header, Mapping) else None
    if kind == "text":
        f.text("interactive.header.text", header.get("text"), "header.text")
    elif kind in _MEDIA and isinstance(header.get(kind), Mapping):
        _media(f, kind, header[kind], f"interactive.header.{kind}")
    else:
        f.add("interactive.header", "must be a text or media header with a 'type'")


def _reply_buttons(f: _Findings, action: Mapping[str, Any]) -> None:
    titles, ids = [], []
    for number, button in enumerate(f.items("interactive.action.buttons", action.get("buttons"), "button.count")):
        path = f"interactive.action.buttons[{number}]"
        reply = button.get("reply") if isinstance(button, Mapping) and button.get("type") == "reply" else None
        if not isinstance(reply, Mapping):
            f.add(path, "must be {'type': 'reply', 'reply': {'id': ..., 'title': ...}}")
            continue
        titles.append(f.text(f"{path}.reply.title", reply.get("title"), "button.title"))
        ids.append(f.text(f"{path}.reply.id", reply.get("id"), "button.id"))
    f.distinct("interactive.action.buttons (titles)", filter(None, titles), ignore_case=True)
    f.distinct("interactive.action.buttons (ids)", filter(None, ids), ignore_case=False)


def _list(f: _Findings, action: Mapping[str, Any]) -> None:
    f.text("interactive.action.button", action.get("button"), "list.button")
    sections = f.items("interactive.action.sections", action.get("sections"), "list.sections")
    row_ids, rows_in_all = [], 0
    for number, section in enumerate(sections):
        path = f"interactive.action.sections[{number}]"
        if not isinstance(section, Mapping):
            f.add(path, "must be an object")
            continue
        f.text(f"{path}.title", section.get("title"), "section.title", optional=len(sections) == 1)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            f.add(f"{path}.rows", "needs at least one row")
            continue
        rows_in_all += len(rows)
        for row_number, row in enumerate(rows):
            row_path = f"{path}.rows[{row_number}]"
            if not isinstance(row, Mapping):
                f.add(row_path, "must be an object")
                continue
            f.text(f"{row_path}.title", row.get("title"), "row.title")
            f.text(f"{row_path}.description", row.get("description"), "row.description", optional=True)
            row_ids.append(f.text(f"{row_path}.id", row.get("id"), "row.id"))
    if rows_in_all > limit("list.rows"):
        f.add("interactive.action.sections", f"{rows_in_all} rows in all sections, at most {limit('list.rows')}")
    f.distinct("interactive.action.sections (row ids)", filter(None, row_ids), ignore_case=False)


def _cta_url(f: _Findings, action: Mapping[str, Any]) -> None:
    parameters = action.get("parameters")
    if action.get("name") != "cta_url" or not isinstance(parameters, Mapping):
        f.add("interactive.action", "must be {'name': 'cta_url', 'parameters': {...}}")
        return
    f.text("interactive.action.parameters.display_text", parameters.get("display_text"), "cta_url.display_text")
    url = parameters.get("url")
    if not (isinstance(url, str) and _WEB_ADDRESS.match(url)):
        f.add("interactive.action.parameters.url", "must be an http(s) URL")


def _location_request(f: _Findings, action: Mapping[str, Any]) -> None:
    if action.get("name") != "send_location":
        f.add("interactive.action.name", "must be 'send_location'")


_ACTIONS: Mapping[str, Callable[[_Findings, Mapping[str, Any]], None]] = {
    "button": _reply_buttons,
    "list": _list,
    "cta_url": _cta_url,
    "location_request_message": _location_request,
}


def _interactive(f: _Findings, obj: Mapping[str, Any]) -> None:
    kind = obj.get("type")
    if not isinstance(kind, str):
        f.add("interactive.type", "missing")
        return
    if kind in _BODY_LIMIT or "body" in obj:
        f.text_object("interactive.body", obj.get("body"), _BODY_LIMIT.get(kind, "button.body"))
    if "header" in obj:
        _header(f, obj["header"])
    if "footer" in obj:
        f.text_object("interactive.footer", obj["footer"], "footer.text")
    action = obj.get("action")
    if not isinstance(action, Mapping):
        f.add("interactive.action", "missing")
    elif kind in _ACTIONS:
        _ACTIONS[kind](f, action)


def _template(f: _Findings, kind: str, obj: Mapping[str, Any]) -> None:
    f.text("template.name", obj.get("name"), "template.name")
    language = obj.get("language")
    if not (isinstance(language, Mapping) and isinstance(language.get("code"), str)):
        f.add("template.language.code", "missing")


def _text(f: _Findings, kind: str, obj: Mapping[str, Any]) -> None:
    f.text("text.body", obj.get("body"), "text.body")
    if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
        f.add("text.preview_url", "must be a boolean")


#: The checks of each message type's object; other types need only their object (location, reaction).
_BY_TYPE: Mapping[str, Callable[[_Findings, str, Mapping[str, Any]], None]] = {
    "text": _text,
    "interactive": lambda f, kind, obj: _interactive(f, obj),
    "template": _template,
    **{kind: lambda f, kind, obj: _media(f, kind, obj, kind) for kind in _MEDIA},
}


def _object_of_type(f: _Findings, message: Any) -> tuple[str, Any] | None:
    """(type, the object it names) when the message has both; else None, with the reason noted."""
    kind = message.get("type") if isinstance(message, Mapping) else None
    if not isinstance(message, Mapping):
        f.add("message", "must be an object")
    elif not isinstance(kind, str) or not kind:
        f.add("type", "missing")
    elif kind not in message:
        f.add(kind, f"the object for type {kind!r} is missing")
    elif kind == "contacts" and not (isinstance(message[kind], list) and message[kind]):
        f.add(kind, "must be a non-empty list")
    elif kind != "contacts" and not isinstance(message[kind], Mapping):
        f.add(kind, "must be an object")
    else:
        return kind, message[kind]
    return None


def outbound_problems(message: Any) -> list[str]:
    """Everything Meta would refuse in one message object (without ``to``/``recipient``).

    Empty means the stand-in accepts it. Types the channel never sends (location, reaction,
    contacts) are only checked for their object.
    """
    findings = _Findings()
    typed = _object_of_type(findings, message)
    if typed is not None and typed[0] in _BY_TYPE:
        _BY_TYPE[typed[0]](findings, *typed)
    return findings.problems
