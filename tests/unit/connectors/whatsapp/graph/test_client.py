"""GraphClient against the Meta stand-in: success, typing, each retryable family, typed errors."""
from __future__ import annotations

import contextlib
import gzip
import json
import random
import socket

import httpx
import pytest
from aiohttp import web
from pywa.utils import Version

from connectors.whatsapp.graph.errors import (
    AuthenticationError,
    BSUIDRecipientNotSupportedError,
    GraphAPIError,
    InvalidParameterError,
    PairRateLimitError,
    ReengagementError,
    RecipientError,
    ServerError,
    ThrottlingError,
    TransportError,
    UnexpectedResponseError,
    error_class_for,
    error_from_response,
)
from connectors.whatsapp.graph.client import GraphClient, SendResult, SentContact
from connectors.whatsapp.graph.config import DEFAULT_API_VERSION, GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.graph.transport import AiohttpTransport, BaseURLTransport
from connectors.whatsapp.recipient import Recipient
from standins.meta_graph import Fault

USER = "4915550000001"
BSUID = "DE.1000000000000000001"
PARENT_BSUID = "DE.ENT.2000000000000000001"
TEXT = {"type": "text", "text": {"body": "Hallo"}}


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
async def make_client(standin, sleeps):
    clients: list[GraphClient] = []

    def factory(*, token: str | None = None, base_url: str | None = None, max_attempts: int = 4, timeout: float = 5.0, **kwargs) -> GraphClient:
        settings = GraphSettings(
            access_token=token or standin.access_token,
            phone_number_id=standin.phone_number_id,
            api_base_url=base_url or standin.base_url,
            timeout=timeout,
        )
        client = GraphClient(
            settings,
            retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.001, max_delay=0.004),
            sleep=sleeps,
            rng=random.Random(1),
            **kwargs,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


async def test_send_returns_wamid_and_adds_envelope(standin, make_client):
    wamid = await make_client().send(USER, TEXT)

    assert wamid.startswith("wamid.FAKE")
    [accepted] = standin.messages
    assert accepted.wamid == wamid
    assert accepted.to == USER
    assert accepted.message == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "text",
        "text": {"body": "Hallo"},
        "to": USER,
    }


async def test_send_keeps_context_and_forces_recipient(standin, make_client):
    message = {**TEXT, "context": {"message_id": "wamid.IN1"}, "to": "4915550000999", "messaging_product": "sms"}
    await make_client().send(USER, message)

    body = standin.messages[0].message
    assert body["to"] == USER
    assert body["messaging_product"] == "whatsapp"
    assert body["context"] == {"message_id": "wamid.IN1"}


async def test_mark_read_records_typing_and_plain_read(standin, make_client):
    client = make_client()
    await client.mark_read("wamid.IN1")
    await client.mark_read("wamid.IN2", typing=False)

    assert [(r.message_id, r.typing) for r in standin.reads] == [("wamid.IN1", True), ("wamid.IN2", False)]
    assert standin.messages == ()


@pytest.mark.parametrize(
    ("typing", "expected"),
    [
        (True, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1", "typing_indicator": {"type": "text"}}),
        (False, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}),
    ],
)
async def test_mark_read_body_is_metas(typing, expected):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True})

    settings = GraphSettings(access_token="t0k3n", phone_number_id="123", api_version="v21.0")
    async with GraphClient(settings, transport=httpx.MockTransport(handler)) as client:
        await client.mark_read("wamid.IN1", typing=typing)

    [request] = seen
    assert request.url == "https://graph.facebook.com/v21.0/123/messages"
    assert request.headers["Authorization"] == "Bearer t0k3n"
    assert json.loads(request.content) == expected


@pytest.mark.parametrize(
    ("fault", "family"),
    [
        (Fault(status=429, code=4), ThrottlingError),
        (Fault(status=400, code=130429), ThrottlingError),
        (Fault(status=400, code=80007), ThrottlingError),
        (Fault(status=400, code=131056), PairRateLimitError),
        (Fault(status=500, code=131000), ServerError),
        (Fault(status=503, code=None), ServerError),
        (Fault(status=429, code=None), ThrottlingError),
    ],
    ids=["429-code4", "130429", "80007", "131056", "500", "503-no-code", "429-no-code"],
)
async def test_retryable_faults_are_retried_then_succeed(standin, make_client, sleeps, fault, family):
    assert family.retryable
    standin.inject_faults(fault, count=2)

    wamid = await make_client(max_attempts=3).send(USER, TEXT)

    assert [m.wamid for m in standin.messages] == [wamid]
    assert len(sleeps.delays) == 2


