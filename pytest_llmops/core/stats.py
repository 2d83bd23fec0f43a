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


# --------------------------------------------------------------------------- paired comparisons
# Candidate vs reference on the same cases: shared by the regression kind and the prompt A/B
# comparison (numpy is imported only when something is compared).


def mcnemar_exact(regressed: int, improved: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there are none).

    Only discordant pairs carry information; under "no change" each is a fair coin, so the
    p-value is a binomial tail."""
    n = regressed + improved
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_cdf(min(regressed, improved), n, 0.5))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def bootstrap_means(values: Any, seed: int = 0, resamples: int = 2000) -> Any:
    """The means of ``resamples`` resamples (with replacement) of ``values``, as a numpy array.

    Resampling paired deltas keeps the pairing. Chunked so 10,000 cases x 2,000 resamples never
    holds 160 MB of indices at once."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    n = len(data)
    if n == 0:
        raise ValueError("a bootstrap needs at least one value")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 2_000_000 // n)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = data[idx].mean(axis=1)
    return means


def bootstrap_ci(deltas: Sequence[float], seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """Percentile 95% interval of ``mean(deltas)`` from a paired bootstrap."""
    import numpy as np

    low, high = np.percentile(bootstrap_means(deltas, seed, resamples), [2.5, 97.5])
    return float(low), float(high)


SIGN_FLIP_EXACT_MAX = 20  # nonzero deltas enumerated exactly (2**20 sums); more are sampled


def sign_flip_p(deltas: Sequence[float], seed: int = 0, resamples: int = 20000) -> float:
    """Two-sided p-value of the paired sign-flip (randomization) test of ``mean(deltas) == 0``.

    Under "no difference" each case's delta is as likely to have either sign, so the observed
    ``|sum|`` is compared with the sums of every sign assignment: exactly while there are at
    most :data:`SIGN_FLIP_EXACT_MAX` nonzero deltas, else from ``resamples`` random ones
    (add-one, so never 0). Zeros carry no information and drop out; with deltas of +-1 this is
    exactly :func:`mcnemar_exact`. Valid at any number of cases, with no normality assumed.
    """
    import numpy as np

    data = np.asarray([d for d in deltas if d != 0], dtype=float)
    if len(data) == 0:
        return 1.0
    observed = abs(float(data.sum())) - 1e-9 * (1.0 + float(np.abs(data).sum()))  # float ties count as extreme
    if len(data) <= SIGN_FLIP_EXACT_MAX:
        sums = np.zeros(1)
        for value in data:
            sums = np.concatenate([sums + value, sums - value])
        return float(np.count_nonzero(np.abs(sums) >= observed)) / len(sums)
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, resamples, 2000):
        signs = rng.choice((-1.0, 1.0), size=(min(2000, resamples - start), len(data)))
        extreme += int(np.count_nonzero(np.abs(signs @ data) >= observed))
    return (extreme + 1) / (resamples + 1)
