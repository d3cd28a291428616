"""serve_sanic/stop_sanic: an app served on loopback answers, and stops as Sanic stops it."""
from __future__ import annotations

import uuid

import httpx
import pytest
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, text

from tests.support.sanic_server import serve_sanic, stop_sanic


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sanic's start-up "touchup" rewrites methods once per process; test mode lets several
    # apps start in one test session (what sanic-testing does).
    monkeypatch.setattr(Sanic, "test_mode", True)


async def test_a_served_app_answers_until_it_is_stopped() -> None:
    app = Sanic("support_" + uuid.uuid4().hex[:8], configure_logging=False)

    @app.get("/ping")
    async def ping(request: Request) -> HTTPResponse:
        return text("pong")

    server, base_url = await serve_sanic(app)
    try:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            response = await client.get(base_url + "/ping")
        assert response.status_code == 200 and response.text == "pong"
    finally:
        await stop_sanic(server)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(base_url + "/ping")
