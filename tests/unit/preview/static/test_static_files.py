"""Static checks of the preview's pages (preview/static/): no browser needed.

Why: the browser tests select by the data-testid names of the preview contract, so a renamed
name breaks them far from its cause; the pages must load nothing from the internet (issue 15,
item 4); and message texts come from users and from domain.yml, so they must never reach the
DOM as HTML (a response containing "<img onerror=...>" would run). These checks read the files
as text: fast, and they fail on the first regression.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[4] / "preview" / "static"
PAGES = ("index.html", "gallery.html")
SCRIPTS = ("whatsapp.js", "chat.js", "gallery.js")
ALL_FILES = PAGES + SCRIPTS + ("style.css",)

# The DOM contract: chat page, inspector and gallery (data-testid values the browser tests use).
CHAT_TESTIDS = (
    "composer", "send", "bubble", "ticks", "reply-button", "list-open", "list-sheet", "list-row",
    "cta-url", "media-image", "media-document", "typing", "attach", "location-preset",
    "send-image", "reset", "inspector", "turn",
)
GALLERY_TESTIDS = ("response", "warning", "used-by", "gallery-filter", "gallery-language")
CLASSES = (
    "bubble-text", "bubble-time", "section-title", "row-title", "row-description",
    "intent", "confidence", "entities", "slots", "actions", "payloads",
)
# The only absolute URL allowed: the SVG namespace, an identifier that is never fetched.
ALLOWED_URLS = {"http://www.w3.org/2000/svg"}


def _text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _testids(*names: str) -> set[str]:
    found: set[str] = set()
    for name in names:
        text = _text(name)
        found |= set(re.findall(r"""data-testid=["']?([\w-]+)""", text))
        found |= set(re.findall(r"""["']data-testid["']\s*,\s*["']([\w-]+)["']""", text))
        # chat.js: button(className, label, testid)
        found |= set(re.findall(r"""\bbutton\(["'][^"']*["'],\s*[^,()]+,\s*["']([\w-]+)["']\)""", text))
    return found


def _strip_js_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def test_all_files_exist():
    missing = [name for name in ALL_FILES if not (STATIC / name).is_file()]
    assert missing == []


@pytest.mark.parametrize("testid", CHAT_TESTIDS)
def test_chat_page_names_every_testid_of_the_contract(testid):
    assert testid in _testids("index.html", "whatsapp.js", "chat.js")


@pytest.mark.parametrize("testid", GALLERY_TESTIDS)
def test_gallery_page_names_every_testid_of_the_contract(testid):
    assert testid in _testids("gallery.html", "gallery.js")


@pytest.mark.parametrize("name", CLASSES)
def test_contract_classes_are_set_by_the_scripts(name):
    scripts = "".join(_text(s) for s in SCRIPTS)
    assert re.search(r"""["'](?:[\w-]+ )*%s(?: [\w-]+)*["']""" % re.escape(name), scripts)


@pytest.mark.parametrize("name", ALL_FILES)
def test_nothing_is_loaded_from_another_host(name):
    text = _text(name)
    # Absolute URLs, and protocol-relative ones as an attribute or url() would hold them.
    urls = set(re.findall(r"""https?://[\w.-]+[^\s"'()<>]*|(?<=["'(])//[\w.-]+\.[a-z]{2,}[^\s"'()<>]*""", text, flags=re.I))
    assert urls <= ALLOWED_URLS, f"{name} names {sorted(urls - ALLOWED_URLS)}"
    assert "@import" not in text and "@font-face" not in text


@pytest.mark.parametrize("page", PAGES)
def test_pages_load_only_local_scripts_and_styles(page):
    text = _text(page)
    sources = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)["']""", text)
    assert sources, "a page without its scripts"
    assert all(src.startswith("/static/") for src in sources), sources


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_never_write_html(script):
    code = _strip_js_comments(_text(script))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, f"{script} uses {sink}"


def test_the_renderer_exposes_the_contract_api():
    code = _text("whatsapp.js")
    assert re.search(r"window\.WhatsApp\s*=\s*\{[^}]*\brender: render\b[^}]*\bformat: format\b", code)
    for script in ("chat.js", "gallery.js"):
        assert "WhatsApp.render" in _text(script) or "WA.render(" in _text(script)
    for page, script in (("index.html", "chat.js"), ("gallery.html", "gallery.js")):
        html = _text(page)
        assert html.index("/static/whatsapp.js") < html.index(f"/static/{script}")


def test_the_phone_uses_the_whatsapp_words():
    # The phone is German like the assistant's default language: "schreibt…" while typing.
    assert "schreibt…" in _text("chat.js")
