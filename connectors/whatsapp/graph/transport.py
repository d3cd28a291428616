"""The httpx transports under pywa: where the Graph API requests really go, and how.

Why here and not in the client: pywa 4.5 (``pywa_async.WhatsApp``) owns the URL layout and
needs an ``httpx.AsyncClient``, but it hard-codes ``https://graph.facebook.com`` as the
session's base URL. Two concerns therefore live below httpx, each in one transport:

- :class:`BaseURLTransport` points pywa's requests at another ``api_base_url`` (the local
  Meta stand-in, standins/meta_graph/, or a reverse proxy with a path prefix).
- :class:`AiohttpTransport` carries the bytes through aiohttp, which costs less CPU per call
  than httpx's own HTTP stack (measured in docs/graph-client.md).

httpx transports: https://www.python-httpx.org/advanced/transports/
"""
from __future__ import annotations

import asyncio
import ssl

import aiohttp
import certifi
import httpx

__all__ = ["PYWA_HOST", "BaseURLTransport", "AiohttpTransport"]

PYWA_HOST = "graph.facebook.com"
"""The host pywa addresses every request to (``pywa.client.WhatsApp`` builds its session on it)."""


class BaseURLTransport(httpx.AsyncBaseTransport):
    """Sends requests that pywa addresses to graph.facebook.com to ``base_url`` instead.

    pywa sets ``session.base_url = "https://graph.facebook.com/v{version}"`` when the client is
    built, so the override has to happen below it. Scheme, host, port and an optional path
    prefix of ``base_url`` replace those of the request; path and query are kept.
    """

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        target = httpx.URL(base_url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"api_base_url must be an absolute http(s) URL, got {base_url!r}")
        self._target = target
        self._prefix = target.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == PYWA_HOST:
            request.url = request.url.copy_with(
                scheme=self._target.scheme,
                host=self._target.host,
                port=self._target.port,
                raw_path=self._prefix + request.url.raw_path,
            )
            request.headers["Host"] = request.url.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """The innermost transport: each request pywa builds on httpx is sent through one aiohttp session.

    Why: pywa needs an ``httpx.AsyncClient``, but below it httpx's own HTTP stack (httpcore
    on anyio and h11) costs the Rasa process about 1.7 ms more CPU per Graph API call than
    aiohttp (4.0 against 2.3 ms per ``GraphClient.send`` to the stand-in on the 2-core
    benchmark machine), and a turn makes two to three calls (read receipt, replies).
    aiohttp is already there: Rasa uses it for its own HTTP calls. Everything above the
    transport stays httpx's: URL, headers, body, the error hook, the per-request timeouts.
    Transport failures become httpx's exceptions, so the retry loop sees what it did before.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop.

        TLS trusts certifi's CA bundle, the one httpx's own transport uses.
        """
        if self._session is None or self._session.closed:
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls), auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        try:
            async with self._open_session().request(
                request.method,
                str(request.url),
                headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
                data=body or None,
                allow_redirects=False,
                timeout=_aiohttp_timeout(request),
            ) as answer:
                content = await answer.read()
        except asyncio.TimeoutError as error:  # aiohttp's ServerTimeoutError is one as well
            raise httpx.TimeoutException(f"timed out: {type(error).__name__}", request=request) from error
        except aiohttp.ClientConnectorError as error:
            raise httpx.ConnectError(str(error), request=request) from error
        except aiohttp.ClientError as error:
            raise httpx.NetworkError(f"{type(error).__name__}: {error}", request=request) from error
        return httpx.Response(
            answer.status, headers=answer.raw_headers, stream=httpx.ByteStream(content), request=request
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _aiohttp_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts (connect, read) in aiohttp's terms."""
    timeouts = request.extensions.get("timeout", {})
    return aiohttp.ClientTimeout(total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read"))
