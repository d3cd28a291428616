"""A Sanic app served in-process on a free loopback port, started and stopped as `rasa run` does."""
from __future__ import annotations

import socket
from typing import Any


async def serve_sanic(app: Any) -> tuple[Any, str]:
    """Start a Sanic app on a free loopback port (as `rasa run` would); (server, base URL)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    return server, f"http://127.0.0.1:{port}"


async def stop_sanic(server: Any) -> None:
    """Stop a server started with :func:`serve_sanic` the way Sanic stops it."""
    await server.before_stop()
    closing = server.close()
    if closing is not None:
        await closing
    await server.after_stop()
