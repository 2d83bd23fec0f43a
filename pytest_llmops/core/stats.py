"""Interval statistics the reports and gates rely on (pure Python, no scipy at import)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
import random as _random
import statistics as _st

Z95 = 1.959963984540054


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0.0, 1.0)`` when ``n`` is 0.

    The counts may be effective (non-integer) ones: a rate of clustered trials at its
    design-effect-adjusted sample size (see ``suites/repeats_metrics.py``)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} outside 0..n={n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp rounding noise; at p=0 or p=1 the bound is exactly 0 or 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def rate_metric(successes: int, n: int) -> dict[str, Any]:
    """``{"value", "ci95", "n"}`` for a rate; value is ``None`` when nothing was counted."""
    low, high = wilson_interval(successes, n)
    return {"value": (successes / n) if n else None, "ci95": [round(low, 6), round(high, 6)], "n": n}


# --------------------------------------------------------------------------- latency
# Percentiles and distribution-free bounds for latency samples (used by suites/latency).


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (``q`` in 0..1) with linear interpolation between order statistics.

    The same definition as ``numpy.percentile``'s default (and vLLM's benchmark tables), so
    our p50/p95/p99 can be compared with theirs.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q={q} outside 0..1")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), summed in log space so large ``n`` does not overflow."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lgn = math.lgamma(n + 1)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(lgn - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
    return min(1.0, total)


def upper_bound_rank(n: int, q: float, confidence: float = 0.95) -> int | None:
    """The smallest 1-based rank ``r`` with P(X_(r) >= true q-quantile) >= ``confidence``.

    X_(r) is below the quantile exactly when at least ``r`` samples are, so the coverage is
    P(Binomial(n, q) <= r - 1). This holds for any continuous distribution (no normality
    assumed). ``None`` when even the maximum is not a bound at this confidence
    (n < log(1 - confidence) / log(q); 59 for the p95 at 95%).
    """
    if n <= 0:
        return None
    for rank in range(1, n + 1):
        if binomial_cdf(rank - 1, n, q) >= confidence:
            return rank
    return None


def lower_bound_rank(n: int, q: float, confidence: float = 0.95) -> int | None:
    """The largest 1-based rank ``r`` with P(X_(r) <= true q-quantile) >= ``confidence``."""
    if n <= 0:
        return None
    for rank in range(n, 0, -1):
        if 1.0 - binomial_cdf(rank - 1, n, q) >= confidence:
            return rank
    return None


def min_samples_for_upper_bound(q: float, confidence: float = 0.95) -> int:
    """The fewest samples for which :func:`upper_bound_rank` exists (59 for p95 at 95%)."""
    return math.ceil(math.log(1.0 - confidence) / math.log(q) - 1e-12)


def quantile_upper_bound(values: Sequence[float], q: float, confidence: float = 0.95) -> float | None:
    """Distribution-free upper ``confidence`` bound of the ``q``-quantile; None when n is too small."""
    rank = upper_bound_rank(len(values), q, confidence)
    return sorted(values)[rank - 1] if rank is not None else None


def quantile_lower_bound(values: Sequence[float], q: float, confidence: float = 0.95) -> float | None:
    """Distribution-free lower ``confidence`` bound of the ``q``-quantile; None when n is too small."""
    rank = lower_bound_rank(len(values), q, confidence)
    return sorted(values)[rank - 1] if rank is not None else None


def bootstrap_ratio_of_medians(candidate: Sequence[float], baseline: Sequence[float], paired: bool = False,
                               resamples: int = 2000, seed: int = 0,
                               confidence: float = 0.95) -> tuple[float, float, float]:
    """``(ratio, low, high)``: median(candidate) / median(baseline) with a percentile bootstrap CI.

    ``paired`` resamples (candidate[i], baseline[i]) together: right when the two were
    measured interleaved on the same prompts, since it cancels drift both runs shared.
    """
    if not candidate or not baseline:
        raise ValueError("both samples need at least one value")
    if paired and len(candidate) != len(baseline):
        raise ValueError("paired samples need the same length")
    base_median = _st.median(baseline)
    if base_median <= 0:
        raise ValueError("the baseline median must be positive")
    ratio = _st.median(candidate) / base_median
    rng = _random.Random(seed)
    ratios = []
    n_c, n_b = len(candidate), len(baseline)
    for _ in range(resamples):
        if paired:
            picks = [rng.randrange(n_c) for _ in range(n_c)]
            c = [candidate[i] for i in picks]
            b = [baseline[i] for i in picks]
        else:
            c = [candidate[rng.randrange(n_c)] for _ in range(n_c)]
            b = [baseline[rng.randrange(n_b)] for _ in range(n_b)]
        denominator = _st.median(b)
        if denominator > 0:
            ratios.append(_st.median(c) / denominator)
    if not ratios:
        return ratio, ratio, ratio
    alpha = (1.0 - confidence) / 2
    return ratio, percentile(ratios, alpha), percentile(ratios, 1.0 - alpha)
