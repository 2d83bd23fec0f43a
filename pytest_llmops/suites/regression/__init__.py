"""The regression suite: golden sets, baselines and paired candidate-vs-baseline statistics."""

from pytest_llmops.suites.regression.kind import KIND

__all__ = ["KIND"]
