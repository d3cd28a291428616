"""The stand-in's media endpoints: upload, info, download, delete, expiry, auth, limits, control."""
from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from standins.meta_graph import MetaGraphStandIn

VOICE = b"OggS" + b"\x01" * 2000
VOICE_MIME = "audio/ogg; codecs=opus"
MB = 1024 * 1024


def _form(mime: str, *, product: str = "whatsapp") -> dict:
    return {"messaging_product": product, "type": mime}


async def _upload(http: httpx.AsyncClient, standin: MetaGraphStandIn, content: bytes, mime: str, **form) -> httpx.Response:
    return await http.post(
        f"/v26.0/{standin.phone_number_id}/media",
        data=_form(mime, **form),
        files={"file": ("voice.ogg", content, mime.split(";")[0])},
    )


def _assert_error(response: httpx.Response, status: int, code: int, subcode: int | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error.get("error_subcode") == subcode
    assert error["fbtrace_id"]
    return error


async def test_upload_info_download_delete_like_meta(standin, http):
    uploaded = await _upload(http, standin, VOICE, VOICE_MIME)
    assert uploaded.status_code == 200, uploaded.text
    media_id = uploaded.json()["id"]
    assert media_id.isdigit()

    info = await http.get(f"/v26.0/{media_id}", params={"phone_number_id": standin.phone_number_id})
    body = info.json()
    assert body["messaging_product"] == "whatsapp"
    assert (body["id"], body["mime_type"], body["file_size"]) == (media_id, VOICE_MIME, str(len(VOICE)))
    assert body["sha256"] == hashlib.sha256(VOICE).hexdigest()
    assert body["url"].startswith(f"{standin.base_url}/_lookaside/whatsapp_business/attachments/?mid=")
    assert "hash=" in body["url"] and "ext=" in body["url"]

    download = await http.get(body["url"])
    assert (download.status_code, download.content) == (200, VOICE)
    assert download.headers["Content-Type"] == VOICE_MIME
    assert int(download.headers["Content-Length"]) == len(VOICE)
    assert standin.media_downloads == 1

    deleted = await http.delete(f"/v26.0/{media_id}")
    assert deleted.json() == {"success": True}
    error = _assert_error(await http.get(f"/v26.0/{media_id}"), 400, 100, 33)
    assert error["type"] == "GraphMethodException" and media_id in error["message"]
    assert (await http.get(body["url"])).status_code == 404
    _assert_error(await http.delete(f"/v26.0/{media_id}"), 400, 100, 33)


async def test_each_info_request_issues_a_fresh_url(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    first = (await http.get(f"/v26.0/{media_id}")).json()["url"]
    second = (await http.get(f"/v26.0/{media_id}")).json()["url"]
    assert first != second
    assert (await http.get(first)).content == (await http.get(second)).content == VOICE


async def test_media_of_another_number_is_not_found(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    _assert_error(await http.get(f"/v26.0/{media_id}", params={"phone_number_id": "100000000000999"}), 400, 100, 33)
    _assert_error(await http.post("/v26.0/100000000000999/media", data=_form("audio/ogg"), files={"file": ("a", b"x")}), 400, 100, 33)


async def test_urls_expire_after_the_ttl_and_on_demand():
    async with MetaGraphStandIn(media_url_ttl=0.05) as standin:
        headers = {"Authorization": f"Bearer {standin.access_token}"}
        async with httpx.AsyncClient(base_url=standin.base_url, headers=headers) as client:
            media_id = standin.add_media(VOICE, VOICE_MIME)
            url = (await client.get(f"/v26.0/{media_id}")).json()["url"]
            await asyncio.sleep(0.2)
            assert (await client.get(url)).status_code == 404
            assert standin.media_downloads == 0
            fresh = (await client.get(f"/v26.0/{media_id}")).json()["url"]
            assert (await client.get(fresh)).status_code == 200


async def test_expire_media_urls_invalidates_issued_urls_only(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    url = (await http.get(f"/v26.0/{media_id}")).json()["url"]
    standin.expire_media_urls()
    assert (await http.get(url)).status_code == 404
    assert (await http.get((await http.get(f"/v26.0/{media_id}")).json()["url"])).status_code == 200


async def test_every_route_needs_the_token(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    url = (await http.get(f"/v26.0/{media_id}")).json()["url"]
    async with httpx.AsyncClient(base_url=standin.base_url, headers={"Authorization": "Bearer nope"}) as stranger:
        _assert_error(await stranger.get(f"/v26.0/{media_id}"), 401, 190)
        _assert_error(await stranger.delete(f"/v26.0/{media_id}"), 401, 190)
        _assert_error(
            await stranger.post(f"/v26.0/{standin.phone_number_id}/media", data=_form("audio/ogg"), files={"file": ("a", b"x")}),
            401,
            190,
        )
        assert (await stranger.get(url)).status_code == 401
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(url)).status_code == 401
    assert standin.media_downloads == 0
    assert media_id in standin.media.items


@pytest.mark.parametrize("mime", ["application/zip", "audio/wav", "audio/ogg; codecs=vorbis", "text/html"])
async def test_unsupported_types_are_refused_with_131053(standin, http, mime):
    error = _assert_error(await _upload(http, standin, b"data", mime), 400, 131053)
    assert error["message"] == "Media upload error"
    assert standin.media.items == {}


@pytest.mark.parametrize(("mime", "limit"), [("audio/mpeg", 16 * MB), ("image/jpeg", 5 * MB), ("image/webp", 500 * 1024)])
async def test_sizes_over_metas_limit_per_kind_are_refused(standin, http, mime, limit):
    _assert_error(await _upload(http, standin, b"\0" * (limit + 1), mime), 400, 131053)
    assert (await _upload(http, standin, b"\0" * limit, mime)).status_code == 200
    assert len(standin.media.items) == 1


async def test_documents_take_more_than_audio(standin, http):
    assert (await _upload(http, standin, b"\0" * (6 * MB), "application/pdf")).status_code == 200


async def test_upload_needs_messaging_product_and_a_file(standin, http):
    _assert_error(await _upload(http, standin, VOICE, "audio/ogg", product="sms"), 400, 100)
    no_file = await http.post(f"/v26.0/{standin.phone_number_id}/media", files={"messaging_product": (None, "whatsapp"), "type": (None, "audio/ogg")})
    _assert_error(no_file, 400, 100)
    _assert_error(await _upload(http, standin, b"", "audio/ogg"), 400, 131053)


async def test_media_routes_leave_the_other_routes_alone(standin, http):
    assert (await http.get("/_standin/messages")).json() == {"messages": [], "reads": []}
    assert (await http.get("/_standin/faults")).status_code == 200
    sent = await http.post(
        f"/v26.0/{standin.phone_number_id}/messages",
        json={"messaging_product": "whatsapp", "to": "4915550000001", "type": "text", "text": {"body": "Hallo"}},
    )
    assert sent.status_code == 200 and len(standin.messages) == 1


async def test_python_faults_per_stage(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("info", 500)
    standin.inject_media_faults("download", 429, count=2)
    _assert_error(await http.get(f"/v26.0/{media_id}"), 500, 131000)
    url = (await http.get(f"/v26.0/{media_id}")).json()["url"]
    assert [(await http.get(url)).status_code for _ in range(3)] == [429, 429, 200]
    standin.inject_media_faults("info", 503, count=3)
    standin.clear_media_faults()
    assert (await http.get(f"/v26.0/{media_id}")).status_code == 200
    with pytest.raises(ValueError):
        standin.inject_media_faults("upload", 500)  # type: ignore[arg-type]


async def test_a_timeout_fault_holds_the_request(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    standin.inject_media_faults("info", timeout=30.0)
    with pytest.raises(httpx.TimeoutException):
        await http.get(f"/v26.0/{media_id}", timeout=0.3)


async def test_control_routes_drive_media_faults_and_expiry(standin, http):
    media_id = standin.add_media(VOICE, VOICE_MIME)
    queued = await http.post("/_standin/media/faults", json={"stage": "download", "status": 500, "count": 2})
    assert queued.json()["queued_faults"] == {"info": 0, "download": 2}
    url = (await http.get(f"/v26.0/{media_id}")).json()["url"]
    assert (await http.get(url)).status_code == 500
    cleared = await http.delete("/_standin/media/faults")
    assert cleared.json()["queued_faults"] == {"info": 0, "download": 0}
    assert (await http.get(url)).status_code == 200

    assert (await http.post("/_standin/media/expire")).json() == {"expired": True}
    assert (await http.get(url)).status_code == 404
    assert (await http.get("/_standin/media")).json() == {"stored": 1, "downloads": 1, "queued_faults": {"info": 0, "download": 0}}

    assert (await http.post("/_standin/media/faults", json={"stage": "upload"})).status_code == 400
    assert (await http.post("/_standin/media/faults", json={"status": 500})).status_code == 400
