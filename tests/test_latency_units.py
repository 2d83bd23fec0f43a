"""Latency definitions (TTFT, TPOT, ITL, E2E) from synthetic timestamps, summaries, budgets, goodput."""

from __future__ import annotations

import pytest

from pytest_llmops.providers.base import InfraError
from pytest_llmops.suites.latency import KIND
from pytest_llmops.suites.latency.summary import (
    budget_checks,
    goodput,
    meets,
    overall_verdict,
    percentile_summary,
    ratio_of_medians,
)
from pytest_llmops.suites.latency.timers import timer_for
from pytest_llmops.suites.latency.timing import TimedGeneration
from pytest_llmops.suites.latency.workload import request_budget


def _timed(times: list[float], end: float, first: int = 0, tokens: int | None = None) -> TimedGeneration:
    return TimedGeneration(token_times=times, end=end, text="x", output_tokens=tokens or len(times),
                           finish_reason="length", first_content=first)


def test_definitions_follow_vllm() -> None:
    # Tokens at 100, 130, 150, 190 ms; the response ends at 200 ms.
    timed = _timed([0.100, 0.130, 0.150, 0.190], end=0.200)
    assert timed.ttft == pytest.approx(0.100)
    assert timed.tpot == pytest.approx((0.200 - 0.100) / 3)  # (E2E - TTFT) / (tokens - 1)
    assert timed.itl == pytest.approx([0.030, 0.020, 0.040])
    sample = timed.sample()
    assert sample["ttft_ms"] == pytest.approx(100.0) and sample["e2e_ms"] == pytest.approx(200.0)
    assert sample["tpot_ms"] == pytest.approx(100.0 / 3, abs=1e-3) and sample["output_tokens"] == 4


def test_ttft_is_the_first_non_empty_token() -> None:
    timed = _timed([0.050, 0.080, 0.120], end=0.130, first=1)  # the first token decoded to ""
    assert timed.ttft == pytest.approx(0.080)
    assert timed.itl == pytest.approx([0.040])
    assert timed.tpot == pytest.approx((0.130 - 0.080) / 2)


def test_one_token_has_no_tpot() -> None:
    timed = _timed([0.05], end=0.06)
    assert timed.tpot is None and timed.itl == [] and timed.sample()["tpot_ms"] is None


def test_a_response_without_finish_reason_or_tokens_is_infra() -> None:
    with pytest.raises(InfraError, match="finish_reason"):
        TimedGeneration(token_times=[0.1], end=0.2, text="x", output_tokens=1, finish_reason=None)
    with pytest.raises(InfraError, match="no output token"):
        TimedGeneration(token_times=[], end=0.2, text="", output_tokens=0, finish_reason="stop")


def test_token_clock_skips_the_prompt_and_syncs_each_token() -> None:
    pytest.importorskip("transformers")
    from pytest_llmops.suites.latency.timing_hf import TokenClock, first_content_index

    syncs: list[int] = []
    clock = TokenClock(sync=lambda: syncs.append(1))
    clock.put("prompt ids")
    assert clock.times == [] and syncs == []
    clock.put("token")
    clock.put("token")
    clock.end()
    assert len(clock.times) == 2 and clock.times[0] <= clock.times[1] and len(syncs) == 2

    class Tok:
        def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
            return "".join("" if i == 0 else "a" for i in ids)

    assert first_content_index(Tok(), [0, 0, 5, 6]) == 2
    assert first_content_index(Tok(), [7]) == 0


