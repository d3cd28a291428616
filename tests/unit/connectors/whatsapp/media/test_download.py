"""MediaDownloader against the Meta stand-in (and tiny fake hosts) on loopback."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable

import pytest
from aiohttp import web

from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.media.download import MediaDownloader, MediaFile
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
from standins.meta_graph import MetaGraphStandIn

VOICE = b"OggS" + bytes(range(256)) * 40  # 10 KiB that look like nothing in particular
VOICE_MIME = "audio/ogg; codecs=opus"
AUDIO = frozenset({"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"})
CAP = 16 * 1024 * 1024


class SleepRecorder:
    """Stands in for asyncio.sleep: records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def make_downloader(sleeps):
    made: list[MediaDownloader] = []

    def make(base_url: str, *, token: str = "standin-access-token", retry: RetryPolicy | None = None, timeout: float = 5.0):
        settings = GraphSettings(
            access_token=token, phone_number_id="100000000000001", api_base_url=base_url, timeout=timeout
        )
        downloader = MediaDownloader(
            settings, retry=retry or RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.2), sleep=sleeps, rng=random.Random(7)
        )
        made.append(downloader)
        return downloader

    yield make
    for downloader in made:
        await downloader.aclose()


async def _fetch(downloader: MediaDownloader, media_id: str, **options) -> MediaFile:
    options = {"allowed_types": AUDIO, "max_bytes": CAP, "deadline_seconds": 5.0, **options}
    return await downloader.fetch(media_id, **options)


class FakeHost:
    """A tiny Graph + media host whose answers a test controls, recording what it received."""

    def __init__(self) -> None:
        self.info: Callable[[str], dict] = lambda base: {}
        self.download: Callable[[web.Request], web.StreamResponse] | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers)))
        if request.path.startswith("/v26.0/"):
            return web.json_response(self.info(self.base_url))
        if self.download is None:
            return web.Response(status=404)
        return await self.download(request)

    async def __aenter__(self) -> FakeHost:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


def _info(url: str, *, mime: str = VOICE_MIME, size: object = None, content: bytes = VOICE) -> dict:
    return {
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": mime,
        "sha256": hashlib.sha256(content).hexdigest(),
        "file_size": len(content) if size is None else size,
        "id": "123456789012345",
    }


# -- success ------------------------------------------------------------------------------------
async def test_fetches_the_bytes_and_the_announced_mime_type(standin, make_downloader, sleeps):
    media_id = standin.add_media(VOICE, VOICE_MIME)

    media = await _fetch(make_downloader(standin.base_url), media_id)

    assert media == MediaFile(content=VOICE, mime_type=VOICE_MIME, size=len(VOICE))
    assert media.content == VOICE
    assert "content" not in repr(media) and "OggS" not in repr(media)
    assert standin.media_downloads == 1
    assert sleeps.delays == []


async def test_accepts_a_numeric_file_size_and_an_allowed_type_given_with_parameters(make_downloader):
    async with FakeHost() as host:
        host.info = lambda base: _info(f"{base}/media/1", size=len(VOICE))
        host.download = lambda request: _bytes(VOICE, "audio/ogg")

        media = await _fetch(make_downloader(host.base_url), "1", allowed_types=frozenset({"Audio/Ogg; codecs=opus"}))

    assert media.content == VOICE


async def _bytes(content: bytes, content_type: str) -> web.Response:
    return web.Response(body=content, headers={"Content-Type": content_type})


async def test_the_sha256_is_verified(standin, make_downloader):
    media_id = standin.add_media(VOICE, VOICE_MIME, sha256=hashlib.sha256(b"other").hexdigest())

    with pytest.raises(MediaIntegrityError) as caught:
        await _fetch(make_downloader(standin.base_url), media_id)
    assert caught.value.reason == "corrupt"


# -- refused before the download ------------------------------------------------------------------
async def test_a_type_not_allowed_is_refused_before_the_download(standin, make_downloader):
    media_id = standin.add_media(b"\x89PNG....", "image/png")

    with pytest.raises(MediaTypeError) as caught:
        await _fetch(make_downloader(standin.base_url), media_id)
    assert caught.value.reason == "unsupported_type"
    assert standin.media_downloads == 0


