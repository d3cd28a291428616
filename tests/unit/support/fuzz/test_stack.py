"""The running-stack helpers that need no stack: posting, log scanning, report and settings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import Phase

from harness import at_rest
from harness.webhook_sender import SIGNATURE_HEADER, sign
from tests.support.fuzz.accounting import Tally
from tests.support.fuzz.stack import KNOWN_LEAK_MARKER, Fuzz, hypothesis_settings, kinds_text, report, save_failures, scan_logs


class FakeStack:
    app_secret = "s3cret"
    rasa_ports = [4711]

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = workdir

    def webhook_url(self) -> str:
        return "http://127.0.0.1:4711/webhooks/whatsapp/webhook"


def _fuzz(handler: Any, workdir: Path | None = None) -> Fuzz:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Fuzz(FakeStack(workdir), redis=None, keyring=None, http=client, keys_before=frozenset())  # type: ignore[arg-type]


def test_post_returns_the_status_and_none_when_the_connection_breaks() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(403)

    assert _fuzz(answer).post(b"{}", [(b"X-A", b"1")]) == 403
    assert seen[0].headers["x-a"] == "1" and seen[0].content == b"{}"

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset", request=request)

    assert _fuzz(broken).post(b"{}", []) is None


def test_signed_headers_carry_the_stacks_signature_and_the_port_is_the_first_instance() -> None:
    fuzz = _fuzz(lambda request: httpx.Response(200))
    assert (SIGNATURE_HEADER.encode(), sign("s3cret", b"body").encode()) in fuzz.signed(b"body")
    assert fuzz.port == 4711
    assert "webhooks/whatsapp" in repr(fuzz)


def test_scan_logs_reports_words_in_the_known_leak_apart_but_numbers_everywhere(tmp_path: Path) -> None:
    log = tmp_path / "rasa0.log"
    log.write_bytes(b"ok line\n" + KNOWN_LEAK_MARKER + b" KeyError slot=Quedlinburg from 4915550009101\n"
                    + b"plain Glasblaeserin\n")
    identity = at_rest.needles(["4915550009101"])
    words = at_rest.needles(["Quedlinburg", "Glasblaeserin"])
    findings, known = scan_logs([log], identity, words)
    assert {f.needle for f in findings} == {"4915550009101", "Glasblaeserin"}
    assert {f.needle for f in known} == {"Quedlinburg"}


def test_hypothesis_settings_of_a_part() -> None:
    chosen = hypothesis_settings(123)
    assert chosen.max_examples == 123 and chosen.database is None and chosen.deadline is None
    assert Phase.shrink not in chosen.phases  # an unexpected answer is recorded, not shrunk


def test_kinds_text_and_failures_file(tmp_path: Path) -> None:
    tally = Tally("bodies")
    tally.record("deep", b"[]", 400, {400})
    tally.record("deep", b"[]", 500, {400})
    tally.record("minimal", b"{}", 200, {200})
    assert kinds_text(tally) == "deep 2, minimal 1"
    message = save_failures(_fuzz(lambda r: httpx.Response(200), tmp_path), tally)
    assert (tmp_path / "failures-bodies.jsonl").read_text().count("\n") == 1 and "failures-bodies.jsonl" in message


def test_report_prints_past_the_capture(capsys: pytest.CaptureFixture) -> None:
    report(capsys, "fuzz part: a line")
    assert "fuzz part: a line" not in capsys.readouterr().out  # written to the terminal directly
