"""connectors/whatsapp/lanes.py: one lane per person (union-find), payload order, bounded concurrency."""
from __future__ import annotations

import asyncio

import pytest

from connectors.whatsapp.identities import distinct
from connectors.whatsapp.lanes import Lanes, group_by_person
from connectors.whatsapp.outcome import Outcome
from connectors.whatsapp.updates.messages import IdentityChange, InboundMessage, TextMessage
from privacy.log_redaction.sensitive import register_sensitive
from privacy.log_redaction.sensitive import sensitive_values

_ids = iter(range(1, 10_000))


def text(body: str, *, phone: str | None = None, user_id: str | None = None) -> TextMessage:
    sender = phone or user_id or ""
    return TextMessage(f"wamid.lane{next(_ids)}", sender, "text", 1, "1", phone=phone, user_id=user_id, body=body)


def bodies(lanes: list[list[InboundMessage]]) -> list[list[str]]:
    return [[m.body for m in lane] for lane in lanes]  # type: ignore[attr-defined]


def test_messages_sharing_any_identifier_share_a_lane_in_payload_order() -> None:
    messages = [
        text("eins", phone="491", user_id="DE.A"),
        text("x", phone="492"),
        text("zwei", user_id="de.a"),  # BSUIDs compare case-insensitively
        text("drei", phone="491"),
        text("y", user_id="DE.B"),
    ]
    assert bodies(group_by_person(messages)) == [["eins", "zwei", "drei"], ["x"], ["y"]]


def test_two_groups_joined_by_a_later_message_become_one_lane() -> None:
    messages = [text("a", phone="491"), text("b", user_id="DE.A"), text("c", phone="491", user_id="DE.A")]
    assert bodies(group_by_person(messages)) == [["a", "b", "c"]]


def test_an_identity_change_joins_the_old_and_the_new_identity() -> None:
    change = IdentityChange("wamid.sys", "491", "system", 1, "1", phone="491", change="user_changed_number",
                            previous_phone="491", new_phone="492")
    messages = [text("alt", phone="491"), change, text("neu", phone="492")]
    assert [len(lane) for lane in group_by_person(messages)] == [3]


def test_distinct_keeps_first_occurrences_without_blanks() -> None:
    assert distinct(["a", None, "b", "", "a"]) == ("a", "b")


async def test_lanes_run_concurrently_up_to_the_bound_and_in_order_within() -> None:
    running, peak, seen = 0, 0, []

    async def handle(message: InboundMessage, context: str) -> Outcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        seen.append((message.phone, context))
        running -= 1
        return Outcome.HANDLED

    messages = [text(str(n), phone=f"49{n % 5}") for n in range(20)]
    outcomes = await Lanes(3).run(messages, handle, "ctx")
    assert outcomes == [Outcome.HANDLED] * 20 and peak == 3
    for phone in {m.phone for m in messages}:
        assert [p for p, _ in seen if p == phone] == [phone] * 4
    assert {c for _, c in seen} == {"ctx"}


@pytest.mark.parametrize("stop", [Outcome.RETRY, Outcome.FAILED])
async def test_a_lane_stops_at_a_retry_or_failure_the_others_go_on(stop: Outcome) -> None:
    async def handle(message: InboundMessage, context: None) -> Outcome:
        return stop if message.body == "bad" else Outcome.HANDLED  # type: ignore[attr-defined]

    messages = [text("ok", phone="491"), text("bad", phone="491"), text("later", phone="491"), text("other", phone="492")]
    outcomes = await Lanes(8).run(messages, handle, None)
    assert sorted(o.value for o in outcomes) == sorted([Outcome.HANDLED.value, stop.value, Outcome.HANDLED.value])


async def test_each_lane_forgets_its_sensitive_values() -> None:
    async def handle(message: InboundMessage, context: None) -> Outcome:
        register_sensitive(message.body)  # type: ignore[attr-defined]
        return Outcome.HANDLED

    await Lanes(2).run([text("geheim-eins", phone="491"), text("geheim-zwei", phone="492")], handle, None)
    assert "geheim-eins" not in sensitive_values() and "geheim-zwei" not in sensitive_values()


def test_at_least_one_lane() -> None:
    with pytest.raises(ValueError):
        Lanes(0)
