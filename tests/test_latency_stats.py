"""Latency statistics: percentiles, order-statistic bounds and the bootstrap ratio of medians."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from pytest_llmops.core import stats


def _binomial_cdf_exact(k: int, n: int, p: Fraction) -> Fraction:
    """Brute force: sum the binomial pmf with exact rationals."""
    return sum((Fraction(math.comb(n, i)) * p ** i * (1 - p) ** (n - i) for i in range(k + 1)), Fraction(0))


def _upper_rank_brute(n: int, q: Fraction, confidence: Fraction) -> int | None:
    for rank in range(1, n + 1):
        if _binomial_cdf_exact(rank - 1, n, q) >= confidence:
            return rank
    return None


@pytest.mark.parametrize("n", [1, 10, 58, 59, 60, 93, 100, 250])
@pytest.mark.parametrize("q", ["0.5", "0.9", "0.95", "0.99"])
def test_upper_bound_rank_matches_a_brute_force_binomial(n: int, q: str) -> None:
    expected = _upper_rank_brute(n, Fraction(q), Fraction(95, 100))
    assert stats.upper_bound_rank(n, float(q), 0.95) == expected


def test_binomial_cdf_agrees_with_exact_sums() -> None:
    for n, k, p in [(59, 58, "0.95"), (100, 97, "0.95"), (30, 10, "0.5"), (500, 490, "0.99")]:
        assert stats.binomial_cdf(k, n, float(p)) == pytest.approx(float(_binomial_cdf_exact(k, n, Fraction(p))),
                                                                  rel=1e-9, abs=1e-12)


def test_p95_needs_59_samples_for_an_upper_bound() -> None:
    assert stats.min_samples_for_upper_bound(0.95) == 59
    assert stats.min_samples_for_upper_bound(0.99) == 299
    assert stats.min_samples_for_upper_bound(0.5) == 5
    values = [float(v) for v in range(1, 59)]
    assert stats.quantile_upper_bound(values, 0.95) is None          # 58 samples: inconclusive
    assert stats.quantile_upper_bound(values + [59.0], 0.95) == 59.0  # 59 samples: the maximum
    # With more samples the bound moves below the maximum.
    hundred = [float(v) for v in range(1, 101)]
    assert stats.quantile_upper_bound(hundred, 0.95) == float(stats.upper_bound_rank(100, 0.95))
    assert stats.upper_bound_rank(100, 0.95) < 100


def test_upper_bound_covers_the_true_quantile_at_least_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    true_p95 = -math.log(0.05)  # exponential(1)
    covered = 0
    trials = 400
    for _ in range(trials):
        sample = [rng.expovariate(1.0) for _ in range(80)]
        covered += stats.quantile_upper_bound(sample, 0.95) >= true_p95
    assert covered / trials >= 0.92  # nominal 0.95 (exact coverage is >= 0.95; allow simulation noise)


def test_lower_bound_is_below_the_upper_bound() -> None:
    values = [float(v) for v in range(200)]
    low, high = stats.quantile_lower_bound(values, 0.5), stats.quantile_upper_bound(values, 0.5)
    assert low is not None and high is not None and low < stats.percentile(values, 0.5) < high


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 1.0, 4.0, 3.0]
    assert stats.percentile(values, 0.5) == 3.5
    assert stats.percentile(values, 0.0) == 1.0 and stats.percentile(values, 1.0) == 10.0
    assert stats.percentile(values, 0.95) == pytest.approx(4.0 + 6.0 * 0.85)
    with pytest.raises(ValueError):
        stats.percentile([], 0.5)


def test_bootstrap_ratio_of_medians() -> None:
    rng = random.Random(1)
    base = [100 + rng.gauss(0, 5) for _ in range(60)]
    slower = [1.5 * v for v in base]
    ratio, low, high = stats.bootstrap_ratio_of_medians(slower, base, paired=True, resamples=500)
    assert ratio == pytest.approx(1.5) and low == pytest.approx(1.5) and high == pytest.approx(1.5)
    same = [100 + rng.gauss(0, 5) for _ in range(60)]
    ratio, low, high = stats.bootstrap_ratio_of_medians(same, base, resamples=500)
    assert low < 1.0 < high and low < ratio < high
