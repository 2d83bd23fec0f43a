"""The A/B statistics: the sign-flip test against scipy's permutation test, its McNemar special
case, and the fold of variant records (repeats, graded check scores, Holm, errors left out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from pytest_llmops.core.stats import bootstrap_ci, holm, mcnemar_exact, sign_flip_p
from pytest_llmops.report.ab import ABCollector
from pytest_llmops.report.ab_table import changed_candidates, markdown_rows, terminal_lines


def _scipy_sign_flip(deltas: list[float], resamples: int) -> float:
    result = stats.permutation_test((np.asarray(deltas),), np.mean, permutation_type="samples",
                                    alternative="two-sided", n_resamples=resamples, random_state=0)
    return float(result.pvalue)


@pytest.mark.parametrize("deltas", [
    [0.2, -0.4, 0.6, 0.6, 0.8, 0.0, 0.2, 0.4],
    [-1.0, -0.6, -0.8, 0.2, -0.4, -1.0, 0.0, -0.2, -0.6, -0.8, 0.4, -1.0],
    [0.5, -0.5, 0.25, -0.25],
])
def test_sign_flip_is_scipys_exact_permutation_test(deltas: list[float]) -> None:
    # Few cases: scipy enumerates every sign assignment, as we do.
    assert sign_flip_p(deltas) == pytest.approx(_scipy_sign_flip(deltas, 10 ** 6), rel=1e-9)


def test_sign_flip_samples_beyond_the_exact_limit() -> None:
    deltas = list(np.random.default_rng(3).normal(0.25, 1.0, 60))
    assert sign_flip_p(deltas, resamples=40000) == pytest.approx(_scipy_sign_flip(deltas, 40000), abs=0.01)


@pytest.mark.parametrize("worse, better, same", [(7, 1, 4), (10, 0, 0), (3, 3, 9), (0, 6, 2)])
def test_with_one_sample_the_sign_flip_test_is_mcnemar(worse: int, better: int, same: int) -> None:
    deltas = [-1.0] * worse + [1.0] * better + [0.0] * same
    assert sign_flip_p(deltas) == pytest.approx(mcnemar_exact(worse, better), rel=1e-12)
    assert mcnemar_exact(worse, better) == pytest.approx(
        stats.binomtest(min(worse, better), worse + better, 0.5).pvalue if worse + better else 1.0, rel=1e-9)


def test_no_difference_gives_p_one_and_a_zero_interval() -> None:
    assert sign_flip_p([0.0] * 12) == 1.0
    assert bootstrap_ci([0.0] * 12) == (0.0, 0.0)
    low, high = bootstrap_ci([-1.0] * 6 + [0.0] * 6)
    assert low < -0.5 < high < 0.0


def record(variant: str, case: str, outcome: str, *, reference: str = "a", fraction: float | None = None,
           score: float | None = None, output: str = "x", model: str = "m") -> dict[str, Any]:
    out: dict[str, Any] = {"suite": f"s@{variant}", "model": model, "id": case, "outcome": outcome, "output": output,
                           "prompt_variant": variant, "prompt_reference": reference, "prompt_suite": "s",
                           "checks": [{"name": "icontains", "passed": outcome == "passed",
                                       "score": float(outcome == "passed")}]}
    if score is not None:
        out["checks"].append({"name": "similar", "passed": True, "score": score})
    if fraction is not None:
        out["repeats"] = {"k": 5, "passed": round(fraction * 5), "pass_fraction": fraction, "rule": "majority",
                          "flaky": 0 < fraction < 1}
    return out


def fold(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    collector = ABCollector()
    for r in records:
        collector.add(r)
    return collector.results(lambda suite, model: suite)


def test_under_repeats_pass_fractions_are_compared_with_the_sign_flip_test() -> None:
    ref = [1.0, 0.8, 1.0, 0.6, 1.0, 0.8, 1.0, 1.0]
    cand = [0.4, 0.8, 0.2, 0.6, 0.4, 0.0, 0.6, 1.0]
    records = []
    for i, (r, c) in enumerate(zip(ref, cand)):
        records.append(record("a", f"c{i}", "passed" if r >= 0.6 else "failed", fraction=r))
        records.append(record("b", f"c{i}", "passed" if c >= 0.6 else "failed", fraction=c))
    ab = fold(records)[("s@b", "m")]
    metric = ab["metrics"]["pass_fraction"]
    assert "pass_rate" not in ab["metrics"] and metric["test"] == "sign_flip"
    deltas = [c - r for r, c in zip(ref, cand)]
    assert metric["p_value"] == pytest.approx(_scipy_sign_flip(deltas, 10 ** 6), abs=1e-6)
    assert metric["delta"]["value"] == pytest.approx(sum(deltas) / len(deltas), abs=1e-6)
    assert metric["reference"] == pytest.approx(sum(ref) / len(ref), abs=1e-6)
    flips = {f["id"]: (f["from_fraction"], f["to_fraction"]) for f in ab["flipped"]}
    assert flips == {"c0": (1.0, 0.4), "c2": (1.0, 0.2), "c4": (1.0, 0.4), "c5": (0.8, 0.0)}
    assert ab["decision"] == metric["verdict"] == ("worse" if metric["p_holm"] < 0.05 else "inconclusive")


def test_graded_scores_join_the_holm_family_and_errors_are_left_out() -> None:
    records = []
    for i in range(12):
        records.append(record("a", f"c{i}", "passed", score=0.9))
        records.append(record("b", f"c{i}", "passed" if i else "failed", score=0.5 + 0.01 * i, output=f"y{i}"))
    records.append(record("a", "broken", "error"))
    records.append(record("b", "broken", "passed"))
    records.append(record("b", "only-b", "passed"))
    ab = fold(records)[("s@b", "m")]
    assert (ab["paired"], ab["unpaired"], ab["same_outputs"]) == (12, 2, 0)
    assert set(ab["metrics"]) == {"pass_rate", "similar_score"}  # a 0/1 check score adds nothing
    p = [ab["metrics"][m]["p_value"] for m in ("pass_rate", "similar_score")]
    assert [ab["metrics"][m]["p_holm"] for m in ("pass_rate", "similar_score")] == pytest.approx(holm(p), abs=1e-6)
    score = ab["metrics"]["similar_score"]
    assert score["p_value"] == pytest.approx(2 / 2 ** 12, rel=1e-5)  # every case lower: the most extreme of 2^12
    assert score["verdict"] == "worse" and ab["metrics"]["pass_rate"]["verdict"] == "inconclusive"
    assert ab["decision"] == "worse"  # any metric worse makes the candidate worse


def test_models_are_compared_separately_and_a_missing_reference_is_inconclusive() -> None:
    records = [record("a", "c0", "passed", model="m1"), record("b", "c0", "failed", model="m1"),
               record("b", "c0", "failed", model="m2")]
    results = fold(records)
    assert results[("s@b", "m1")]["paired"] == 1
    assert results[("s@b", "m2")]["decision"] == "inconclusive"
    assert "has no cases" in results[("s@b", "m2")]["decision_reason"]


def _report(versions: dict[str, str]) -> dict[str, Any]:
    suites = {}
    for variant, version in versions.items():
        ab: dict[str, Any] = {"suite": "s", "variant": variant, "reference": "a", "prompt_version": version}
        if variant == "a":
            ab["decision"] = "reference"
        else:
            ab.update(decision="worse", reference_suite="s@a", flips={"worse": 7, "better": 0},
                      flipped=[{"id": f"c{i}", "from": "passed", "to": "failed"} for i in range(7)],
                      metrics={"pass_rate": {"reference": 0.7, "candidate": 0.0, "delta": {"value": -0.7,
                               "ci95": [-0.9, -0.5]}, "n": 10, "test": "mcnemar_exact", "p_value": 0.0156,
                               "p_holm": 0.0156, "verdict": "worse"}})
        metrics: dict[str, Any] = {"ab": ab}
        if variant == "b":
            # Paid 0 this run (its answers were shared or cached): the table shows per case.
            metrics["cost"] = {"total": 0.0, "saved": 0.025, "per_case": 0.0125, "currency": "USD"}
        suites[f"s@{variant}"] = {"model": "m", "metrics": metrics}
    return {"suites": suites}


def test_changed_candidates_follow_template_versions() -> None:
    base = _report({"a": "v1", "b": "v2"})
    assert changed_candidates(base, _report({"a": "v1", "b": "v2"})) == set()
    assert changed_candidates(base, _report({"a": "v1", "b": "v3"})) == {"s@b"}
    assert changed_candidates(base, _report({"a": "v9", "b": "v2"})) == {"s@b"}  # the reference changed
    assert changed_candidates({"suites": {}}, _report({"a": "v1", "b": "v2"})) == {"s@b"}  # a new comparison
    assert changed_candidates(base, _report({"a": "v1", "b": "v2", "c": "v2"})) == {"s@b", "s@c"}


def test_rows_show_flips_and_the_cost_present() -> None:
    head = _report({"a": "v1", "b": "v2"})
    (row,) = markdown_rows(head["suites"])
    assert "c0 \u2193" in row and r"\(+2 more\)" in row
    assert "cost per case n/a \u2192 \\$0.0125" in row  # only the candidate's suite has a cost here
    (line,) = terminal_lines(head["suites"])
    assert line.startswith("A/B s@b vs a: WORSE") and "p 0.0156" in line and "flips 7 worse, 0 better" in line
