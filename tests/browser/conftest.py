"""Fixtures of the browser tests: Chromium, a page per test with its screenshot (tests/support/browser.py)."""
from tests.support.browser import chromium_browser, page, seen_requests  # noqa: F401  (fixtures)
