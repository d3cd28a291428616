"""standins/openai_errors.py: OpenAI's error shape, bearer check and fault answers, shared by two stand-ins."""
from __future__ import annotations

import pytest

from standins.openai_errors import RequestError, check_bearer, error_body, invalid, status_error


def test_error_body_has_openai_s_four_fields() -> None:
    assert error_body("m", "t") == {"error": {"message": "m", "type": "t", "param": None, "code": None}}


def test_invalid_is_a_400_invalid_request_error() -> None:
    error = invalid("bad", "model", "invalid_value")
    assert (error.status, error.headers, str(error)) == (400, {}, "bad")
    assert error.body["error"] == {"message": "bad", "type": "invalid_request_error", "param": "model",
                                   "code": "invalid_value"}


@pytest.mark.parametrize("status, error_type, code", [
    (429, "requests", "rate_limit_exceeded"), (500, "server_error", None), (503, "server_error", None),
    (401, "invalid_request_error", "invalid_api_key"), (418, "invalid_request_error", None), (599, "server_error", None),
])
def test_status_error_speaks_like_openai(status: int, error_type: str, code: str | None) -> None:
    error = status_error(status)
    assert error.status == status and error.headers == {}
    assert (error.body["error"]["type"], error.body["error"]["code"]) == (error_type, code)


def test_status_error_carries_retry_after() -> None:
    assert status_error(429, retry_after=0).headers == {"Retry-After": "0"}
    assert status_error(503, retry_after=1.5).headers == {"Retry-After": "1.5"}


def test_no_key_configured_lets_everything_through() -> None:
    check_bearer("", None)
    check_bearer("Basic abc", None)


def test_missing_and_wrong_keys_are_401() -> None:
    with pytest.raises(RequestError) as missing:
        check_bearer("", "sk-right-key-99")
    assert missing.value.status == 401 and "didn't provide an API key" in str(missing.value)
    with pytest.raises(RequestError) as wrong:
        check_bearer("Bearer sk-wrong-key-99", "sk-right-key-99")
    assert wrong.value.body["error"]["code"] == "invalid_api_key"
    assert str(wrong.value).startswith("Incorrect API key provided: sk-***99.")
    assert "wrong" not in str(wrong.value)
    with pytest.raises(RequestError):
        check_bearer("Basic sk-right-key-99", "sk-right-key-99")


def test_the_right_key_passes_whatever_the_scheme_s_case() -> None:
    check_bearer("Bearer sk-right-key-99", "sk-right-key-99")
    check_bearer("bearer sk-right-key-99", "sk-right-key-99")