async def test_timeout_is_retried_then_succeeds(standin, make_client, sleeps):
    standin.inject_timeout(5.0, count=1)

    wamid = await make_client(timeout=0.3, max_attempts=2).send(USER, TEXT)

    assert [m.wamid for m in standin.messages] == [wamid]
    assert len(sleeps.delays) == 1


async def test_persistent_500_raises_server_error_after_max_attempts(standin, make_client, sleeps):
    standin.inject_faults(Fault(status=500, code=131000), count=10)

    with pytest.raises(ServerError) as caught:
        await make_client(max_attempts=3).send(USER, TEXT)

    error = caught.value
    assert error.attempts == 3
    assert (error.code, error.status) == (131000, 500)
    assert error.fbtrace_id and error.fbtrace_id.startswith("A")
    assert error.raw["error"]["code"] == 131000
    assert len(sleeps.delays) == 2
    assert standin.messages == ()


async def test_reengagement_is_raised_at_once(standin, make_client, sleeps):
    standin.inject_faults(Fault(status=400, code=131047), count=5)

    with pytest.raises(ReengagementError) as caught:
        await make_client().send(USER, TEXT)

    assert caught.value.attempts == 1
    assert sleeps.delays == []


async def test_wrong_token_raises_authentication_error(standin, make_client, sleeps):
    with pytest.raises(AuthenticationError) as caught:
        await make_client(token="not-the-token").send(USER, TEXT)

    assert (caught.value.code, caught.value.status) == (190, 401)
    assert caught.value.raw["error"]["type"] == "OAuthException"
    assert sleeps.delays == []


async def test_over_limit_message_raises_invalid_parameter(standin, make_client):
    buttons = [{"type": "reply", "reply": {"id": f"b{i}", "title": f"Option {i}"}} for i in range(4)]
    message = {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Wähle"}, "action": {"buttons": buttons}}}

    with pytest.raises(InvalidParameterError) as caught:
        await make_client().send(USER, message)

    assert caught.value.code == 131009
    assert "buttons" in (caught.value.details or "")


async def test_persistent_timeout_raises_transport_error(standin, make_client, sleeps):
    standin.inject_timeout(5.0, count=5)

    with pytest.raises(TransportError) as caught:
        await make_client(timeout=0.2, max_attempts=2).send(USER, TEXT)

    assert caught.value.attempts == 2
    assert caught.value.status is None and caught.value.code is None
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_raises_transport_error(make_client, sleeps):
    with pytest.raises(TransportError) as caught:
        await make_client(base_url=f"http://127.0.0.1:{_closed_port()}", max_attempts=3).send(USER, TEXT)

    assert caught.value.attempts == 3
    assert len(sleeps.delays) == 2


async def test_base_url_override_reaches_standin_not_meta(standin, make_client):
    client = make_client()
    assert client.settings.api_base_url == standin.base_url
    await client.send(USER, TEXT)
    assert len(standin.messages) == 1


async def test_aiohttp_transport_sends_httpx_requests_as_built_and_decodes_answers():
    """The default innermost transport: method, path, query, headers and body pass unchanged;
    a gzip answer is decoded by httpx as with its own transport; the session closes with the client."""
    seen: list[tuple[str, str, str | None, bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, request.headers.get("Authorization"), await request.read()))
        body = gzip.compress(json.dumps({"messages": [{"id": "wamid.GZ"}]}).encode())
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    transport = AiohttpTransport()
    try:
        settings = GraphSettings(access_token="tok", phone_number_id="123", api_base_url=f"http://127.0.0.1:{port}")
        async with GraphClient(settings, transport=transport) as client:
            assert await client.send(USER, TEXT) == "wamid.GZ"
        assert transport._session is not None and transport._session.closed
    finally:
        await runner.cleanup()
    [(method, path, authorization, body)] = seen
    assert (method, path, authorization) == ("POST", f"/{DEFAULT_API_VERSION}/123/messages", "Bearer tok")
    assert json.loads(body) == {"messaging_product": "whatsapp", "recipient_type": "individual", **TEXT, "to": USER}


async def test_base_url_transport_keeps_path_prefix_and_sets_host():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"messages": [{"id": "wamid.OK"}]})

    settings = GraphSettings(access_token="t", phone_number_id="123", api_base_url="http://proxy.test:8080/graph/", api_version="21.0")
    async with GraphClient(settings, transport=httpx.MockTransport(handler)) as client:
        assert await client.send(USER, TEXT) == "wamid.OK"

    [request] = seen
    assert str(request.url) == "http://proxy.test:8080/graph/v21.0/123/messages"
    assert request.headers["Host"] == "proxy.test:8080"


