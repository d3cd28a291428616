"""connectors/whatsapp/graph/errors.py: Meta's error codes land in the right family, the family
decides retryable or not, and an error never shows the recipient or the message in ``str``.

Codes and families from https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
(facts: /work/shared/notes/whatsapp-cloud-api-facts.md).
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import pytest

from connectors.whatsapp.graph import errors

PHONE = "4915550000001"

#: code -> (family, retryable): what the channel must do with each documented code.
CODES = {
    130429: (errors.ThrottlingError, True),  # throughput per business number reached
    4: (errors.ThrottlingError, True),  # app call-rate limit
    80007: (errors.ThrottlingError, True),  # WABA rate limit
    131056: (errors.PairRateLimitError, True),  # pair rate limit (same user)
    131047: (errors.ReengagementError, False),  # outside the 24 h customer service window
    100: (errors.InvalidParameterError, False),
    131008: (errors.InvalidParameterError, False),  # required parameter missing
    131009: (errors.InvalidParameterError, False),  # parameter value invalid
    0: (errors.AuthenticationError, False),
    10: (errors.AuthenticationError, False),  # permission denied
    190: (errors.AuthenticationError, False),  # access token expired
    200: (errors.AuthenticationError, False),
    299: (errors.AuthenticationError, False),
    131026: (errors.RecipientError, False),  # message undeliverable
    131030: (errors.RecipientError, False),  # not on the test number's allowed list
    131062: (errors.BSUIDRecipientNotSupportedError, False),  # cannot go to a BSUID
    1: (errors.ServerError, True),
    2: (errors.ServerError, True),  # temporary service failure
    131000: (errors.ServerError, True),  # something went wrong
    131016: (errors.ServerError, True),  # service unavailable
}


@pytest.mark.parametrize(("code", "family", "retryable"), [(c, f, r) for c, (f, r) in sorted(CODES.items())])
def test_each_documented_code_has_its_family(code: int, family: type[errors.GraphAPIError], retryable: bool) -> None:
    # the code decides, whatever the HTTP status says
    for status in (400, 403, 429, 500):
        assert errors.error_class_for(code, status) is family
    error = errors.error_from_response(400, {"error": {"code": code, "message": "m"}})
    assert type(error) is family
    assert error.retryable is retryable


def test_family_hierarchy_keeps_related_codes_catchable_together() -> None:
    assert issubclass(errors.PairRateLimitError, errors.ThrottlingError)
    assert issubclass(errors.BSUIDRecipientNotSupportedError, errors.RecipientError)
    families = (
        errors.ThrottlingError, errors.ReengagementError, errors.InvalidParameterError, errors.AuthenticationError,
        errors.RecipientError, errors.ServerError, errors.TransportError, errors.UnexpectedResponseError,
    )
    for family in families:
        assert issubclass(family, errors.GraphAPIError) and issubclass(family, Exception)


def test_codes_belong_to_one_family_only() -> None:
    families = [
        errors.PairRateLimitError, errors.ThrottlingError, errors.ReengagementError, errors.InvalidParameterError,
        errors.AuthenticationError, errors.BSUIDRecipientNotSupportedError, errors.RecipientError, errors.ServerError,
    ]
    for index, family in enumerate(families):
        for other in families[index + 1:]:
            assert not family.__error_codes__ & other.__error_codes__, (family.__name__, other.__name__)


@pytest.mark.parametrize(
    ("code", "status", "family"),
    [
        (None, 429, errors.ThrottlingError),
        (999999, 429, errors.ThrottlingError),
        (None, 500, errors.ServerError),
        (None, 502, errors.ServerError),
        (None, 503, errors.ServerError),
        (None, 401, errors.AuthenticationError),
        (None, 403, errors.AuthenticationError),
        (None, 400, errors.GraphAPIError),
        (None, 404, errors.GraphAPIError),
        (None, None, errors.GraphAPIError),
        (123456, 400, errors.GraphAPIError),
    ],
)
def test_unknown_codes_fall_back_to_the_status(code: int | None, status: int | None, family: type) -> None:
    assert errors.error_class_for(code, status) is family


def test_only_temporary_failures_are_retryable() -> None:
    assert errors.TransportError(message="timeout").retryable
    assert not errors.UnexpectedResponseError(message="no id").retryable  # Meta may have accepted it
    assert not errors.GraphAPIError(message="?").retryable
    assert not errors.error_from_response(404, None).retryable


def test_error_response_is_decoded_field_by_field() -> None:
    body = {
        "error": {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_subcode": "2494010",
            "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send"},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }
    }
    error = errors.error_from_response(400, body)
    assert isinstance(error, errors.ReengagementError)
    assert (error.code, error.subcode, error.status) == (131047, 2494010, 400)
    assert error.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert error.details == "Message failed to send"
    assert error.message == "(#131047) Re-engagement message"
    assert error.raw is body and error.attempts == 1


def test_bodies_that_are_not_metas_shape_still_give_an_error() -> None:
    not_json = errors.error_from_response(502, None, "<html>Bad Gateway</html>")
    assert isinstance(not_json, errors.ServerError)
    assert not_json.message == "<html>Bad Gateway</html>" and not_json.code is None and not_json.raw == {}
    assert errors.error_from_response(503, None).message == "HTTP 503"
    odd = errors.error_from_response(400, {"error": "boom"})
    assert type(odd) is errors.GraphAPIError and odd.code is None and odd.raw == {"error": "boom"}
    string_code = errors.error_from_response(400, {"error": {"code": "130429"}})
    assert isinstance(string_code, errors.ThrottlingError) and string_code.code == 130429
    junk_code = errors.error_from_response(429, {"error": {"code": "soon", "error_subcode": [1]}})
    assert isinstance(junk_code, errors.ThrottlingError) and junk_code.code is None and junk_code.subcode is None
    flat_data = errors.error_from_response(400, {"error": {"code": 100, "error_data": "plain"}})
    assert flat_data.details == "plain"


def test_str_names_the_family_and_codes_but_never_the_message_or_details() -> None:
    error = errors.error_from_response(
        400,
        {"error": {"code": 131026, "message": f"Recipient {PHONE} undeliverable", "fbtrace_id": "T1",
                   "error_data": {"details": f"to={PHONE} body=Hallo Erika"}}},
    )
    text = str(error)
    assert text == "RecipientError code=131026 status=400 fbtrace_id=T1 attempts=1"
    assert PHONE not in text and "Erika" not in text


def test_with_attempts_copies_and_keeps_the_family() -> None:
    error = errors.error_from_response(429, {"error": {"code": 131056}})
    later = error.with_attempts(4)
    assert type(later) is errors.PairRateLimitError and later.attempts == 4 and later.code == 131056
    assert error.attempts == 1  # the original is untouched
    assert "attempts=4" in str(later)


def test_fields_are_frozen_but_exception_bookkeeping_is_not() -> None:
    error = errors.ServerError(message="down", code=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.code = 3  # type: ignore[misc]

    @contextlib.contextmanager
    def passing_through() -> Iterator[None]:
        yield

    # contextlib assigns __traceback__ on the way out; a plain frozen dataclass would fail here
    with pytest.raises(errors.ServerError) as raised:
        with passing_through():
            raise error
    assert raised.value is error and raised.value.__traceback__ is not None
    error.add_note("seen by the test")
    assert error.__notes__ == ["seen by the test"]
    assert error.args == ("down",)
