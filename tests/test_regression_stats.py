"""Paired statistics and scoring functions of the regression suite, checked against independent computations."""

from __future__ import annotations

import math
import random

import pytest

from pytest_llmops.report.comparison_table import COMPARISON_TABLE_HEAD, compared_metrics, comparison_rows
from pytest_llmops.suites.regression import KIND
from pytest_llmops.suites.regression.golden import GoldenRow
from pytest_llmops.suites.regression.metrics import (
    MetricContext,
    bleu,
    contains,
    exact_match,
    json_fields,
    normalize,
    rouge_l,
    token_f1,
)
from pytest_llmops.suites.regression.paired import decide, holm, mcnemar_exact, paired_bootstrap, worst


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (5, 1), (12, 3), (30, 28), (0, 9), (200, 150)])
def test_mcnemar_matches_scipy_binomial_test(b: int, c: int) -> None:
    import scipy.stats as scipy_stats  # a test dependency (the dev extra), never skipped
    expected = 1.0 if b + c == 0 else scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)
    assert mcnemar_exact(b, c) == mcnemar_exact(c, b)


def test_holm_matches_the_step_down_definition() -> None:
    rng = random.Random(3)
    for _ in range(50):
        p = [rng.random() for _ in range(rng.randint(1, 6))]
        m = len(p)
        ordered = sorted(p)
        expected_sorted = []
        for i in range(m):
            expected_sorted.append(min(1.0, max((m - j) * ordered[j] for j in range(i + 1))))
        adjusted = holm(p)
        for value, original in zip(adjusted, p):
            assert value == pytest.approx(expected_sorted[ordered.index(original)])
        assert all(a >= q for a, q in zip(adjusted, p))


def test_bootstrap_interval_covers_the_mean_and_tests_the_margin() -> None:
    deltas = [-1.0] * 12 + [0.0] * 28
    result = paired_bootstrap(deltas, tolerance=0.05, seed=1)
    assert result.delta == pytest.approx(-0.3)
    assert result.ci95[0] < -0.3 < result.ci95[1] < -0.1
    assert result.p_inferior < 0.01 and result.p_noninferior > 0.99
    assert decide(result.p_noninferior, result.p_inferior) == "regressed"
    # Same seed, same answer.
    assert paired_bootstrap(deltas, 0.05, seed=1) == result


def test_identical_runs_are_non_inferior_and_tiny_samples_inconclusive() -> None:
    same = paired_bootstrap([0.0] * 10, tolerance=0.05)
    assert same.ci95 == (0.0, 0.0) and decide(same.p_noninferior, same.p_inferior) == "non_inferior"
    noisy = paired_bootstrap([1.0, -1.0, 0.0, 1.0, -1.0], tolerance=0.05)
    assert decide(noisy.p_noninferior, noisy.p_inferior) == "inconclusive"


def test_bootstrap_coverage_is_close_to_95_percent() -> None:
    # A calibration check of the percentile interval on paired 0/1 data with a known mean delta.
    rng = random.Random(7)
    covered = 0
    trials = 200
    for trial in range(trials):
        deltas = [rng.choice([-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]) for _ in range(80)]  # true mean 0
        low, high = paired_bootstrap(deltas, 0.05, seed=trial, resamples=500).ci95
        covered += low <= 0.0 <= high
    assert 0.88 <= covered / trials <= 0.99


def test_worst_decision_wins() -> None:
    assert worst(["non_inferior", "inconclusive"]) == "inconclusive"
    assert worst(["non_inferior", "regressed", "inconclusive"]) == "regressed"
    assert worst(["non_inferior"]) == "non_inferior"


def _row(expected: str | None = "Paris", accept: tuple[str, ...] = (), expected_json: dict | None = None) -> GoldenRow:
    return GoldenRow(id="r", line=1, input="q", vars={}, system=None, expected=expected, accept=list(accept),
                     pattern=None, expected_json=expected_json)


CTX = MetricContext()


