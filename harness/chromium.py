"""Debian's Chromium under Playwright: the one place that launches it.

Used by the browser tests (tests/support/browser.py) and by the documentation's screenshots
(preview/screenshots.py). Why Debian's browser and not Playwright's own download: nothing is
downloaded at install time (issue 15, item 5); CI installs the distribution's ``chromium``
package (scripts/ensure_services.sh) and Playwright drives it over the DevTools protocol.
Why the flags: without the background-networking ones Chromium reaches out to Google's hosts
(component updates, sync, field trials) on start, which on a closed network only costs time and
on an open one leaks that the tests ran; the preview itself lives on 127.0.0.1 only.
Playwright's launch options: https://playwright.dev/python/docs/api/class-browsertype#browser-type-launch
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

__all__ = ["CHROMIUM", "LAUNCH_ARGS", "PHONE_VIEWPORT", "chromium_missing", "launch_chromium"]

#: Debian's package puts its launcher here; ``CHROMIUM_PATH`` points elsewhere (e.g. macOS).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LAUNCH_ARGS = (
    "--no-sandbox",  # containers and CI runners as root have no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)
#: About one phone column: what the screenshots show and the tests see.
PHONE_VIEWPORT = {"width": 420, "height": 800}


def chromium_missing() -> Optional[str]:
    """Why the browser cannot be launched here (Playwright or Chromium missing), or None."""
    try:
        import playwright.sync_api  # noqa: F401  (only the question whether it is installed)
    except ImportError:
        return "Playwright for Python is not installed: run `make setup` (it is pinned in requirements.lock)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (f"Chromium is not installed at {CHROMIUM}: `sudo apt-get install chromium chromium-driver` "
                "(or set CHROMIUM_PATH)")
    return None


def launch_chromium(playwright: Any, **options: Any) -> Any:
    """A headless Chromium from ``playwright.chromium`` (a ``sync_playwright()`` instance)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(LAUNCH_ARGS), **options
    )