async def test_an_announced_size_over_the_cap_is_refused_before_the_download(standin, make_downloader):
    media_id = standin.add_media(VOICE, VOICE_MIME)

    with pytest.raises(MediaTooLargeError) as caught:
        await _fetch(make_downloader(standin.base_url), media_id, max_bytes=len(VOICE) - 1)
    assert caught.value.reason == "too_large"
    assert standin.media_downloads == 0


async def test_a_content_length_over_the_cap_is_refused(standin, make_downloader):
    media_id = standin.add_media(VOICE, VOICE_MIME, file_size=100)  # the info answer lies

    with pytest.raises(MediaTooLargeError, match="Content-Length"):
        await _fetch(make_downloader(standin.base_url), media_id, max_bytes=1000)


async def test_a_body_over_the_cap_without_content_length_is_aborted(make_downloader):
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(2000):  # 128 MB if nobody stopped reading
                await response.write(b"\0" * 65536)
                sent.append(65536)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async with FakeHost() as host:
        host.info = lambda base: _info(f"{base}/media/1", size=100)
        host.download = endless
        with pytest.raises(MediaTooLargeError, match="body over the cap"):
            await _fetch(make_downloader(host.base_url), "1", max_bytes=200_000)
    assert sum(sent) < 2000 * 65536


async def test_a_served_content_type_not_allowed_is_refused(make_downloader):
    async with FakeHost() as host:
        host.info = lambda base: _info(f"{base}/media/1")
        host.download = lambda request: _bytes(VOICE, "text/html")
        with pytest.raises(MediaTypeError, match="served type"):
            await _fetch(make_downloader(host.base_url), "1")


# -- missing and expired --------------------------------------------------------------------------
async def test_an_expired_url_is_fetched_anew_once(standin, make_downloader):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("download", 404)

    media = await _fetch(make_downloader(standin.base_url), media_id)

    assert media.content == VOICE
    assert standin.media_downloads == 1


async def test_a_url_that_expires_twice_means_not_found(standin, make_downloader):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("download", 404, count=2)

    with pytest.raises(MediaNotFoundError):
        await _fetch(make_downloader(standin.base_url), media_id)
    assert standin.media_downloads == 0


async def test_deleted_or_unknown_media_is_not_found(standin, make_downloader, sleeps):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    assert standin.delete_media(media_id)
    downloader = make_downloader(standin.base_url)

    with pytest.raises(MediaNotFoundError) as deleted:
        await _fetch(downloader, media_id)
    with pytest.raises(MediaNotFoundError):
        await _fetch(downloader, "999999999999999")
    assert deleted.value.reason == "not_found" and deleted.value.status == 400
    assert sleeps.delays == []


# -- retries, deadline, auth ----------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["info", "download"])
async def test_server_errors_are_retried(standin, make_downloader, sleeps, stage):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults(stage, 500, count=2)

    media = await _fetch(make_downloader(standin.base_url), media_id)

    assert media.content == VOICE
    assert len(sleeps.delays) == 2


async def test_429_is_retried_and_attempts_are_capped(standin, make_downloader, sleeps):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("info", 429, count=10)

    with pytest.raises(MediaUnavailableError) as caught:
        await _fetch(make_downloader(standin.base_url), media_id)
    assert (caught.value.attempts, caught.value.status) == (3, 429)
    assert len(sleeps.delays) == 2


async def test_server_errors_forever_give_up_within_the_deadline(standin, make_downloader, sleeps):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("info", 500, count=1000)
    downloader = make_downloader(standin.base_url, retry=RetryPolicy(max_attempts=1000, base_delay=0.5, max_delay=1.0))

    with pytest.raises(MediaUnavailableError) as caught:
        await _fetch(downloader, media_id, deadline_seconds=3.0)

    assert caught.value.reason == "unavailable"
    assert 1 <= len(sleeps.delays) < 100
    assert sum(sleeps.delays) <= 3.0
    assert caught.value.attempts == len(sleeps.delays) + 1


async def test_a_hanging_host_is_given_up_at_the_deadline(standin, make_downloader):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("download", timeout=60.0, count=5)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(MediaUnavailableError):
        await _fetch(make_downloader(standin.base_url, timeout=30.0), media_id, deadline_seconds=0.5)

    assert loop.time() - started < 20.0  # bounded by the deadline, not by the 60 s hang or the 30 s timeout
    assert standin.media_downloads == 0