async def test_base_url_transport_leaves_other_hosts_alone():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    transport = BaseURLTransport("http://127.0.0.1:9", httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as session:
        await session.get("https://example.org/x?y=1")
    assert seen == ["https://example.org/x?y=1"]


async def test_non_json_502_is_server_error_without_code(sleeps):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    settings = GraphSettings(access_token="t", phone_number_id="123")
    async with GraphClient(settings, transport=httpx.MockTransport(handler), retry=RetryPolicy(max_attempts=2, base_delay=0), sleep=sleeps) as client:
        with pytest.raises(ServerError) as caught:
            await client.send(USER, TEXT)
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (502, None, 2)


async def test_success_without_message_id_is_not_retried(sleeps):
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"messaging_product": "whatsapp", "messages": []})

    settings = GraphSettings(access_token="t", phone_number_id="123")
    async with GraphClient(settings, transport=httpx.MockTransport(handler), sleep=sleeps) as client:
        with pytest.raises(UnexpectedResponseError):
            await client.send(USER, TEXT)
    assert len(calls) == 1 and sleeps.delays == []


async def test_each_http_attempt_takes_a_throughput_token(standin, make_client):
    class CountingBucket:
        def __init__(self) -> None:
            self.taken = 0

        async def acquire(self) -> None:
            self.taken += 1

    bucket = CountingBucket()
    standin.inject_faults(Fault(status=400, code=130429), count=2)
    await make_client(throughput=bucket).send(USER, TEXT)
    assert bucket.taken == 3


@pytest.mark.parametrize(
    ("code", "status", "family"),
    [
        (130429, 400, ThrottlingError),
        (4, 400, ThrottlingError),
        (80007, 400, ThrottlingError),
        (131056, 400, PairRateLimitError),
        (131047, 400, ReengagementError),
        (100, 400, InvalidParameterError),
        (131008, 400, InvalidParameterError),
        (131009, 400, InvalidParameterError),
        (190, 401, AuthenticationError),
        (0, 400, AuthenticationError),
        (10, 403, AuthenticationError),
        (200, 403, AuthenticationError),
        (131062, 400, BSUIDRecipientNotSupportedError),
        (131030, 400, RecipientError),
        (131026, 400, RecipientError),
        (1, 500, ServerError),
        (2, 503, ServerError),
        (131000, 500, ServerError),
        (None, 500, ServerError),
        (None, 429, ThrottlingError),
        (None, 401, AuthenticationError),
        (131051, 400, GraphAPIError),
        (None, 404, GraphAPIError),
    ],
)
def test_error_family_by_code_then_status(code, status, family):
    assert error_class_for(code, status) is family


def test_error_from_response_keeps_meta_fields():
    body = {
        "error": {
            "message": "(#131056) pair rate limit hit",
            "type": "OAuthException",
            "code": 131056,
            "error_subcode": 2494055,
            "error_data": {"messaging_product": "whatsapp", "details": "slow down"},
            "fbtrace_id": "Atrace",
        }
    }
    error = error_from_response(400, body)
    assert isinstance(error, PairRateLimitError) and isinstance(error, ThrottlingError)
    assert (error.code, error.subcode, error.status, error.fbtrace_id, error.details) == (131056, 2494055, 400, "Atrace", "slow down")
    assert error.raw is body
    assert "slow down" not in str(error)  # str() is safe to log: no details


