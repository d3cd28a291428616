"""connectors/whatsapp/outcome.py: the worst outcome of a POST sets its status."""
from __future__ import annotations

import pytest

from connectors.whatsapp.outcome import Outcome, WebhookResponse, answer_for


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ([], 200),
        ([Outcome.HANDLED, Outcome.DUPLICATE], 200),
        ([Outcome.HANDLED, Outcome.RETRY], 503),
        ([Outcome.RETRY, Outcome.FAILED, Outcome.HANDLED], 500),
    ],
)
def test_the_worst_outcome_sets_the_status(outcomes: list[Outcome], status: int) -> None:
    assert answer_for(outcomes).status == status


def test_answers_are_plain_text() -> None:
    assert WebhookResponse(200, "ok").content_type == "text/plain; charset=utf-8"
