"""Two-window comparisons of output behaviour: a rate or a mean, current minus reference.

- Rates (refusals, non-English answers, JSON validity, each check's passes): the difference
  with Newcombe's hybrid score interval (from Wilson intervals), and a two-sided p-value from
  Fisher's exact test for small counts (up to ``EXACT_UP_TO`` lines in all), else the pooled
  two-proportion z (score) test, which is accurate at those sizes.
- Means (answer length in words): Welch's t interval and test from the running mean and
  variance of each window, so no window keeps its lengths. Student's t distribution comes
  from the regularized incomplete beta function (a continued fraction), checked against
  scipy in ``tests/test_drift_stats.py``.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_llmops.core.stats import wilson_interval
from pytest_llmops.core.slices import newcombe_interval
from pytest_llmops.suites.adversarial.significance import fisher_exact

EXACT_UP_TO = 1000


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return min(1.0, incomplete_beta(df / 2, 0.5, df / (df + t * t)))


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile (q > 0.5) of Student's t, by bisection on the tail probability."""
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > 2 * (1 - q):
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if t_two_sided_p(mid, df) > 2 * (1 - q):
            low = mid
        else:
            high = mid
    return (low + high) / 2


def compare_means(ref: tuple[int, float, float], cur: tuple[int, float, float], unit: str = "") -> dict[str, Any]:
    """Welch's comparison of two means from ``(n, mean, variance)``: ``value`` = current - reference."""
    (n1, m1, v1), (n2, m2, v2) = ref, cur
    out: dict[str, Any] = {"reference": round(m1, 6) if n1 else None, "current": round(m2, 6) if n2 else None,
                           "n_reference": n1, "n_current": n2, "unit": unit, "test": "Welch t"}
    if n1 < 2 or n2 < 2:
        return {**out, "value": None, "ci95": [None, None], "p_value": None}
    diff = m2 - m1
    se2 = v1 / n1 + v2 / n2
    if se2 == 0:
        p = 1.0 if diff == 0 else 0.0
        return {**out, "value": round(diff, 6), "ci95": [round(diff, 6), round(diff, 6)], "p_value": p}
    df = se2 ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    se = math.sqrt(se2)
    half = t_quantile(0.975, df) * se
    return {**out, "value": round(diff, 6), "ci95": [round(diff - half, 6), round(diff + half, 6)],
            "p_value": t_two_sided_p(diff / se, df), "df": round(df, 2)}


def two_proportion_p(a: int, n1: int, b: int, n2: int) -> tuple[float, str]:
    """Two-sided p-value for ``a/n1`` vs ``b/n2``: Fisher's exact test, or the pooled z test for large n."""
    if n1 + n2 <= EXACT_UP_TO:
        return fisher_exact(a, n1, b, n2), "Fisher exact"
    pooled = (a + b) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0, "two-proportion z"
    z = (a / n1 - b / n2) / se
    return math.erfc(abs(z) / math.sqrt(2)), "two-proportion z"


def compare_rates(ref: tuple[int, int], cur: tuple[int, int]) -> dict[str, Any]:
    """``(count, n)`` per window -> rates with Wilson intervals and the difference (current -
    reference) with Newcombe's interval and a p-value."""
    (a, n1), (b, n2) = ref, cur

    def rate(k: int, n: int) -> dict[str, Any]:
        low, high = wilson_interval(k, n)
        return {"value": round(k / n, 6) if n else None, "ci95": [round(low, 6), round(high, 6)], "k": k, "n": n}

    out: dict[str, Any] = {"reference": rate(a, n1), "current": rate(b, n2)}
    if not n1 or not n2:
        return {**out, "value": None, "ci95": [None, None], "p_value": None, "test": None}
    low, high = newcombe_interval((b, n2), (a, n1))
    p_value, test = two_proportion_p(b, n2, a, n1)
    return {**out, "value": round(b / n2 - a / n1, 6), "ci95": [round(low, 6), round(high, 6)],
            "p_value": p_value, "test": test}
