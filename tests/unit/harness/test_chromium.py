"""harness/chromium.py: Debian's Chromium, launched headless with the quiet flags, or a reason why not."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from harness import chromium


def test_a_missing_browser_is_named_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chromium, "CHROMIUM", tmp_path / "chromium")
    reason = chromium.chromium_missing()
    assert reason is not None and "apt-get install chromium chromium-driver" in reason


def test_a_file_that_cannot_run_is_no_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setattr(chromium, "CHROMIUM", fake)
    assert chromium.chromium_missing() is not None
    fake.chmod(0o755)
    assert chromium.chromium_missing() is None


def test_the_launch_is_headless_on_the_system_browser_without_background_networking(monkeypatch: pytest.MonkeyPatch) -> None:
    launched: Dict[str, Any] = {}

    class FakeType:
        def launch(self, **options: Any) -> str:
            launched.update(options)
            return "browser"

    class FakePlaywright:
        chromium = FakeType()

    assert chromium.launch_chromium(FakePlaywright(), slow_mo=0) == "browser"
    assert launched["executable_path"] == str(chromium.CHROMIUM) and launched["headless"] is True
    for flag in ("--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-sandbox"):
        assert flag in launched["args"]
    assert launched["slow_mo"] == 0
