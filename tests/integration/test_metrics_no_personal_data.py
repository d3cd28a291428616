"""No personal data in the metrics: a whole conversation, then every rendered sample is searched.

Why (issue 11; docs/privacy.md): a label value is stored by every Prometheus that scrapes us,
for weeks, outside our encryption. This drives the real WebhookCore (real GraphClient against
the Meta stand-in, in-process dedup store, a fake Rasa handler answering like Rasa) through a
conversation of one person with a phone number, a BSUID and a username, who writes a job title
and a city; Meta redelivers one message, throttles one send and reports statuses. Then the
process registry (observability/metrics.py) is rendered in both exposition formats and none of
the person's values, the pseudonyms the dialogue saw, nor any wamid may appear; nor an exemplar
(OpenMetrics writes one as `` # {...}`` after a sample).
"""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from rasa.core.channels.channel import UserMessage

from connectors.whatsapp.core import DeliveryOptions, WebhookCore
from connectors.whatsapp.dedup.memory_store import InMemoryDedupStore
from connectors.whatsapp.graph.client import GraphClient
from connectors.whatsapp.graph.config import GraphSettings
from connectors.whatsapp.graph.retry import RetryPolicy
from connectors.whatsapp.output import WhatsAppOutput
from connectors.whatsapp.payload_ids.memory_map import InMemoryPayloadIdMap
from connectors.whatsapp.settings import WhatsAppSettings
from connectors.whatsapp.signature import compute_signature
from harness import meta_payloads as mp
from observability.metrics import REGISTRY
from privacy.identity import pseudonym
from privacy.keyring import Keyring, Secret
from standins.meta_graph import DEFAULT_ACCESS_TOKEN, DEFAULT_PHONE_NUMBER_ID, Fault

PHONE = "4915550000001"
BSUID = "DE.1234567890abcdef"
USERNAME = "erika_sucht_arbeit"
PROFILE_NAME = "Erika Mustermann"
JOB_TITLE = "Krankenpflegerin"
CITY = "Regensburg"
APP_SECRET = "metrics-privacy-secret"
SETTINGS = WhatsAppSettings(verify_token="verify-token-1", app_secret=APP_SECRET, access_token=DEFAULT_ACCESS_TOKEN,
                            phone_number_id=DEFAULT_PHONE_NUMBER_ID, max_body_bytes=64 * 1024)


class FakeRasa:
    """Answers like Rasa, through the output channel; remembers the pseudonyms it was given."""

    def __init__(self) -> None:
        self.senders: set[str] = set()

    async def __call__(self, message: UserMessage) -> None:
        self.senders.add(message.sender_id)
        await message.output_channel.send_response(
            message.sender_id, {"text": f"Ich suche Stellen als {JOB_TITLE} in {CITY}."})
        await message.output_channel.send_response(
            message.sender_id, {"text": "Noch etwas?", "buttons": [{"title": "Ja", "payload": "/affirm"}]})


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": compute_signature(APP_SECRET, body)}


@pytest.fixture
async def client(standin):
    client = GraphClient(GraphSettings(access_token=DEFAULT_ACCESS_TOKEN, phone_number_id=DEFAULT_PHONE_NUMBER_ID,
                                       api_base_url=standin.base_url),
                         retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    yield client
    await client.aclose()


async def test_a_conversation_leaves_no_personal_data_in_the_metrics(standin, client: GraphClient) -> None:
    keyring = Keyring(current=Secret.generate())
    core = WebhookCore(settings=SETTINGS, store=InMemoryDedupStore(), graph=client, keyring=keyring,
                       id_map=InMemoryPayloadIdMap(), output_factory=WhatsAppOutput,
                       options=DeliveryOptions(duplicate_wait_seconds=0.0))
    rasa = FakeRasa()
    user = mp.WhatsAppUser(phone=PHONE, user_id=BSUID, username=USERNAME, name=PROFILE_NAME)
    first = mp.text(user, f"Ich bin {JOB_TITLE} und suche Arbeit in {CITY}")
    later = mp.text(user.without_phone(), f"Gibt es in {CITY} auch Teilzeit?")
    wamids = {first["id"], later["id"]}

    assert core.verify({"hub.mode": "subscribe", "hub.verify_token": "verify-token-1", "hub.challenge": "7"}).status == 200
    answer = await core.receive(*signed(mp.payload(first, users=[user])), rasa)
    assert answer.status == 200
    assert (await core.receive(*signed(mp.payload(first, users=[user])), rasa)).status == 200  # redelivery
    standin.inject_faults(Fault(status=400, code=130429), 1)  # one throttled send, retried
    assert (await core.receive(*signed(mp.payload(later, users=[user.without_phone()])), rasa)).status == 200
    await core.drain()
    sent = standin.messages
    assert len(sent) == 4 and {m.to for m in sent} >= {PHONE}
    wamids |= {m.wamid for m in sent}
    statuses = [mp.status(sent[0].wamid, PHONE, "delivered", recipient_user_id=BSUID),
                mp.status(sent[1].wamid, PHONE, "failed")]
    assert (await core.receive(*signed(mp.payload(statuses=statuses)), rasa)).status == 200
    bad = signed(mp.payload(mp.text(user, f"{JOB_TITLE} in {CITY}")))[0]
    assert (await core.receive(bad, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, rasa)).status == 403

    pseudonyms = {pseudonym(keyring.current, value) for value in (PHONE, BSUID, USERNAME)} | rasa.senders
    personal = {PHONE, BSUID, USERNAME, PROFILE_NAME, JOB_TITLE, CITY, "Erika", *pseudonyms, *wamids}
    text = generate_latest(REGISTRY).decode()
    openmetrics = generate_openmetrics(REGISTRY).decode()
    assert "blaupause_webhook_requests_total" in text and "blaupause_graph_requests_total" in text
    assert 'outcome="throttled"' in text  # the conversation went through the counted paths
    for rendered in (text, openmetrics, text.casefold(), openmetrics.casefold()):
        for value in personal:
            assert value.casefold() not in rendered.casefold(), "a personal value is in the metrics"
    assert "4915550000" not in text  # not even a part of the number
    assert " # {" not in openmetrics  # no exemplar