def test_normalization_and_exact_and_contains() -> None:
    assert normalize("  The  Eiffel-Tower! ") == "eiffel tower"
    assert exact_match("paris.", _row(), CTX) == 1.0
    assert exact_match("It is Paris", _row(), CTX) == 0.0
    assert contains("It is Paris, of course", _row(), CTX) == 1.0
    assert contains("Parisian food", _row(), CTX) == 0.0  # whole words only
    assert contains("eight legs", _row("8", accept=("eight",)), CTX) == 1.0


def test_token_f1_rouge_and_bleu() -> None:
    assert token_f1("the capital is Paris", _row("Paris"), CTX) == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert token_f1("London", _row("Paris"), CTX) == 0.0
    assert rouge_l("the cat sat on the mat", _row("the cat sat on the mat"), CTX) == pytest.approx(1.0)
    assert 0.0 < rouge_l("the cat sat", _row("the cat sat on the mat"), CTX) < 1.0
    assert bleu("the cat sat on the mat", _row("the cat sat on the mat"), CTX) == pytest.approx(1.0)
    assert bleu("a dog ran", _row("the cat sat on the mat"), CTX) < 0.05


def test_json_fields_share_of_matching_fields() -> None:
    row = _row(None, expected_json={"city": "Paris", "country": "France"})
    assert json_fields('{"city": "paris", "country": "Spain"}', row, CTX) == 0.5
    assert json_fields("```json\n{\"city\": \"Paris\", \"country\": \"France\"}\n```", row, CTX) == 1.0
    assert json_fields("no json", row, CTX) == 0.0


def test_metric_without_reference_names_the_row() -> None:
    with pytest.raises(ValueError, match="needs 'expected'.*row 'r'"):
        contains("x", _row(None), CTX)


def test_exact_mcnemar_small_table_by_enumeration() -> None:
    # Two-sided exact test: sum of probabilities of outcomes at least as extreme as observed.
    b, c = 7, 1
    n = b + c
    probs = [math.comb(n, k) / 2 ** n for k in range(n + 1)]
    observed = probs[min(b, c)]
    expected = sum(p for p in probs if p <= observed + 1e-12)
    assert mcnemar_exact(b, c) == pytest.approx(expected)


@pytest.mark.parametrize(("metrics", "line"), [
    ({"decision": "non_inferior", "pass_rate": {"value": 1.0, "ci95": [0.8, 1.0]}}, "decision non_inferior"),
    ({"decision": "inconclusive"}, "decision inconclusive"),
    # No decision (every case an error): the terminal falls back to the pass rate.
    ({"pass_rate": {"value": 0.5, "ci95": [0.25, 0.75]}}, "pass rate 0.50 [0.25, 0.75]"),
    ({}, "n/a"),
])
def test_the_report_face_summary_is_the_decision(metrics: dict, line: str) -> None:
    assert KIND.face.summary(metrics) == line


def test_the_comparison_table_lists_paired_metrics_of_any_suite_kind() -> None:
    compared = {"n": 20, "baseline_mean": 0.8, "candidate_mean": 0.7, "delta": {"value": -0.1, "ci95": [-0.2, 0.0]},
                "p_value": 0.03, "p_holm": 0.06, "flips": {"improved": 1, "regressed": 3}, "decision": "regressed"}
    suites = {
        "qa": {"kind": "regression", "metrics": {"contains": compared, "decision": "regressed",
                                                 "pass_rate": {"value": 0.7, "ci95": [0.5, 0.8]}}},
        "plugin": {"kind": "someone-elses", "metrics": {"score": {**compared, "gate": False}}},
        # A decision without a paired delta (latency's ratio of medians) is not a paired comparison.
        "latency/demo": {"kind": "latency", "metrics": {"baseline_ratio": {"decision": "non-inferior"}}},
    }
    assert [name for name, _ in compared_metrics(suites["qa"])] == ["contains"]
    assert compared_metrics(suites["latency/demo"]) == []
    rows = comparison_rows(suites)
    assert len(rows) == 2 and COMPARISON_TABLE_HEAD.startswith("| suite | metric |")
    assert rows[0] == ("| qa | contains | 0.800 | 0.700 | -0.100 [-0.200, 0.000] | 0.030 (0.060) | 1/3 | "
                       "\u274c regressed |")
    assert rows[1].startswith("| plugin | score |") and rows[1].endswith("regressed (not gated) |")
