"""A real browser for the preview's tests: Debian's Chromium driven by Playwright (issue 15, item 5).

The launch itself is harness/chromium.py (shared with the documentation's screenshots). Here:
the gate (no Chromium or no Playwright: skip with how to install it; under ``CI=true`` fail,
because CI must run these tests, like tests/support/servers.py does for the servers), a browser
per test module, and a fresh page per test that records every request it makes and leaves a
screenshot of how the test ended in ``results/screenshots/<test name>.png`` (results/ is
git-ignored; CI keeps it as the test output).

The fixtures are brought into a test folder by its conftest.py (tests/browser/conftest.py).
"""
from __future__ import annotations

import re
from typing import Iterator, List

import pytest

from harness.chromium import chromium_missing, launch_chromium
from tests.support.paths import REPO_ROOT
from tests.support.servers import in_ci

__all__ = ["SCREENSHOTS", "require_chromium", "chromium_browser", "page", "seen_requests", "screenshot"]

SCREENSHOTS = REPO_ROOT / "results" / "screenshots"
#: The page of a browser test: room for both chat sessions and the inspector.
DESKTOP_VIEWPORT = {"width": 1400, "height": 900}
_REQUESTS = pytest.StashKey[List[str]]()


def require_chromium() -> None:
    """Skip (fail under CI=true) with how to install it when Chromium or Playwright is missing."""
    missing = chromium_missing()
    if missing is None:
        return
    if in_ci():
        pytest.fail(missing + " (CI must run the browser tests: scripts/ensure_services.sh installs Chromium)")
    pytest.skip(missing)


def screenshot(page, name: str) -> None:
    """Save the whole page as ``results/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"), full_page=True)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[object]:
    """One headless Chromium for the module's tests (a launch takes about a second)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page (own cookies and storage); afterwards its screenshot, also when the test failed."""
    context = chromium_browser.new_context(viewport=DESKTOP_VIEWPORT, locale="de-DE")
    requests: List[str] = []
    context.on("request", lambda sent: requests.append(sent.url))
    request.node.stash[_REQUESTS] = requests
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        try:
            screenshot(tab, request.node.name)
        finally:
            context.close()


@pytest.fixture
def seen_requests(page, request: pytest.FixtureRequest) -> List[str]:
    """Every URL the test's page requested so far (a live list: read it at the end of the test)."""
    return request.node.stash[_REQUESTS]
