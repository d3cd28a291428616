"""``MediaDownloader``: an inbound media id to its bytes, in memory, as Meta specifies.

Meta's two steps (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media):

1. ``GET /{version}/{media-id}?phone_number_id=<id>`` with the bearer token answers
   ``{"url", "mime_type", "sha256", "file_size", "id", "messaging_product"}``;
2. ``GET <url>`` with the same token answers the bytes; the URL is valid for five minutes.

Order of the checks, so that nothing unwanted is read: the announced mime base type and
``file_size`` before any download; the URL's host before the token is sent (policy.py); a
Content-Length over the cap before the body; the body in chunks, aborted as soon as it passes
the cap (never more than the cap plus one chunk in memory); the served Content-Type; the sha256.
Nothing is written to disk.

Failures (errors.py): 5xx, 429 and transport failures are retried with the channel's
``RetryPolicy`` (capped exponential backoff, full jitter; at most ``max_attempts`` requests per
step) but never past ``deadline_seconds`` from the call's start, so a voice turn stays inside the
webhook budget; every request's timeout is the smaller of ``GraphSettings.timeout`` and the time
left. An expired URL (404/410) gets one fresh info request and one more download. Graph error
families come from connectors/whatsapp/graph/errors.py (``error_class_for``), so the media
download and the sender agree on what is retryable.

Logs carry the step, the error class and the HTTP status only: never the media id, the URL,
the token or bytes.

HTTP goes through aiohttp directly (one session, made on first use and bound to the running
loop, TLS with certifi's CA bundle) like ``AiohttpTransport`` in
connectors/whatsapp/graph/transport.py; redirects are followed by hand, each target checked
like the URL itself.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import certifi
from yarl import URL

from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.errors import AuthenticationError, InvalidParameterError, error_class_for
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.media.errors import (
    MediaAuthError,
    MediaError,
    MediaIntegrityError,
    MediaNotFoundError,
    MediaTooLargeError,
    MediaTypeError,
    MediaUnavailableError,
    MediaURLRefusedError,
)
from connectors.whatsapp.media.policy import GENERIC_TYPES, UrlPolicy, announced_size, base_type, sha256_matches

__all__ = ["DEFAULT_ALLOWED_HOSTS", "MediaDownloader", "MediaFile"]

logger = logging.getLogger(__name__)

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("fbsbx.com", "facebook.com", "whatsapp.net")
"""Meta's media hosts (``lookaside.fbsbx.com`` today); subdomains are allowed too."""

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
_T = TypeVar("_T")


@dataclass(frozen=True)
class MediaFile:
    """Downloaded media, in memory only. ``mime_type`` is as Meta announced it
    (e.g. ``"audio/ogg; codecs=opus"``); ``size`` is ``len(content)``."""

    content: bytes = field(repr=False)
    mime_type: str
    size: int


@dataclass(frozen=True)
class _Info:
    url: str = field(repr=False)
    mime_type: str
    size: int | None
    sha256: str | None = field(repr=False)


class _Retry(Exception):
    """A retryable failure of one request (status None: no HTTP answer)."""

    def __init__(self, status: int | None) -> None:
        super().__init__(status)
        self.status = status


class _Expired(Exception):
    """The download URL answered 404/410: it expired (or the media was deleted)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Deadline:
    """The time left for one ``fetch``. A requested backoff counts as spent even when an injected
    ``sleep`` returns at once, so the budget holds in tests and in production alike."""

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._end = self._loop.time() + seconds

    def remaining(self) -> float:
        return self._end - self._loop.time()

    async def sleep(self, sleep: Callable[[float], Awaitable[Any]], seconds: float) -> None:
        started = self._loop.time()
        await sleep(seconds)
        self._end -= max(0.0, seconds - (self._loop.time() - started))


class MediaDownloader:
    """Fetches inbound media by id; one per channel, closed with ``aclose()`` (or ``async with``)."""

    def __init__(
        self,
        settings: GraphSettings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS,
    ) -> None:
        self._settings = settings
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._urls = UrlPolicy(settings.api_base_url, allowed_hosts)
        self._session: aiohttp.ClientSession | None = None

    async def fetch(
        self, media_id: str, *, allowed_types: frozenset[str], max_bytes: int, deadline_seconds: float
    ) -> MediaFile:
        """The media's bytes and announced mime type, or a :class:`MediaError` subclass.

        ``allowed_types`` are mime base types (``"audio/ogg"``; parameters are ignored),
        ``max_bytes`` the largest body accepted, ``deadline_seconds`` the whole call's budget.
        """
        if not media_id:
            raise MediaNotFoundError("media info: no media id")
        allowed = frozenset(base_type(kind) for kind in allowed_types)
        deadline = _Deadline(deadline_seconds)
        try:
            for round_ in (1, 2):
                info = await self._with_retries("media info", deadline, lambda timeout: self._info(media_id, timeout))
                _check_announced(info, allowed, max_bytes)
                if not self._urls.allows(info.url):
                    raise MediaURLRefusedError("media download: URL host not allowed")
                try:
                    content, served_type = await self._with_retries(
                        "media download", deadline, lambda timeout: self._download(info.url, max_bytes, timeout)
                    )
                except _Expired as expired:
                    if round_ == 1:
                        logger.info("media download: URL expired (HTTP %s), asking for a fresh one", expired.status)
                        continue
                    raise MediaNotFoundError(
                        f"media download: HTTP {expired.status} after a fresh URL", status=expired.status
                    ) from None
                return _checked_file(info, content, served_type, allowed)
        except MediaError as error:
            logger.warning("media fetch failed: %s (%s, HTTP %s)", type(error).__name__, error.reason, error.status)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- retries -----------------------------------------------------------------------------
    async def _with_retries(
        self, step: str, deadline: _Deadline, request: Callable[[float], Awaitable[_T]]
    ) -> _T:
        attempt = 0
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise MediaUnavailableError(f"{step}: deadline spent", attempts=attempt)
            attempt += 1
            try:
                return await request(min(self._settings.timeout, remaining))
            except _Retry as failure:
                status = failure.status
            if attempt >= self._retry.max_attempts:
                raise MediaUnavailableError(f"{step}: HTTP {status} after {attempt} attempts", status=status, attempts=attempt)
            delay = self._retry.delay(attempt, self._rng)
            if delay >= deadline.remaining():
                raise MediaUnavailableError(
                    f"{step}: HTTP {status}, deadline spent after {attempt} attempts", status=status, attempts=attempt
                )
            logger.info("%s: HTTP %s, retrying (attempt %d)", step, status, attempt)
            await deadline.sleep(self._sleep, delay)

    # -- the two requests ---------------------------------------------------------------------
    async def _info(self, media_id: str, timeout: float) -> _Info:
        settings = self._settings
        url = f"{settings.api_base_url}/{settings.api_version}/{quote(media_id, safe='')}"
        try:
            async with self._open_session().get(
                url,
                params={"phone_number_id": settings.phone_number_id},
                headers=self._headers(),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                status = answer.status
                body = await answer.read()
        except (asyncio.TimeoutError, aiohttp.ClientError):
            raise _Retry(None) from None
        decoded = _json(body)
        if status != 200:
            raise _graph_failure("media info", status, decoded)
        return _parse_info(decoded)

    async def _download(self, url: str, max_bytes: int, timeout: float) -> tuple[bytes, str | None]:
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self._open_session().get(
                    url, headers=self._headers(), allow_redirects=False, timeout=client_timeout
                ) as answer:
                    status = answer.status
                    if status in (301, 302, 303, 307, 308):
                        url = str(answer.url.join(URL(answer.headers.get("Location", ""))))
                        if not self._urls.allows(url):
                            raise MediaURLRefusedError("media download: redirect host not allowed", status=status)
                        continue
                    _check_download_status(status)
                    return await _read_capped(answer, max_bytes), answer.headers.get("Content-Type")
            except (asyncio.TimeoutError, aiohttp.ClientError):
                raise _Retry(None) from None
        raise MediaUnavailableError("media download: too many redirects")

    # -- session ------------------------------------------------------------------------------
    def _headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._settings.access_token}", "Accept-Encoding": "identity"}

    def _open_session(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop."""
        if self._session is None or self._session.closed:
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls), auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> MediaDownloader:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