def test_summary_bounds_and_inconclusive_below_59() -> None:
    small = percentile_summary([float(i) for i in range(1, 59)])
    assert small["n"] == 58 and small["p95"]["ub95"] == "inconclusive" and small["p95"]["inconclusive"]
    assert small["p50"]["ub95"] != "inconclusive" and len(small["samples"]) == 58
    enough = percentile_summary([float(i) for i in range(1, 60)])
    assert enough["p95"]["ub95"] == 59.0 and "inconclusive" not in enough["p95"]
    assert enough["min"] == 1.0 and enough["max"] == 59.0 and enough["mean"] == 30.0
    assert percentile_summary([])["p95"]["ub95"] == "inconclusive"
    # The median with a two-sided distribution-free 95% interval (what diffs compare).
    assert enough["value"] == 30.0 and enough["ci95"][0] < 30.0 < enough["ci95"][1]
    assert percentile_summary([1.0, 2.0, 3.0])["ci95"] is None  # too few for a 95% interval of the median


def test_budget_verdicts_are_three_way() -> None:
    low = {"ttft_ms": percentile_summary([10.0] * 60)}
    high = {"ttft_ms": percentile_summary([500.0] * 60)}
    few = {"ttft_ms": percentile_summary([10.0] * 10)}
    budgets = {"ttft_ms": {"p95": 100.0}}
    assert overall_verdict(budget_checks(low, budgets)) == "met"
    assert overall_verdict(budget_checks(high, budgets)) == "exceeded"
    assert overall_verdict(budget_checks(few, budgets)) == "inconclusive"
    assert overall_verdict([]) is None


def test_goodput_holds_each_request_to_the_tail_budget() -> None:
    budgets = {"ttft_ms": {"p50": 100.0, "p95": 200.0}, "itl_ms": {"p99": 50.0}}
    assert request_budget(budgets) == {"ttft_ms": 200.0, "itl_ms": 50.0}
    samples = [{"ttft_ms": 150.0, "itl_ms": [10.0, 20.0]}, {"ttft_ms": 250.0, "itl_ms": [10.0]},
               {"ttft_ms": 150.0, "itl_ms": [60.0]}, {"ttft_ms": 50.0, "itl_ms": []}]
    assert [meets(s, request_budget(budgets)) for s in samples] == [True, False, False, True]
    result = goodput(samples, budgets, wall_s=2.0)
    assert result["value"] == 0.5 and result["good"] == 2 and result["good_requests_per_s"] == 1.0


def test_ratio_of_medians_decisions() -> None:
    base = [100.0 + i % 5 for i in range(40)]
    assert ratio_of_medians([v * 1.5 for v in base], base, True, 0.1)["decision"] == "regressed"
    assert ratio_of_medians(list(base), base, True, 0.1)["decision"] == "non-inferior"
    assert ratio_of_medians([1.0], base, False, 0.1)["decision"] == "inconclusive"


def test_untimeable_providers_are_named() -> None:
    with pytest.raises(TypeError, match="stream_timed"):
        timer_for(object(), 8, True)


@pytest.mark.parametrize(("metrics", "line"), [
    ({"ttft_ms": {"n": 60, "p95": {"value": 707.4, "ub95": 732.2}}}, "TTFT p95 707 ms (ub95 732, n=60)"),
    ({"ttft_ms": {"n": 10, "p95": {"value": 12.0, "ub95": "inconclusive"}}},
     "TTFT p95 12 ms (ub95 inconclusive, n=10)"),
    # Nothing measured (every case an error): the terminal falls back to the pass rate.
    ({"ttft_ms": {"n": 0, "p95": {"value": None}}, "pass_rate": {"value": None, "ci95": [0, 1]}}, "pass rate n/a"),
    ({"pass_rate": {"value": 0.5, "ci95": [0.25, 0.75]}}, "pass rate 0.50 [0.25, 0.75]"),
    ({}, "n/a"),
])
def test_the_report_face_summary_is_the_p95_ttft_with_its_bound(metrics: dict, line: str) -> None:
    assert KIND.face.summary(metrics) == line
    face = KIND.face.as_dict(metrics)
    assert (face["headline"], face["direction"], face["unit"]) == ("ttft_ms.p95", "lower", "ms")
    assert "_ms" in face["lower_is_better"]
