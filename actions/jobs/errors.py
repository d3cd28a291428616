"""Errors of the job providers, as types.

Why types: the actions decide what to tell the user by the kind of failure (service down,
request refused, place unknown), never by a status number or a message string. Every
provider raises only these; the original exception is kept as ``__cause__`` (``raise ... from``).
"""
from __future__ import annotations

__all__ = [
    "JobProviderError",
    "ProviderUnavailable",
    "MalformedResponse",
    "ProviderRejected",
    "UnknownLocation",
    "InvalidQuery",
    "ProviderConfigError",
    "JobDataError",
]


class JobProviderError(Exception):
    """Base of every error raised by a job provider."""


class ProviderUnavailable(JobProviderError):
    """The service is down, too slow, rate-limiting or answering 5xx, even after retries.

    The user should be told to try again later; nothing is wrong with the question.
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class MalformedResponse(ProviderUnavailable):
    """The service answered, but not in the documented shape (e.g. HTML instead of JSON)."""


class ProviderRejected(JobProviderError):
    """The service refused the request with a 4xx status (bad parameters, missing API key).

    Retrying the same request will not help; usually a configuration problem.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnknownLocation(JobProviderError):
    """``where`` is neither a known city nor the city of any posting.

    ``place`` holds the text as given; it is user input, so it is never logged above DEBUG.
    """

    def __init__(self, place: str) -> None:
        super().__init__("unknown location")
        self.place = place


class InvalidQuery(JobProviderError, ValueError):
    """A :class:`~actions.jobs.models.JobQuery` was built with values outside their range."""


class ProviderConfigError(JobProviderError):
    """The provider cannot be set up from the configuration (unknown name, bad number)."""


class JobDataError(ProviderConfigError):
    """The bundled or user-supplied data file (jobs or cities) cannot be read or is malformed."""
