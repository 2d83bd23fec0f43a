"""Scale-aware tolerances, the power statement and candidate-vs-baseline agreement (units).

The aggregator is fed the records the suite kind writes, so these tests exercise the same
decision code a run uses, without a model.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmops.suites.regression.aggregate import RegressionAggregator
from pytest_llmops.suites.regression.agreement import (
    AgreementSpec,
    compare_answers,
    sign_test_worse,
    smallest_alarm,
)
from pytest_llmops.suites.regression.metrics import Tolerance
from pytest_llmops.suites.regression.paired import minimum_detectable_drop


@pytest.mark.parametrize(("raw", "value", "relative"), [(0.05, 0.05, False), ("10%", 0.10, True),
                                                        (" 2.5% ", 0.025, True), (0, 0.0, False)])
def test_tolerance_parses_absolute_and_relative_margins(raw: Any, value: float, relative: bool) -> None:
    tolerance = Tolerance.parse(raw)
    assert tolerance.value == pytest.approx(value) and tolerance.relative is relative


@pytest.mark.parametrize("raw", ["ten%", "150%", -0.1, 1.0, True, "0.05", None])
def test_tolerance_rejects_what_is_not_a_margin(raw: Any) -> None:
    with pytest.raises(ValueError, match="expected"):
        Tolerance.parse(raw)


def test_relative_tolerance_is_a_share_of_the_baseline_mean() -> None:
    assert Tolerance.parse("10%").absolute(0.04) == pytest.approx(0.004)
    assert Tolerance.parse(0.05).absolute(0.04) == pytest.approx(0.05)


def test_agreement_spec_parses_and_rejects() -> None:
    assert AgreementSpec.parse(None) == AgreementSpec()
    assert not AgreementSpec.parse(False).enabled
    assert AgreementSpec.parse({"gate": False}) == AgreementSpec(gate=False)
    for bad in ({"tolerance": 0.02}, {"gate": "yes"}, {"margin": 0.1}, "on"):
        with pytest.raises(ValueError, match="expected"):
            AgreementSpec.parse(bad)


def test_same_answers_agree_without_scoring() -> None:
    record = compare_answers("Paris.", " Paris. ", {}, None, None)
    assert record == {"same": True, "similarity": 1.0, "verdict": "same"}


@pytest.mark.parametrize(("candidate", "flips", "fluency", "verdict", "reason"), [
    ("I think maybe Paris, but I could be wrong.", {}, None, "worse", "no_hedging"),
    ("Paris Paris Paris Paris Paris", {}, None, "worse", "no_repetition"),
    ("Je pense que la réponse est Paris, mais je ne suis pas certain.", {}, None, "worse", "english"),
    ("", {}, None, "worse", "not_empty"),
    ("I'm sorry, but I can't help with that.", {}, None, "worse", "no_refusal"),
    ("France of capital the is Paris.", {}, (0.01, 0.7), "worse", "fluency"),
    ("Lyon is the capital of France.", {"contains": "regressed"}, (0.5, 0.7), "worse", "contains failed"),
    ("It is Paris, the capital of France.", {}, (0.6, 0.7), "tie", None),
])
def test_a_changed_answer_is_judged_by_what_a_reader_would_see(candidate: str, flips: dict[str, str],
                                                               fluency: tuple[float, float] | None,
                                                               verdict: str, reason: str | None) -> None:
    record = compare_answers(candidate, "The capital of France is Paris.", flips, fluency, lambda a, b: 0.5)
    assert record["verdict"] == verdict, record
    assert record["same"] is False and record["similarity"] == 0.5
    if reason:
        assert any(r.startswith(reason) for r in record["worse"]), record


def test_a_fix_counts_as_better() -> None:
    record = compare_answers("The capital of France is Paris.", "I think maybe Paris.", {"contains": "improved"},
                             (0.7, 0.05), None)
    assert record["verdict"] == "better" and "similarity" not in record


def test_the_sign_test_and_the_smallest_alarm() -> None:
    assert sign_test_worse(0, 0) == 1.0
    assert sign_test_worse(6, 0) == pytest.approx(0.5 ** 6)
    assert sign_test_worse(5, 5) == pytest.approx(0.623046875)  # P(X >= 5 | 10 fair coins)
    assert sign_test_worse(1, 9) > 0.99
    assert smallest_alarm(1) == 6 and smallest_alarm(4) == 8  # 0.5**8 * 4 < 0.025 <= 0.5**7 * 4
    # identical answers: the spread of the baseline scores stands in for the deltas'
    assert minimum_detectable_drop([0.0] * 100, [0.0, 1.0] * 50, 0.05) == pytest.approx(0.05 + 2.8 * 0.5025 / 10,
                                                                                       rel=1e-3)


def _record(case: str, cand: dict[str, float], base: dict[str, float], verdict: str = "same",
            config: dict[str, Any] | None = None) -> dict[str, Any]:
    config = config or {"bleu": {"threshold": 0.3, "gate": True, "tolerance": 0.1, "tolerance_relative": True}}
    passed = {k: v >= config[k]["threshold"] for k, v in cand.items()}
    base_passed = {k: v >= config[k]["threshold"] for k, v in base.items()}
    return {"id": case, "regression": {
        "status": "compared", "scores": cand, "passed": passed, "metrics_config": config, "seed": 0,
        "suite_complete": True, "baseline_source": "model:x",
        "baseline": {"output": "b", "scores": base, "passed": base_passed},
        "agreement": {"same": verdict == "same", "verdict": verdict, "similarity": 1.0 if verdict == "same" else 0.4},
        "agreement_config": {"gate": True}}}


def _aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    aggregator = RegressionAggregator()
    for record in records:
        aggregator.add(record)
    return aggregator.metrics()


def test_a_low_baseline_metric_can_regress_under_a_relative_tolerance() -> None:
    # BLEU's baseline mean is 0.04: an absolute 0.05 margin could never be crossed; 10% of it can.
    records = [_record(f"q{i}", {"bleu": 0.02}, {"bleu": 0.04}) for i in range(100)]
    metrics = _aggregate(records)
    assert metrics["bleu"]["tolerance_abs"] == pytest.approx(0.004)
    assert metrics["bleu"]["decision"] == "regressed"
    assert "below the tolerance -0.004" in metrics["run_failures"][0]


def test_answers_changed_for_the_worse_regress_the_suite_even_when_scores_hold() -> None:
    records = [_record(f"q{i}", {"bleu": 0.5}, {"bleu": 0.5}, verdict="worse" if i < 30 else "same")
               for i in range(200)]
    metrics = _aggregate(records)
    agreement = metrics["agreement"]
    assert metrics["bleu"]["decision"] == "non_inferior"
    assert agreement["worse"] == 30 and agreement["better"] == 0
    assert agreement["same_output"]["value"] == pytest.approx(170 / 200)
    assert agreement["net_change"]["value"] == pytest.approx(-0.15)
    assert agreement["decision"] == "regressed" and metrics["decision"] == "regressed"
    assert agreement["p_inferiority"] == pytest.approx(0.5 ** 30)
    assert any(line.startswith("agreement regressed: 30 answers changed for the worse") for line in
               metrics["run_failures"])


def test_a_few_worse_answers_alone_do_not_raise_the_alarm() -> None:
    # 5 worse, 0 better: p = 1/32, above 0.025 before any correction.
    records = [_record(f"q{i}", {"bleu": 0.5}, {"bleu": 0.5}, verdict="worse" if i < 5 else "same")
               for i in range(200)]
    metrics = _aggregate(records)
    assert metrics["agreement"]["decision"] == "no_alarm" and metrics["decision"] == "non_inferior"


def test_changes_in_both_directions_do_not_regress() -> None:
    verdicts = ["worse", "better", "tie", "same", "same"] * 40
    metrics = _aggregate([_record(f"q{i}", {"bleu": 0.5}, {"bleu": 0.5}, v) for i, v in enumerate(verdicts)])
    assert metrics["agreement"]["net_change"]["value"] == pytest.approx(0.0)
    assert metrics["agreement"]["decision"] == "no_alarm" and metrics["decision"] != "regressed"


def test_identical_runs_are_non_inferior_with_zero_flips() -> None:
    metrics = _aggregate([_record(f"q{i}", {"bleu": 0.1 * (i % 5)}, {"bleu": 0.1 * (i % 5)}) for i in range(50)])
    assert metrics["decision"] == "non_inferior"
    assert metrics["agreement"]["worse"] == metrics["agreement"]["better"] == 0
    assert metrics["bleu"]["flips"]["regressed"] == metrics["bleu"]["flips"]["improved"] == 0
    assert metrics["bleu"]["mde80"] > metrics["bleu"]["tolerance_abs"]
