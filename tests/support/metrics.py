"""Reading the process's Prometheus registry in tests: a sample's value and its change around a block.

Why deltas: ``observability.metrics.REGISTRY`` is process-global, so every test that counts
compares before and after instead of asserting absolute values.
"""
from __future__ import annotations

from observability.metrics import REGISTRY

__all__ = ["sample", "Delta"]


def sample(name: str, **labels: str) -> float:
    """The current value of one sample (0.0 while the series does not exist)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """A sample's value now; calling it later gives how much it changed since."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels
        self.before = sample(name, **labels)

    def __call__(self) -> float:
        return sample(self.name, **self.labels) - self.before
