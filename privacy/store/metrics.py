"""Latency, errors and crypto failures of the encrypted tracker store, as Prometheus metrics.

Why here and not in the backends: the operation an operator cares about is Rasa's
(``retrieve`` before a turn, ``save`` after it, ``keys``, and ``delete``, the erasure of a
person), each of which costs several backend round trips. The metrics and their label
vocabularies are defined in :mod:`observability.metrics` (``store_operation_duration``,
``store_errors``, ``crypto_errors``); labels are fixed words only, never a pseudonym.

Cheap on the hot path: the backend label is resolved once per store and the label
children are created once (``labels()`` looks a child up in a locked dict on every call).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from observability.labels import one_of
from observability.metrics import (
    CRYPTO_KINDS,
    STORE_BACKENDS,
    STORE_OPERATIONS,
    crypto_errors,
    store_errors,
    store_operation_duration,
)
from privacy.errors import DecryptionError, NoKeyInContextError, UnknownKeyVersionError
from privacy.sealing import REASON_AUTH

__all__ = ["StoreMetrics", "backend_label", "crypto_kind", "count_crypto_error"]

_CRYPTO_CHILDREN = {kind: crypto_errors.labels(kind=kind) for kind in sorted(CRYPTO_KINDS)}


def backend_label(backends: Any) -> str:
    """The ``backend`` label of a store's backends: ``sqlite``, ``postgresql``, ``redis``, else ``memory``.

    Backends without a known ``kind`` (the in-process fakes tests and embedders pass) keep
    nothing on disk, so they are counted as ``memory``.
    """
    kind = getattr(getattr(backends, "live", None), "kind", None)
    label = one_of(kind, STORE_BACKENDS)
    return label if label in STORE_BACKENDS else "memory"


def crypto_kind(error: BaseException) -> str:
    """The ``kind`` label of a failed key derivation or unsealing.

    ``tampered``: AES-GCM authentication failed (a modified byte, or a record moved to
    another pseudonym or key version: GCM cannot tell them apart, :mod:`privacy.sealing`);
    ``key_derivation``: no key for the record's version, or none bound to the request;
    ``decrypt``: anything else that made a record unreadable (truncated, wrong format).
    """
    if isinstance(error, (UnknownKeyVersionError, NoKeyInContextError)):
        return "key_derivation"
    if isinstance(error, DecryptionError) and error.reason == REASON_AUTH:
        return "tampered"
    return "decrypt"


def count_crypto_error(kind: str) -> None:
    """Add one to ``blaupause_crypto_errors{kind}`` (an unknown kind counts as ``decrypt``)."""
    _CRYPTO_CHILDREN.get(kind, _CRYPTO_CHILDREN["decrypt"]).inc()


class StoreMetrics:
    """The label children of one store: duration and error counter per operation."""

    def __init__(self, backends: Any) -> None:
        self.backend = backend_label(backends)
        self._durations = {
            op: store_operation_duration.labels(backend=self.backend, operation=op) for op in STORE_OPERATIONS
        }
        self._errors = {op: store_errors.labels(backend=self.backend, operation=op) for op in STORE_OPERATIONS}

    @contextmanager
    def measure(self, operation: str) -> Iterator[None]:
        """Time the block as ``operation``; count it as an error if it raises (and re-raise)."""
        started = time.perf_counter()
        try:
            yield
        except Exception:  # a cancelled turn (CancelledError) is not a store error
            self._errors[operation].inc()
            raise
        finally:
            self._durations[operation].observe(time.perf_counter() - started)
