"""serve_sanic/stop_sanic: an app served on loopback answers, and stops as Sanic stops it."""
from __future__ import annotations

import uuid

import httpx
from sanic import Sanic
from sanic.response import text

from tests.support.sanic_server import serve_sanic, stop_sanic


async def test_a_served_app_answers_until_it_is_stopped() -> None:
    app = Sanic("support_" + uuid.uuid4().hex[:8])
    app.add_route(lambda request: text("pong"), "/ping")
    server, base_url = await serve_sanic(app)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(base_url + "/ping")
        assert response.status_code == 200 and response.text == "pong"
        assert base_url.startswith("http://127.0.0.1:")
    finally:
        await stop_sanic(server)