async def test_a_refused_token_is_an_auth_error_and_not_retried(standin, make_downloader, sleeps):
    media_id = standin.add_media(VOICE, VOICE_MIME)

    with pytest.raises(MediaAuthError) as caught:
        await _fetch(make_downloader(standin.base_url, token="wrong-token"), media_id)

    assert (caught.value.reason, caught.value.status, caught.value.attempts) == ("unauthorised", 401, 1)
    assert sleeps.delays == []


async def test_a_download_refusing_the_token_is_an_auth_error(standin, make_downloader, sleeps):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("download", 403)

    with pytest.raises(MediaAuthError):
        await _fetch(make_downloader(standin.base_url), media_id)
    assert sleeps.delays == []


async def test_a_connection_refused_is_unavailable(make_downloader, sleeps):
    async with FakeHost() as host:
        base_url = host.base_url
    with pytest.raises(MediaUnavailableError) as caught:
        await _fetch(make_downloader(base_url), "1")
    assert caught.value.status is None and caught.value.attempts == 3


# -- the token stays with Meta ----------------------------------------------------------------------
async def test_a_url_on_a_foreign_host_is_refused_and_gets_no_token(make_downloader):
    async with FakeHost() as foreign, FakeHost() as graph:
        graph.info = lambda base: _info(f"{foreign.base_url}/whatsapp_business/attachments/?mid=1")
        with pytest.raises(MediaURLRefusedError) as caught:
            await _fetch(make_downloader(graph.base_url), "1")
        graph.info = lambda base: _info("https://lookaside.fbsbx.com.evil.example/x")
        with pytest.raises(MediaURLRefusedError):
            await _fetch(make_downloader(graph.base_url), "1")
    assert caught.value.reason == "url_refused"
    assert foreign.requests == []
    assert [path for path, _ in graph.requests] == ["/v26.0/1", "/v26.0/1"]


async def test_a_redirect_to_a_foreign_host_is_refused_and_gets_no_token(make_downloader):
    async with FakeHost() as foreign, FakeHost() as graph:
        graph.info = lambda base: _info(f"{base}/media/1")

        async def redirect(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": f"{foreign.base_url}/steal"})

        graph.download = redirect
        with pytest.raises(MediaURLRefusedError):
            await _fetch(make_downloader(graph.base_url), "1")
    assert foreign.requests == []


# -- nothing personal in messages and logs ----------------------------------------------------------
async def test_errors_and_logs_name_no_media_id_url_or_token(standin, make_downloader, caplog):
    caplog.set_level(logging.DEBUG)
    token = "secret-token-4915550000001"
    failures: list[MediaError] = []
    seen_ids: list[str] = []

    async def attempt(downloader: MediaDownloader, media_id: str, **options) -> None:
        seen_ids.append(media_id)
        with pytest.raises(MediaError) as caught:
            await _fetch(downloader, media_id, **options)
        failures.append(caught.value)

    good = make_downloader(standin.base_url)
    await attempt(good, standin.add_media(VOICE, VOICE_MIME, sha256="00" * 32))
    await attempt(good, standin.add_media(VOICE, "video/mp4"))
    await attempt(good, standin.add_media(VOICE, VOICE_MIME), max_bytes=10)
    expiring = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("download", 404, count=2)
    await attempt(good, expiring)
    standin.inject_media_faults("download", 500, count=5)
    await attempt(good, standin.add_media(VOICE, VOICE_MIME))
    await attempt(good, "555555555555555")
    await attempt(make_downloader(standin.base_url, token=token), standin.add_media(VOICE, VOICE_MIME))

    assert {type(error) for error in failures} == {
        MediaIntegrityError, MediaTypeError, MediaTooLargeError, MediaNotFoundError, MediaUnavailableError, MediaAuthError
    }
    texts = [str(error) for error in failures] + [repr(error) for error in failures] + [caplog.text]
    secrets = [*seen_ids, token, "standin-access-token", standin.base_url, "127.0.0.1", "_lookaside", "mid="]
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)
    assert "MediaUnavailableError" in caplog.text  # the log says what failed, without saying what