async def test_frozen_error_passes_through_async_context_managers():
    @contextlib.asynccontextmanager
    async def wrapper():
        yield

    with pytest.raises(ServerError):
        async with wrapper():
            raise ServerError(message="boom", code=1)


def test_full_jitter_stays_within_capped_exponential_bound():
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=4.0)
    rng = random.Random(3)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range, not a fixed value
        assert min(delays) < cap * 0.2


def test_settings_normalise_and_validate():
    settings = GraphSettings(access_token="t", phone_number_id=" 123 ", api_version="21.0", api_base_url="http://x:1/")
    assert (settings.api_version, settings.phone_number_id, settings.api_base_url) == ("v21.0", "123", "http://x:1")
    assert "s3cr3t" not in repr(GraphSettings(access_token="s3cr3t", phone_number_id="1"))
    assert GraphSettings(access_token="t", phone_number_id="1").api_version == DEFAULT_API_VERSION
    assert DEFAULT_API_VERSION == f"v{Version.GRAPH_API.value}"  # the version pywa is written against
    with pytest.raises(ValueError):
        GraphSettings(access_token="t", phone_number_id="1", api_version="latest")
    with pytest.raises(ValueError):
        GraphSettings(access_token="", phone_number_id="1")
    with pytest.raises(ValueError, match="phone_number_id"):
        GraphSettings(access_token="t", phone_number_id="  ")
    with pytest.raises(ValueError, match="timeout"):
        GraphSettings(access_token="t", phone_number_id="1", timeout=0)
    chosen = GraphSettings(access_token="t", phone_number_id="1", api_version="v23.0")
    assert chosen.api_version == "v23.0" and chosen.api_base_url == "https://graph.facebook.com"
    assert chosen.timeout == 10.0
    # Only connectors/whatsapp/settings.py reads WHATSAPP_*; these are built through their constructors.
    assert not hasattr(GraphSettings, "from_env") and not hasattr(RetryPolicy, "from_env")


async def test_odd_error_bodies_that_pywa_cannot_decode_still_give_typed_errors(sleeps):
    bodies = iter([(400, {"error": "boom"}), (500, {"error": {"message": "no code"}})])

    def handler(request: httpx.Request) -> httpx.Response:
        status, body = next(bodies)
        return httpx.Response(status, json=body)

    settings = GraphSettings(access_token="t", phone_number_id="123")
    async with GraphClient(settings, transport=httpx.MockTransport(handler), retry=RetryPolicy(max_attempts=1), sleep=sleeps) as client:
        with pytest.raises(GraphAPIError) as plain:
            await client.send(USER, TEXT)
        with pytest.raises(ServerError) as server:
            await client.send(USER, TEXT)
    assert type(plain.value) is GraphAPIError and plain.value.status == 400 and plain.value.raw == {"error": "boom"}
    assert server.value.message == "no code" and server.value.code is None


# -- addressing: to (phone number) vs recipient (business-scoped user id) ----------------------

@pytest.mark.parametrize(
    ("address", "field", "value"),
    [
        (USER, "to", USER),
        (Recipient(phone=USER), "to", USER),
        (BSUID, "recipient", BSUID),
        (Recipient(user_id=BSUID), "recipient", BSUID),
        (PARENT_BSUID, "recipient", PARENT_BSUID),
    ],
)
async def test_send_addresses_phone_with_to_and_bsuid_with_recipient(standin, make_client, address, field, value):
    await make_client().send(address, TEXT)

    [accepted] = standin.messages
    assert accepted.address_field == field and accepted.address == value
    body = accepted.message
    assert body[field] == value
    assert ("recipient" if field == "to" else "to") not in body  # never both
    assert body["recipient_type"] == "individual" and body["messaging_product"] == "whatsapp"


async def test_send_replaces_any_address_the_message_carried(standin, make_client):
    message = {**TEXT, "to": "4915550000999", "recipient": "DE.1000000000000000999"}
    await make_client().send(BSUID, message)
    await make_client().send(USER, message)

    to_bsuid, to_phone = (accepted.message for accepted in standin.messages)
    assert to_bsuid["recipient"] == BSUID and "to" not in to_bsuid
    assert to_phone["to"] == USER and "recipient" not in to_phone


