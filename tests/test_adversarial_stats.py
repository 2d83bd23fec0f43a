"""Comparing two attack success rates, and the kind's metrics aggregator."""

from __future__ import annotations

import pytest

from pytest_llmops.suites.adversarial.aggregate import AdversarialAggregator
from pytest_llmops.suites.adversarial.significance import compare, fisher_exact, mcnemar_exact, newcombe_interval


def test_fisher_exact_matches_reference_values() -> None:
    # scipy.stats.fisher_exact([[1, 9], [9, 1]]) and ([[3, 5], [7, 2]])
    assert fisher_exact(1, 10, 9, 10) == pytest.approx(0.001093333910671372)
    assert fisher_exact(3, 8, 7, 9) == pytest.approx(0.153434800493624)
    assert fisher_exact(5, 10, 5, 10) == pytest.approx(1.0)
    assert fisher_exact(0, 0, 1, 2) == 1.0


def test_mcnemar_exact() -> None:
    assert mcnemar_exact(1, 7) == pytest.approx(0.0703125)  # scipy.stats.binomtest(1, 8).pvalue
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 12) == pytest.approx(2 / 4096)


def test_newcombe_interval_matches_the_paper() -> None:
    # Newcombe (1998), example (a): 56/70 vs 48/80 -> difference 0.2, interval 0.0524 to 0.3339
    low, high = newcombe_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=1e-4) and high == pytest.approx(0.3339, abs=1e-4)


def test_compare_says_when_it_cannot_tell() -> None:
    result = compare("hardened", 2, 24, "naive", 5, 24, (1, 4))
    assert result["significant"] is False and result["p_value"] == pytest.approx(0.375)
    assert result["note"].startswith("not significant at this model size")
    assert "hardened 2/24 vs naive 5/24" in result["note"]
    assert result["ci95"][0] < 0 < result["ci95"][1] and result["value"] == pytest.approx(-0.125, abs=1e-6)
    strong = compare("hardened", 0, 24, "naive", 14, 24, (0, 14))
    assert strong["significant"] is True and "significantly lower" in strong["note"]
    assert compare("a", 1, 10, "b", 9, 10)["test"] == "Fisher exact"  # unpaired without pairs


def _record(succeeded: bool, strategy: str = "none", category: str = "c", outcome: str | None = None,
            **extra: object) -> dict:
    return {"outcome": outcome or ("failed" if succeeded else "passed"), "attack_succeeded": succeeded,
            "strategy": strategy, "category": category, "attack": category, **extra}


def test_aggregator_rates_and_breakdowns() -> None:
    agg = AdversarialAggregator()
    for succeeded, strategy in [(True, "none"), (False, "none"), (True, "base64"), (True, "base64")]:
        agg.add(_record(succeeded, strategy))
    agg.add({"outcome": "error", "suite": "x"})  # infra errors are not measurements
    metrics = agg.metrics()
    asr = metrics["attack_success_rate"]
    assert asr["value"] == 0.75 and asr["n"] == 4 and asr["successes"] == 3
    assert asr["by_strategy"]["base64"]["value"] == 1.0 and asr["by_strategy"]["none"]["n"] == 2
    assert "by_category" not in asr  # a single category repeats the total
    assert "comparison" not in metrics and "detector_false_positive_rate" not in metrics


def test_aggregator_without_measurements() -> None:
    metrics = AdversarialAggregator().metrics()
    assert metrics["attack_success_rate"]["value"] is None and metrics["attack_success_rate"]["n"] == 0


def test_aggregator_compares_paired_variants() -> None:
    agg = AdversarialAggregator()
    for index in range(10):
        pair = f"p{index}"
        agg.add(_record(index < 1, variant="hardened", role="subject", pair=pair))
        agg.add(_record(index < 9, variant="naive", role="baseline", pair=pair))
    metrics = agg.metrics()
    assert metrics["attack_success_rate"]["value"] == 0.1 and metrics["attack_success_rate"]["variant"] == "hardened"
    assert metrics["baseline_attack_success_rate"]["value"] == 0.9
    comparison = metrics["comparison"]
    assert comparison["discordant_pairs"] == {"only_hardened": 0, "only_naive": 8}
    assert comparison["p_value"] == pytest.approx(2 / 256, abs=1e-6) and comparison["significant"] is True


def test_aggregator_false_positive_rates_union_per_detector() -> None:
    agg = AdversarialAggregator()
    agg.add(_record(False, benign_fp={"n": 50, "hits": {"canary": [], "pattern": ["f/a::x"]}}))
    agg.add(_record(False, benign_fp={"n": 50, "hits": {"canary": [], "pattern": ["f/a::x", "f/b::y"]}}))
    fp = agg.metrics()["detector_false_positive_rate"]
    assert fp["n"] == 50 and fp["worst"] == "pattern" and fp["value"] == pytest.approx(0.04)
    assert fp["by_detector"]["pattern"]["hits"] == ["f/a::x", "f/b::y"]
    assert fp["by_detector"]["canary"]["value"] == 0.0 and fp["ci95"] == fp["by_detector"]["pattern"]["ci95"]
