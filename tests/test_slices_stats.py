"""The slice statistics (core/slices.py): against published values and scipy, and by simulation.

The simulations are seeded, so each figure is fixed; docs/slices.md quotes them.
"""

from __future__ import annotations

import random

import pytest

from pytest_llmops.core.slices import newcombe_interval, slice_summary

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("a, b, expected", [
    # Newcombe (1998), "Interval estimation for the difference between independent proportions",
    # Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score), rounded to 4 places.
    ((56, 70), (48, 80), (0.0524, 0.3339)),
    ((9, 10), (3, 10), (0.1705, 0.8090)),
    ((6, 7), (2, 7), (0.0582, 0.8062)),
    ((5, 56), (0, 29), (-0.0381, 0.1926)),
])
def test_newcombe_matches_the_published_examples(a, b, expected):
    low, high = newcombe_interval(a, b)
    assert (round(low, 4), round(high, 4)) == expected


@pytest.mark.parametrize("passed, n", [(0, 10), (3, 10), (75, 100), (100, 100), (17, 40)])
def test_group_intervals_are_scipys_wilson(passed, n):
    summary = slice_summary({"g": (passed, n), "h": (1, 2)})
    ci = scipy_stats.binomtest(passed, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert summary["groups"]["g"]["ci95"] == pytest.approx([ci.low, ci.high], abs=1e-6)
    assert summary["groups"]["g"]["rate"] == pytest.approx(passed / n)


def test_two_groups_gap_is_the_newcombe_interval():
    summary = slice_summary({"free": (75, 100), "pro": (95, 100)})
    gap = summary["max_gap"]
    low, high = newcombe_interval((95, 100), (75, 100))
    assert gap["value"] == pytest.approx(0.2)
    assert gap["between"] == ["pro", "free"]
    assert (gap["lb95"], gap["ub95"]) == (round(low, 6), round(high, 6))
    assert gap["lb95"] > 0  # the planted gap: the interval excludes 0
    assert summary["pairs"][0]["excludes_zero"] is True


def test_many_groups_use_bonferroni_over_the_pairs():
    counts = {"a": (40, 50), "b": (30, 50), "c": (35, 50)}
    summary = slice_summary(counts)
    level = 1 - 0.05 / 3
    low, high = newcombe_interval(counts["a"], counts["b"], level)
    assert summary["max_gap"]["n_pairs"] == 3
    assert summary["max_gap"]["between"] == ["a", "b"]
    # a vs b has the largest observed gap and the widest interval ends here
    assert summary["max_gap"]["lb95"] == round(max(low, 0.0), 6)
    assert summary["max_gap"]["ub95"] == round(high, 6)
    # wider than the unadjusted two-group interval
    assert summary["max_gap"]["ub95"] > newcombe_interval(counts["a"], counts["b"])[1]


def test_edge_cases():
    one = slice_summary({"only": (3, 4)})
    assert one["n_groups"] == 1 and one["max_gap"]["value"] is None and one["max_gap"]["ub95"] is None
    empty = slice_summary({"x": (0, 0), "y": (2, 5)})
    assert empty["groups"]["x"]["rate"] is None and empty["n_groups"] == 1
    assert slice_summary({})["max_gap"]["lb95"] is None
    equal = slice_summary({"x": (5, 10), "y": (5, 10)})
    assert equal["max_gap"]["value"] == 0 and equal["max_gap"]["lb95"] == 0.0 and equal["max_gap"]["ub95"] > 0.3
    for bad in ({"x": (5, 4)}, {"x": (-1, 4)}, {"x": (1.5, 4)}, {"x": (1,)}, {"x": (True, 4)}):
        with pytest.raises(ValueError, match="group 'x'"):
            slice_summary(bad)
    with pytest.raises(ValueError, match="confidence"):
        slice_summary({"x": (1, 2)}, confidence=1.5)


def _simulate(rates, n, trials, seed):
    """(coverage of the true max gap, simultaneous coverage of all pairwise differences, share
    of trials whose gap interval excludes 0)."""
    rng = random.Random(seed)
    true_gap = max(rates.values()) - min(rates.values())
    covered = all_pairs = flagged = 0
    for _ in range(trials):
        counts = {g: (sum(rng.random() < p for _ in range(n)), n) for g, p in rates.items()}
        summary = slice_summary(counts)
        gap = summary["max_gap"]
        covered += gap["lb95"] - 1e-9 <= true_gap <= gap["ub95"] + 1e-9
        flagged += gap["lb95"] > 0
        m = len(rates) * (len(rates) - 1) // 2
        ok = True
        groups = sorted(rates)
        for i, a in enumerate(groups):
            for b in groups[i + 1:]:
                low, high = newcombe_interval(counts[a], counts[b], 1 - 0.05 / m)
                ok &= low - 1e-9 <= rates[a] - rates[b] <= high + 1e-9
        all_pairs += ok
    return covered / trials, all_pairs / trials, flagged / trials


@pytest.mark.parametrize("rates, n", [
    ({"a": 0.5, "b": 0.5}, 30),
    ({"a": 0.9, "b": 0.9}, 50),
    ({"a": 0.95, "b": 0.75}, 100),
    ({"a": 0.8, "b": 0.7, "c": 0.6}, 40),
    ({"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.9, "e": 0.9}, 60),
    ({"a": 0.97, "b": 0.85, "c": 0.9, "d": 0.92}, 25),
])
def test_coverage_by_simulation(rates, n):
    """The max-gap interval covers the true max gap, and the pairwise intervals all hold, in at
    least ~95% of 400 seeded simulations (a binomial 400 at 0.95 falls below 0.925 with
    probability < 0.01)."""
    gap_coverage, pairwise_coverage, _ = _simulate(rates, n, trials=400, seed=sum(map(ord, str(rates))) + n)
    assert gap_coverage >= 0.925, gap_coverage
    assert pairwise_coverage >= 0.925, pairwise_coverage


EQUAL_RATES = [({"free": 0.8, "pro": 0.8}, 150), ({"a": 0.5, "b": 0.5}, 30), ({"a": 0.9, "b": 0.9}, 50),
               ({"a": 0.8, "b": 0.8, "c": 0.8, "d": 0.8}, 100), ({"a": 0.7, "b": 0.7, "c": 0.7}, 60)]


def test_equal_rates_rarely_flagged_and_a_planted_gap_found():
    """False alarms (the gap interval excluding 0 although every group has the same rate): at most
    5% pooled over five equal-rate settings, 1,000 seeded simulations each, and no setting above
    6.5% (two groups sit at the nominal 5%: it is a 95% interval; more groups are conservative).
    A 25% vs 5% failure-rate gap at 150 cases a group is found nearly always."""
    alarms = [_simulate(rates, n, trials=1000, seed=index)[2] for index, (rates, n) in enumerate(EQUAL_RATES)]
    assert max(alarms) <= 0.065, alarms
    assert sum(alarms) / len(alarms) <= 0.05, alarms
    _, _, found = _simulate({"free": 0.75, "pro": 0.95}, 150, trials=300, seed=3)
    assert found >= 0.95, found
