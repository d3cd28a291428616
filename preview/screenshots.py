"""The screenshots of docs/designing-for-whatsapp.md, taken from the preview (issue 15, item 7).

    python -m preview.screenshots [--out docs/images/preview] [--model models/current.tar.gz]

Starts the whole assistant on loopback with the preview (harness.local_stack.LocalStack with
``preview=True``), drives the chat page in headless Chromium (Debian's, harness/chromium.py) and
saves one PNG per rendering rule of the designer page, each a phone column of about 420 x 800
pixels. Why from the preview and not drawn by hand: a screenshot that is produced by a command
is produced again when the renderer or the wording changes, so the page never shows an answer
the assistant no longer gives.

Two kinds of pictures:

- the assistant's own answers (``chat-*``): typed and tapped in the chat page, as a designer
  would; the bubbles are what the Graph API stand-in accepted from the channel;
- the examples the page itself uses (``rule-*``: a long button title, more than ten choices, long
  texts, a picture, a document, link buttons), which the job assistant never sends: each is
  rendered by the channel's renderer (connectors.whatsapp.render.render_response, the code that
  sends real answers) and drawn by the preview's renderer (preview/static/whatsapp.js) in a
  phone column of the preview's own page;
- the gallery's warnings (``gallery-warnings.png``).

Nothing is loaded from outside 127.0.0.1 (media are placeholders in the preview).
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from harness.chromium import chromium_missing, launch_chromium
from harness.local_stack import LocalStack, StackError

__all__ = ["DEFAULT_OUT", "RULE_EXAMPLES", "main", "take_screenshots"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "images" / "preview"
TURN_MS = 60_000
#: Wide enough for the chat page's two sessions; each picture is one phone column of it.
PAGE_VIEWPORT = {"width": 1400, "height": 800}
PHONE_COLUMN = {"width": 400, "height": 780}

_LONG_PARAGRAPH = (
    "Hier sind alle Angaben zu deiner Suche, damit du sie in Ruhe prüfen kannst. Die Stellen kommen aus "
    "den Angeboten unserer Partner und werden jeden Morgen neu geladen. "
)

#: docs/designing-for-whatsapp.md's examples the job assistant does not send itself: picture name ->
#: the Rasa bot messages (as a response in domain.yml gives them to the channel).
RULE_EXAMPLES: Dict[str, List[Mapping[str, Any]]] = {
    "rule-text-formatting": [{
        "text": "*Fett*, _kursiv_, ~durchgestrichen~ und ```Code```.\nMehr: https://example.org/datenschutz",
    }],
    "rule-long-button-title": [{
        "text": "Welche Arbeitszeit suchst du?",
        "buttons": [
            {"title": "Vollzeit", "payload": "/inform{\"working_time\":\"vollzeit\"}"},
            {"title": "Teilzeit oder Minijob, beides ist möglich", "payload": "/inform{\"working_time\":\"teilzeit\"}"},
            {"title": "Egal", "payload": "/inform{\"working_time\":\"egal\"}"},
        ],
    }],
    "rule-more-than-ten": [{
        "text": "In welcher Stadt?",
        "buttons": [{"title": city, "payload": city} for city in (
            "Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Leipzig",
            "Dortmund", "Essen", "Bremen", "Dresden", "Hannover", "Nürnberg")],
    }],
    "rule-long-text-split": [{"text": (_LONG_PARAGRAPH * 24 + "\n\n") * 2 + "Das war alles."}],
    "rule-long-text-with-buttons": [{
        "text": _LONG_PARAGRAPH * 9 + "\n\nWas möchtest du tun?",
        "buttons": [{"title": "Mehr Ergebnisse", "payload": "/more_results"},
                    {"title": "Neue Suche", "payload": "/new_search"}],
    }],
    "rule-image": [{"text": "So findest du uns.", "image": "https://example.org/images/map.png"}],
    "rule-document": [{"text": "Hier unsere Datenschutzhinweise als PDF.",
                       "attachment": "https://example.org/files/Datenschutzhinweise.pdf"}],
    "rule-link-buttons": [
        {"text": "Die vollständige Anzeige findest du hier.",
         "buttons": [{"title": "Anzeige öffnen", "url": "https://example.org/job/abc"}]},
        {"text": "Ein Knopf mit langem Titel wird auf 20 Zeichen gekürzt.",
         "buttons": [{"title": "Die vollständige Anzeige öffnen", "url": "https://example.org/job/abc"}]},
    ],
}
#: The examples whose list the picture shows opened.
_OPEN_LIST = {"rule-long-button-title", "rule-more-than-ten"}
#: The examples whose picture centres on where one message ends and the next begins (else: the end).
_SHOW_SEAM = {"rule-long-text-split"}


async def _render_all(messages: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
    from connectors.whatsapp.render import render_response

    id_map = InMemoryPayloadIdMap()
    rendered: List[Dict[str, Any]] = []
    for message in messages:
        rendered += await render_response(message, id_map=id_map, language="de")
    return rendered


# A phone column on the preview's own page (its stylesheet), holding bubbles drawn by whatsapp.js.
_DRAW_PHONE = """
([messages, column, seam]) => {
  document.body.className = "chat-page";
  document.body.textContent = "";
  const phone = document.createElement("div");
  phone.className = "phone";
  phone.id = "shot";
  phone.style.width = column.width + "px";
  phone.style.height = column.height + "px";
  phone.style.margin = "8px";
  const list = document.createElement("div");
  list.className = "wa-messages";
  list.setAttribute("data-testid", "messages");
  list.style.position = "relative";
  phone.appendChild(list);
  document.body.appendChild(phone);
  const now = Date.now() / 1000;
  for (const message of messages) {
    list.appendChild(window.WhatsApp.render(message, {direction: "in", time: now, onTap: () => {}}));
  }
  list.scrollTop = seam && list.children.length > 1
    ? list.children[1].offsetTop - column.height / 2
    : list.scrollHeight;
}
"""


class _Shooter:
    """Saves the pictures into ``out``, remembering their names."""

    def __init__(self, page: Any, stack: LocalStack, out: Path) -> None:
        self.page, self.stack, self.out = page, stack, out
        self.saved: List[Path] = []

    def save(self, locator: Any, name: str) -> None:
        path = self.out / f"{name}.png"
        locator.screenshot(path=str(path), animations="disabled")
        self.saved.append(path)
        print(f"screenshots: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
              f"({path.stat().st_size // 1024} KB)")

    # -- the assistant's answers in the chat ---------------------------------------------------
    def chat(self) -> None:
        import httpx

        httpx.post(f"{self.stack.preview_url}/api/sessions/phone/reset", timeout=10).raise_for_status()
        page = self.page
        page.goto(self.stack.preview_url + "/")
        pane = page.locator('[data-session="phone"]')
        phone = pane.locator(".phone")
        _type(pane, "Hallo")
        _wait_bot(pane, "Blaupause-Jobassistent")
        _settle(page)
        self.save(phone, "chat-reply-buttons")
        pane.locator("[data-testid=reply-button]", has_text="Jobs suchen").last.click()
        _wait_bot(pane, "Als was möchtest du arbeiten")
        _settle(page)
        self.save(phone, "chat-list")
        pane.locator("[data-testid=list-open]").last.click()
        sheet = pane.locator("[data-testid=list-sheet]")
        sheet.wait_for()
        _settle(page)
        self.save(phone, "chat-list-sheet")
        sheet.locator("[data-testid=list-row]", has_text="Koch/Köchin").first.click()
        _wait_bot(pane, "Wo soll der Job sein")
        pane.locator("[data-testid=list-open]").last.click()
        sheet.locator("[data-testid=list-row]", has_text="Berlin").first.click()
        _wait_bot(pane, "Stellen für")
        _wait_bot(pane, "Neue Suche")
        _settle(page)
        self.save(phone, "chat-results")
        pane.locator("[data-testid=list-open]").last.click()
        sheet.wait_for()
        _settle(page)
        self.save(phone, "chat-results-cut-titles")

    # -- the page's own examples ---------------------------------------------------------------
    def rules(self, examples: Mapping[str, List[Dict[str, Any]]]) -> None:
        """``examples``: picture name -> the Graph API messages the channel rendered for it."""
        page = self.page
        for name, rendered in examples.items():
            page.goto(self.stack.preview_url + "/gallery")
            page.wait_for_function("() => window.WhatsApp && window.WhatsApp.render")
            page.evaluate(_DRAW_PHONE, [rendered, PHONE_COLUMN, name in _SHOW_SEAM])
            if name in _OPEN_LIST:
                page.locator("#shot [data-testid=list-open]").last.click()
                page.locator("#shot [data-testid=list-sheet]").wait_for()
            _settle(page)
            self.save(page.locator("#shot"), name)

    # -- the gallery ---------------------------------------------------------------------------
    def gallery(self) -> None:
        page = self.page
        page.goto(self.stack.preview_url + "/gallery")
        page.locator("[data-testid=response]").first.wait_for(timeout=TURN_MS)
        warned = page.locator("[data-testid=response]", has=page.locator("[data-testid=warning]")).first
        warned.scroll_into_view_if_needed()
        _settle(page)
        self.save(warned, "gallery-warnings")


def _type(pane: Any, text: str) -> None:
    pane.locator("[data-testid=composer]").fill(text)
    pane.locator("[data-testid=send]").click()


def _wait_bot(pane: Any, text: str) -> None:
    pane.locator('[data-testid=bubble][data-direction="in"]', has_text=text).last.wait_for(timeout=TURN_MS)


def _settle(page: Any) -> None:
    """Let the last bubbles, ticks and the scroll position come to rest before the picture."""
    page.wait_for_timeout(1500)


def take_screenshots(out: Path, model: Path, workdir: Path,
                     stack_factory: Callable[..., LocalStack] = LocalStack) -> List[Path]:
    """Start the stack with the preview, take every picture into ``out``; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    # Rendered first: Playwright's sync API runs its own event loop in this thread.
    examples = {name: asyncio.run(_render_all(messages)) for name, messages in RULE_EXAMPLES.items()}
    with stack_factory(workdir, model=model, preview=True) as stack, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport=PAGE_VIEWPORT, device_scale_factor=1, locale="de-DE")
            shooter = _Shooter(context.new_page(), stack, out)
            shooter.chat()
            shooter.rules(examples)
            shooter.gallery()
            return shooter.saved
        finally:
            browser.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz",
                        help="the trained model (`make train`)")
    args = parser.parse_args(argv)
    missing = chromium_missing()
    if missing:
        print(f"screenshots: {missing}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="preview-shots-"))
    try:
        saved = take_screenshots(args.out.resolve(), args.model, workdir)
    except StackError as error:
        print(f"screenshots: the assistant did not start: {error} (logs kept in {workdir})", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"screenshots: {len(saved)} pictures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