# -- answers --------------------------------------------------------------------------------
def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _graph_failure(step: str, status: int, body: Any) -> Exception:
    """The error (or ``_Retry``) for a non-200 Graph answer, by Graph error family."""
    error = body.get("error") if isinstance(body, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    family = error_class_for(code if isinstance(code, int) else None, status)
    if family.retryable:
        return _Retry(status)
    if issubclass(family, AuthenticationError):
        return MediaAuthError(f"{step}: HTTP {status}, token refused", status=status)
    if issubclass(family, InvalidParameterError) or status in (404, 410):
        return MediaNotFoundError(f"{step}: HTTP {status}, no such media", status=status)
    return MediaUnavailableError(f"{step}: HTTP {status}", status=status)


def _parse_info(body: Any) -> _Info:
    if not isinstance(body, Mapping) or not isinstance(body.get("url"), str) or not isinstance(body.get("mime_type"), str):
        raise MediaUnavailableError("media info: answer without url or mime_type", status=200)
    sha256 = body.get("sha256")
    return _Info(
        url=body["url"],
        mime_type=body["mime_type"],
        size=announced_size(body.get("file_size")),
        sha256=sha256 if isinstance(sha256, str) and sha256 else None,
    )


def _check_announced(info: _Info, allowed: frozenset[str], max_bytes: int) -> None:
    if base_type(info.mime_type) not in allowed:
        raise MediaTypeError("media info: announced type not accepted")
    if info.size is not None and info.size > max_bytes:
        raise MediaTooLargeError("media info: announced size over the cap")


def _check_download_status(status: int) -> None:
    if status == 200:
        return
    if status in (404, 410):
        raise _Expired(status)
    if status in (401, 403):
        raise MediaAuthError(f"media download: HTTP {status}, token refused", status=status)
    if status == 429 or status >= 500:
        raise _Retry(status)
    raise MediaUnavailableError(f"media download: HTTP {status}", status=status)


async def _read_capped(answer: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, refused by Content-Length or aborted once more than ``max_bytes`` arrived."""
    encoding = answer.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise MediaTypeError("media download: encoded body not accepted", status=answer.status)
    if answer.content_length is not None and answer.content_length > max_bytes:
        raise MediaTooLargeError("media download: Content-Length over the cap", status=answer.status)
    chunks: list[bytes] = []
    received = 0
    async for chunk in answer.content.iter_chunked(CHUNK_BYTES):
        received += len(chunk)
        if received > max_bytes:
            raise MediaTooLargeError("media download: body over the cap", status=answer.status)
        chunks.append(chunk)
    return b"".join(chunks)


def _checked_file(info: _Info, content: bytes, served_type: str | None, allowed: frozenset[str]) -> MediaFile:
    if served_type:
        served = base_type(served_type)
        if served not in GENERIC_TYPES and served not in allowed:
            raise MediaTypeError("media download: served type not accepted")
    if info.sha256 is not None and not sha256_matches(info.sha256, content):
        raise MediaIntegrityError("media download: sha256 does not match")
    if info.sha256 is None and info.size is not None and info.size != len(content):
        raise MediaIntegrityError("media download: size does not match")
    return MediaFile(content=content, mime_type=info.mime_type, size=len(content))
