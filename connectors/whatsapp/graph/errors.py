"""Typed errors of the outbound WhatsApp Cloud API (Graph API) client.

Why types and not status codes: the channel must react differently to each *family* of
failure (wait and retry on throttling, ask for a template outside the 24 h window, page an
operator on a bad token), and it must not have to parse Meta's error JSON to do so. One
subclass per family, chosen by the Graph API error ``code`` (falling back to the HTTP status
when the code is unknown), keeping the raw error so nothing Meta said is lost. The layout
follows ``pywa/errors.py``; the families follow Meta's error-code reference:

- https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
- https://developers.facebook.com/docs/graph-api/guides/error-handling

Error messages and ``raw`` can contain the recipient's phone number or parts of the message
(Meta echoes parameters in ``error_data.details``); log them at DEBUG only.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "GraphAPIError",
    "ThrottlingError",
    "PairRateLimitError",
    "ReengagementError",
    "InvalidParameterError",
    "AuthenticationError",
    "RecipientError",
    "BSUIDRecipientNotSupportedError",
    "ServerError",
    "TransportError",
    "UnexpectedResponseError",
    "error_class_for",
    "error_from_response",
]


@dataclasses.dataclass(frozen=True, eq=False)
class GraphAPIError(Exception):
    """A failed Graph API call.

    Attributes:
        message: Meta's ``error.message`` (or a description for transport failures).
        code: Meta's ``error.code``; None for transport failures and non-Meta error bodies.
        subcode: Meta's ``error.error_subcode``.
        status: the HTTP status; None when no response arrived.
        fbtrace_id: Meta's trace id, the one thing Meta support asks for.
        details: ``error.error_data.details`` (may echo message content: DEBUG only).
        raw: the whole decoded response body (or ``{}``), untouched.
        attempts: how many HTTP attempts were made before this error was raised.
    """

    __error_codes__: ClassVar[frozenset[int]] = frozenset()
    retryable: ClassVar[bool] = False

    message: str
    code: int | None = None
    subcode: int | None = None
    status: int | None = None
    fbtrace_id: str | None = None
    details: str | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    attempts: int = 1

    def __post_init__(self) -> None:
        # Exception.args feeds pickling and the default repr; keep it meaningful.
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        parts = [type(self).__name__]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.subcode is not None:
            parts.append(f"subcode={self.subcode}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id={self.fbtrace_id}")
        parts.append(f"attempts={self.attempts}")
        return " ".join(parts)

    def with_attempts(self, attempts: int) -> GraphAPIError:
        """A copy of this error (same class) that records the number of attempts made."""
        return dataclasses.replace(self, attempts=attempts)


_EXCEPTION_BOOKKEEPING = frozenset({"__traceback__", "__cause__", "__context__", "__suppress_context__", "__notes__"})
_frozen_setattr = GraphAPIError.__setattr__


def _setattr(self: GraphAPIError, name: str, value: Any) -> None:
    # The fields stay frozen, but Python's own exception bookkeeping must stay writable:
    # contextlib's (async)contextmanager assigns ``exc.__traceback__`` when an exception passes
    # through a ``with`` block, which a plain frozen dataclass turns into FrozenInstanceError.
    if name in _EXCEPTION_BOOKKEEPING:
        object.__setattr__(self, name, value)
    else:
        _frozen_setattr(self, name, value)


GraphAPIError.__setattr__ = _setattr  # type: ignore[method-assign]


class ThrottlingError(GraphAPIError):
    """Throughput or app/account rate limit hit; retry later with backoff.

    130429: the business number's messages-per-second throughput is exhausted
    (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput).
    4 / 80007: app or WhatsApp Business Account call-rate limits
    (https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
    Any HTTP 429 with an unknown code also lands here.
    """

    __error_codes__ = frozenset({4, 80007, 130429})
    retryable = True


class PairRateLimitError(ThrottlingError):
    """131056: too many messages from this business number to the same user in a short time.

    A subclass of ThrottlingError because it is retried the same way, but its own type because
    only a slower per-recipient pace fixes it (see ``pacing.RecipientPacer``).
    """

    __error_codes__ = frozenset({131056})
    retryable = True


class ReengagementError(GraphAPIError):
    """131047: more than 24 h since the user's last message; only a template may be sent.

    https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows
    Retrying cannot help, so it is raised at once.
    """

    __error_codes__ = frozenset({131047})


class InvalidParameterError(GraphAPIError):
    """100 / 131008 / 131009: the request body is malformed, misses a field or breaks a limit.

    A rendering bug on our side; retrying the same body cannot help.
    """

    __error_codes__ = frozenset({100, 131008, 131009})


class AuthenticationError(GraphAPIError):
    """0 / 10 / 190 / 200-299: the access token is invalid, expired or lacks a permission.

    An operator must fix the configuration; also used for HTTP 401/403 with an unknown code.
    """

    __error_codes__ = frozenset({0, 10, 190, *range(200, 300)})


class RecipientError(GraphAPIError):
    """131026 / 131030: this recipient cannot receive the message.

    131026: undeliverable (no WhatsApp account, old app version, terms not accepted, blocked).
    131030: the number is not on the allowed list of a test business number.
    """

    __error_codes__ = frozenset({131026, 131030})


class BSUIDRecipientNotSupportedError(RecipientError):
    """131062: this message cannot be addressed to a business-scoped user id (``recipient``).

    Meta answers it when a message that needs a phone number (one-tap, zero-tap and copy-code
    authentication templates) is sent with ``recipient`` set to a BSUID or parent BSUID
    (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes, "Business-scoped
    user IDs"; facts in docs/whatsapp-delivery.md, "Addressing replies"). The same body to the
    same address fails the same way, so it is not retried; only a send ``to`` the user's phone
    number could succeed, and the channel has none for a user who wrote without one.
    A subclass of RecipientError because, like 131026, this recipient cannot get this message.
    """

    __error_codes__ = frozenset({131062})


class ServerError(GraphAPIError):
    """1 / 2 / 131000 / 131016 or any HTTP 5xx: a (usually temporary) failure at Meta; retried."""

    __error_codes__ = frozenset({1, 2, 131000, 131016})
    retryable = True


class TransportError(GraphAPIError):
    """No usable HTTP response: timeout, refused or reset connection; retried.

    Caution: after a timeout the message may still have been accepted; the Graph API has no
    idempotency key, so a retry can produce a duplicate (documented in docs/graph-client.md).
    """

    retryable = True


class UnexpectedResponseError(GraphAPIError):
    """A 2xx answer that does not have the documented success shape (e.g. no message id).

    Not retried: the message may have been accepted, and a retry would duplicate it.
    """


_FAMILIES: tuple[type[GraphAPIError], ...] = (
    PairRateLimitError,
    ThrottlingError,
    ReengagementError,
    InvalidParameterError,
    AuthenticationError,
    BSUIDRecipientNotSupportedError,
    RecipientError,
    ServerError,
)


def error_class_for(code: int | None, status: int | None) -> type[GraphAPIError]:
    """The error family for a Graph API error code, falling back to the HTTP status."""
    if code is not None:
        for family in _FAMILIES:
            if code in family.__error_codes__:
                return family
    if status == 429:
        return ThrottlingError
    if status is not None and status >= 500:
        return ServerError
    if status in (401, 403):
        return AuthenticationError
    return GraphAPIError


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_from_response(status: int | None, body: Mapping[str, Any] | None, fallback_message: str = "") -> GraphAPIError:
    """Build the typed error for an error response.

    ``body`` is the decoded JSON body (Meta's ``{"error": {...}}``) or None when the body was
    not JSON (a proxy's HTML page, an empty 502). In that case the family comes from the status.
    """
    raw: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    error = raw.get("error") if isinstance(raw.get("error"), Mapping) else {}
    code = _as_int(error.get("code"))
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else error_data
    cls = error_class_for(code, status)
    return cls(
        message=str(error.get("message") or fallback_message or f"HTTP {status}"),
        code=code,
        subcode=_as_int(error.get("error_subcode")),
        status=status,
        fbtrace_id=error.get("fbtrace_id"),
        details=str(details) if details is not None else None,
        raw=raw,
    )