async def test_send_message_returns_the_contacts_meta_resolved(standin, make_client):
    client = make_client()
    by_phone = await client.send_message(USER, TEXT)
    by_bsuid = await client.send_message(Recipient(user_id=BSUID), TEXT)

    assert by_phone.message_id == standin.messages[0].wamid
    assert by_phone.contacts == (SentContact(input=USER, wa_id=USER),)
    assert by_bsuid.contacts == (SentContact(input=BSUID, user_id=BSUID),)
    assert BSUID not in repr(by_bsuid) and USER not in repr(by_phone)


@pytest.mark.parametrize(
    ("contacts", "expected"),
    [
        ([{"input": "+49 155 50000001", "wa_id": USER}], (SentContact(input="+49 155 50000001", wa_id=USER),)),
        ([{"input": BSUID, "user_id": BSUID}], (SentContact(input=BSUID, user_id=BSUID),)),
        ([{"input": USER, "wa_id": USER, "user_id": BSUID}], (SentContact(input=USER, wa_id=USER, user_id=BSUID),)),
        ([{"input": BSUID}, "junk", {"wa_id": 4915550000001}, {}], (SentContact(input=BSUID),)),
        ({"input": USER}, ()),
        (None, ()),
    ],
)
async def test_send_response_contacts_are_parsed_tolerantly(contacts, expected):
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT1"}]}
        if contacts is not None:
            body["contacts"] = contacts
        return httpx.Response(200, json=body)

    settings = GraphSettings(access_token="t", phone_number_id="123")
    async with GraphClient(settings, transport=httpx.MockTransport(handler)) as client:
        result = await client.send_message(USER, TEXT)
        assert await client.send(USER, TEXT) == "wamid.OUT1"
    assert result == SendResult(message_id="wamid.OUT1", contacts=expected)


async def test_131062_is_a_typed_non_retryable_recipient_error(standin, make_client, sleeps):
    standin.reject_bsuid_recipients([BSUID])
    client = make_client(max_attempts=4)

    with pytest.raises(BSUIDRecipientNotSupportedError) as caught:
        await client.send(BSUID, TEXT)

    error = caught.value
    assert isinstance(error, RecipientError) and not error.retryable
    assert (error.code, error.status, error.attempts) == (131062, 400, 1)
    assert sleeps.delays == [] and standin.messages == ()
    # Other BSUIDs and every phone number are still accepted.
    await client.send("DE.1000000000000000002", TEXT)
    await client.send(USER, TEXT)
    assert [m.address_field for m in standin.messages] == ["recipient", "to"]


def test_131062_is_classified_from_metas_error_body():
    body = {
        "error": {
            "message": "(#131062) Business-scoped User ID (BSUID) recipients are not supported for this message",
            "type": "OAuthException",
            "code": 131062,
            "error_data": {"messaging_product": "whatsapp", "details": "Send it to the phone number."},
            "fbtrace_id": "Atrace",
        }
    }
    error = error_from_response(400, body)
    assert type(error) is BSUIDRecipientNotSupportedError and error.retryable is False
    assert (error.code, error.details) == (131062, "Send it to the phone number.")


async def test_a_bsuid_never_goes_into_to(make_client, standin):
    # Recipient refuses to carry a BSUID as a phone number, so the client cannot build such a body.
    with pytest.raises(ValueError):
        await make_client().send(Recipient(phone=BSUID), TEXT)
    assert standin.messages == ()


async def test_read_receipts_and_typing_address_the_message_id_only():
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"success": True})

    settings = GraphSettings(access_token="t", phone_number_id="123")
    async with GraphClient(settings, transport=httpx.MockTransport(handler)) as client:
        await client.mark_read("wamid.IN1")
        await client.mark_read("wamid.IN2", typing=False)
    assert all("to" not in body and "recipient" not in body for body in seen)
    assert [body["message_id"] for body in seen] == ["wamid.IN1", "wamid.IN2"]
