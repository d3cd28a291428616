"""connectors/whatsapp/framing.py: malformed HTTP framing gets 400 (RFC 9112 section 6.3), not
Sanic 21.12's 500, while errors raised inside a route keep Sanic's own handling; each such 400
is counted (``outcome="bad_framing"``).

Raw sockets, because a well-behaved client (httpx) cannot send a lying Content-Length.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sanic import Sanic, response
from sanic.request import Request

from tests.support.metrics import Delta
from tests.support.sanic_server import serve_sanic, stop_sanic
from connectors.whatsapp.framing import install_framing_guard
from connectors.whatsapp.webhook_metrics import count_bad_framing


def make_app(*, guarded: bool = True) -> Sanic:
    app = Sanic("framing_" + uuid.uuid4().hex[:10], configure_logging=False)

    @app.post("/echo")
    async def echo(request: Request) -> Any:
        return response.text(f"got {len(request.body)} bytes")

    @app.post("/broken")
    async def broken(request: Request) -> Any:
        raise ValueError("a bug inside a route")

    @app.get("/lookup")
    async def lookup(request: Request) -> Any:
        return response.text({}["missing"])  # KeyError inside a route

    if guarded:
        install_framing_guard(app)
    return app


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sanic's start-up "touchup" rewrites methods once per process; test mode lets several
    # apps start in one test session (what sanic-testing does).
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
async def base() -> AsyncIterator[tuple[str, int]]:
    server, url = await serve_sanic(make_app())
    host, port = url.removeprefix("http://").split(":")
    try:
        yield host, int(port)
    finally:
        await stop_sanic(server)


async def exchange(address: tuple[str, int], head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send one raw request; (status, response body)."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(65536), timeout=5)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def post(content_headers: str, path: str = "/echo") -> str:
    return f"POST {path} HTTP/1.1\nHost: localhost\nConnection: close\n{content_headers}\n"


async def test_well_formed_requests_pass_untouched(base: tuple[str, int]) -> None:
    assert await exchange(base, post("Content-Length: 5"), b"hello") == (200, b"got 5 bytes")
    chunked = post("Transfer-Encoding: chunked")
    assert await exchange(base, chunked, b"5\r\nhello\r\n0\r\n\r\n") == (200, b"got 5 bytes")


@pytest.mark.parametrize("value", ["abc", "1.5", "5 5", "0x10", ""])
async def test_a_content_length_that_is_not_a_number_is_a_bad_request(base: tuple[str, int], value: str) -> None:
    status, body = await exchange(base, post(f"Content-Length: {value}"), b"hello")
    assert status == 400
    assert b"malformed Content-Length or Transfer-Encoding" in body


@pytest.mark.parametrize("value", ["gzip", "identity", "chunked, gzip"])
async def test_a_transfer_encoding_other_than_chunked_is_a_bad_request(base: tuple[str, int], value: str) -> None:
    status, body = await exchange(base, post(f"Transfer-Encoding: {value}"), b"5\r\nhello\r\n0\r\n\r\n")
    assert status == 400
    assert b"malformed" in body


def bad_framing(method: str = "other") -> Delta:
    return Delta("blaupause_webhook_requests_total", method=method, outcome="bad_framing", status="400")


async def test_every_framing_refusal_is_counted_and_nothing_else(base: tuple[str, int]) -> None:
    refused = bad_framing()
    assert (await exchange(base, post("Content-Length: abc"), b"hello"))[0] == 400
    assert (await exchange(base, post("Transfer-Encoding: gzip"), b"5\r\nhello\r\n0\r\n\r\n"))[0] == 400
    assert (await exchange(base, post("Content-Length: 5"), b"hello"))[0] == 200
    assert (await exchange(base, post("Content-Length: 2", "/broken"), b"{}"))[0] == 500
    assert refused() == 2  # Sanic had not parsed the method yet: "other"


def test_the_method_label_stays_in_its_vocabulary() -> None:
    post_, other = bad_framing("POST"), bad_framing()
    for method in ("POST", "NONE", "BREW", None):
        count_bad_framing(method)
    assert (post_(), other()) == (1, 3)


async def test_errors_inside_a_route_keep_sanics_handling(base: tuple[str, int]) -> None:
    assert (await exchange(base, post("Content-Length: 2", "/broken"), b"{}"))[0] == 500
    assert (await exchange(base, "GET /lookup HTTP/1.1\nHost: localhost\nConnection: close\n"))[0] == 500


async def test_without_the_guard_sanic_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    """The reason the guard exists: Sanic 21.12 itself turns this framing into a 500."""
    caplog.set_level(logging.CRITICAL)
    server, url = await serve_sanic(make_app(guarded=False))
    host, port = url.removeprefix("http://").split(":")
    try:
        assert (await exchange((host, int(port)), post("Content-Length: abc"), b"hello"))[0] == 500
    finally:
        await stop_sanic(server)


async def test_the_refusal_is_logged_without_request_content(
    base: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.whatsapp.framing")
    await exchange(base, post("Content-Length: 4915550000001abc"), b"Erika")
    messages = [record.getMessage() for record in caplog.records if record.name == "connectors.whatsapp.framing"]
    assert messages == ["request refused: malformed HTTP framing (ValueError)"]
    assert not any("4915550000001" in text or "Erika" in text for text in caplog.messages)


def test_installing_twice_registers_the_handler_once() -> None:
    app = make_app(guarded=False)
    install_framing_guard(app)
    assert app.ctx.blaupause_framing_guard is True
    calls: list[Any] = []
    original = app.error_handler.add
    app.error_handler.add = lambda *args, **kwargs: calls.append(args)  # type: ignore[method-assign]
    try:
        install_framing_guard(app)
    finally:
        app.error_handler.add = original  # type: ignore[method-assign]
    assert calls == []
