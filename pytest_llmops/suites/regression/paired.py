"""Paired statistics for candidate vs baseline on the same cases.

- Exact McNemar test on pass/fail: only discordant pairs carry information; under "no
  change" each discordant pair is a fair coin, so the two-sided p-value is a binomial tail.
- Paired bootstrap of the mean score delta (candidate minus baseline, higher is better):
  resample cases with replacement, keep the pairing, take percentiles of the means.
- A three-way decision against a declared tolerance, the non-inferiority margin:
  ``non_inferior`` when the delta is shown to be above ``-tolerance``, ``regressed`` when it
  is shown to be below it, ``inconclusive`` otherwise (too few cases to tell).
- Holm's step-down correction across the gated metrics, so gating five metrics does not
  give five chances to pass (or to fail) by luck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

# The paired tests themselves live in core.stats, shared with the prompt A/B comparison.
from pytest_llmops.core.stats import bootstrap_means, holm, mcnemar_exact

__all__ = ["ALPHA_ONE_SIDED", "BOOTSTRAP_RESAMPLES", "DECISIONS", "BootstrapResult", "decide", "holm",
           "mcnemar_exact", "minimum_detectable_drop", "paired_bootstrap", "worst"]

ALPHA_ONE_SIDED = 0.025  # each side of a two-sided 95% interval
BOOTSTRAP_RESAMPLES = 2000
DECISIONS = ("non_inferior", "inconclusive", "regressed")


@dataclass(frozen=True)
class BootstrapResult:
    """The paired bootstrap of one metric's mean delta."""

    delta: float
    ci95: tuple[float, float]
    #: one-sided p-values against the margin -tolerance (add-one estimates, never exactly 0)
    p_noninferior: float  # small: the delta is above -tolerance
    p_inferior: float  # small: the delta is below -tolerance


def paired_bootstrap(deltas: Sequence[float], tolerance: float, seed: int = 0,
                     resamples: int = BOOTSTRAP_RESAMPLES) -> BootstrapResult:
    """Percentile bootstrap of ``mean(deltas)`` with one-sided tests against ``-tolerance``."""
    import numpy as np  # only when a suite is compared: keeps the kind's import light

    values = np.asarray(deltas, dtype=float)
    if len(values) == 0:
        raise ValueError("paired_bootstrap needs at least one paired case")
    means = bootstrap_means(values, seed, resamples)
    low, high = np.percentile(means, [2.5, 97.5])
    margin = -tolerance
    # Add-one: a bootstrap never proves a probability of exactly zero.
    below = int(np.count_nonzero(means < margin))
    at_or_above = resamples - below
    return BootstrapResult(delta=float(values.mean()), ci95=(float(low), float(high)),
                           p_noninferior=(below + 1) / (resamples + 1),
                           p_inferior=(at_or_above + 1) / (resamples + 1))


def minimum_detectable_drop(deltas: Sequence[float], baseline_scores: Sequence[float], tolerance: float,
                            z: float = 1.96 + 0.84) -> float:
    """The mean drop this run would call ``regressed`` with 80% power (two-sided 5% test).

    ``tolerance + z * s / sqrt(n)``, where ``s`` is the spread of the paired deltas, or of
    the baseline scores when that is larger: a run whose answers did not change at all has
    deltas with no spread, yet a real change would move scores about as much as they vary.
    A "non_inferior" decision is read against this: drops smaller than it can go unseen.
    """
    n = len(deltas)
    if n == 0:
        return float("nan")

    def spread(values: Sequence[float]) -> float:
        mean = sum(values) / len(values)
        return (sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) ** 0.5

    s = max(spread(deltas), spread(baseline_scores) if baseline_scores else 0.0)
    return tolerance + z * s / n ** 0.5


def decide(p_noninferior: float, p_inferior: float, alpha: float = ALPHA_ONE_SIDED) -> str:
    """``regressed``, ``non_inferior`` or ``inconclusive`` from (adjusted) one-sided p-values."""
    if p_inferior < alpha:
        return "regressed"
    if p_noninferior < alpha:
        return "non_inferior"
    return "inconclusive"


def worst(decisions: Sequence[str]) -> str:
    """The suite's decision: regressed beats inconclusive beats non-inferior."""
    if not decisions:
        return "inconclusive"
    return max(decisions, key=DECISIONS.index)
