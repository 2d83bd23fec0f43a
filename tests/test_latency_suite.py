"""The latency kind end to end through pytester, with synthetic timings (the ``clock`` provider)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llmops_testutils import LlmProject

CLOCK_SOURCE = Path(__file__).with_name("latency_clock.py").read_text(encoding="utf-8")

GATES = """
environments:
  dev:
    on_inconclusive: block
    checks:
      - "latency/*: ttft_ms.p95.ub95 <= 2000"
      - "latency/*: budget.verdict != exceeded"
      - "latency/*: goodput.lb95 >= 0.9"
"""


def _project(project: LlmProject, requests: int = 30, budgets: str = "{dev: {ttft_ms: {p95: 2000}}}",
             sets: tuple[str, ...] = ("short", "long"), extra: str = "") -> LlmProject:
    project.write("latency_clock.py", CLOCK_SOURCE)
    project.pytester.makeconftest("from latency_clock import llmops_register_providers  # noqa: F401\n")
    for name in sets:
        words = "word " * (3 if name == "short" else 40)
        project.write(f"fixtures/latency/{name}.yaml",
                      f"prompts:\n  - 'first {name} prompt {words}'\n  - 'second {name} prompt {words}'\n")
    project.suite("evalsuites/latency/demo", f"""
        kind: latency
        workload:
          sets: [{", ".join(sets)}]
          requests: {requests}
          warmup: 2
          output_tokens: 5
        concurrency: [1, 4]
        budgets: {budgets}
        {extra}
        """)
    project.write("llmops.yaml", GATES)
    return project


def test_metrics_shape_bounds_and_a_passing_dev_gate(project: LlmProject) -> None:
    _project(project)
    result = project.run("--llm-model=clock:100?alias=m", "--llm-gate-env=dev")
    result.assert_outcomes(passed=2)
    suite = project.report()["suites"]["latency/demo"]
    assert suite["kind"] == "latency" and suite["n"] == 2
    metrics = suite["metrics"]
    for name in ("ttft_ms", "tpot_ms", "e2e_ms", "itl_ms"):
        summary = metrics[name]
        assert {"n", "mean", "std", "min", "max", "p50", "p90", "p95", "p99", "samples"} <= set(summary)
    ttft = metrics["ttft_ms"]
    assert ttft["n"] == 60 and len(ttft["samples"]) == 60
    assert ttft["min"] == pytest.approx(100.0) and ttft["max"] == pytest.approx(160.0)
    assert ttft["p95"]["ub95"] == pytest.approx(160.0)  # n = 60: the bound is the largest sample
    assert ttft["p99"]["ub95"] == "inconclusive" and ttft["p99"]["inconclusive"] is True
    assert metrics["tpot_ms"]["p50"]["value"] == pytest.approx((8.5 - 0.0) / 4, rel=1e-3)
    assert metrics["itl_ms"]["n"] == 60 * 4 and metrics["itl_ms"]["p50"]["value"] == pytest.approx(2.0)
    # The hook timer runs one request at a time: the sweep is reduced to concurrency 1 and says so.
    assert list(metrics["concurrency"]) == ["1"] and metrics["workload"]["notes"]
    assert metrics["goodput"]["value"] == 1.0 and metrics["goodput"]["env"] == "dev"
    assert metrics["budget"]["verdict"] == "met"
    assert metrics["device"]["device"] == "cpu"
    assert set(metrics["by_set"]) == {"short", "long"}
    case = project.cases()["short[m]"]
    assert case["kind"] == "latency" and case["output_tokens"] == 5
    assert len(case["latency"]["levels"]["1"]["requests"]) == 30
    assert case["latency"]["budget_env"] == "dev" and case["latency"]["warmup"] == 2
    gate = json.loads((project.path / "reports" / "gate-dev.json").read_text())
    assert gate["decision"] == "ALLOW"
    assert gate["checks"][0]["status"] == "PASS" and gate["checks"][0]["bound"] == pytest.approx(160.0)
    assert [c["status"] for c in gate["checks"]] == ["PASS", "PASS", "PASS"]
    # The terminal table's key metric for a latency suite is its p95 TTFT with the bound.
    result.stdout.fnmatch_lines(["latency/demo*TTFT p95 * ms (ub95 160, n=60)"])


def test_too_few_samples_for_the_p95_bound_is_inconclusive_not_a_pass(project: LlmProject) -> None:
    _project(project, requests=20, sets=("short", "long"))  # 40 < 59
    result = project.run("--llm-model=clock:100?alias=m", "--llm-gate-env=dev")
    result.assert_outcomes(passed=2)
    metrics = project.report()["suites"]["latency/demo"]["metrics"]
    assert metrics["ttft_ms"]["n"] == 40
    assert metrics["ttft_ms"]["p95"]["ub95"] == "inconclusive" and metrics["ttft_ms"]["p95"]["needs_n"] == 59
    assert metrics["budget"]["verdict"] == "inconclusive"
    result.stdout.fnmatch_lines(["latency/demo*TTFT p95 * ms (ub95 inconclusive, n=40)"])
    gate = json.loads((project.path / "reports" / "gate-dev.json").read_text())
    assert gate["checks"][0]["status"] == "INCONCLUSIVE"
    assert gate["decision"] == "BLOCK"  # on_inconclusive: block
    assert result.ret != 0


def test_a_clearly_exceeded_budget_fails_the_case(project: LlmProject) -> None:
    _project(project, budgets="{dev: {ttft_ms: {p50: 50}}, prod: {ttft_ms: {p50: 5000}}}")
    result = project.run("--llm-model=clock:100?alias=m")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*ttft_ms p50: lower 95% bound * ms > budget 50.0 ms (dev)*"])
    metrics = project.report()["suites"]["latency/demo"]["metrics"]
    assert metrics["budget"]["verdict"] == "exceeded" and metrics["goodput"]["value"] == 0.0
    # Another environment's budgets apply with --llm-gate-env.
    project.write("llmops.yaml", GATES.replace("dev:", "prod:"))
    project.run("--llm-model=clock:100?alias=m", "--llm-gate-env=prod").assert_outcomes(passed=2)
    assert project.report()["suites"]["latency/demo"]["metrics"]["goodput"]["env"] == "prod"


def test_infra_errors_and_cut_streams_are_errors_never_samples(project: LlmProject) -> None:
    _project(project)
    project.write("fixtures/latency/long.yaml", "prompts: ['fine', 'INFRA_FAIL here']\n")
    project.write("fixtures/latency/short.yaml", "prompts: ['fine', 'NO_FINISH here']\n")
    result = project.run("--llm-model=clock:100?alias=m")
    result.assert_outcomes(errors=2)
    cases = project.cases()
    assert cases["long[m]"]["outcome"] == "error" and "simulated" in cases["long[m]"]["error"]
    assert "finish_reason" in cases["short[m]"]["error"]
    suite = project.report()["suites"]["latency/demo"]
    assert suite["errors"] == 2 and "ttft_ms" not in suite["metrics"]


def test_stored_baseline_round_trip_and_ratio_of_medians(project: LlmProject) -> None:
    _project(project)
    project.run("--llm-model=clock:100?alias=m", "--llm-update-baseline").assert_outcomes(passed=2)
    stored = json.loads((project.path / "reports" / "baseline" / "latency" / "demo.json").read_text())
    assert stored["provenance"]["kind"] == "latency" and len(stored["cases"]["short"]["requests"]) == 30
    result = project.run("--llm-model=clock:200?alias=m", "--llm-baseline=reports/baseline")
    result.assert_outcomes(passed=2)
    ratio = project.report()["suites"]["latency/demo"]["metrics"]["baseline_ratio"]
    assert ratio["ttft_ms"]["value"] == pytest.approx(2.0, rel=0.01)
    assert ratio["ttft_ms"]["ci95"][0] > 1.1 and ratio["decision"] == "regressed"
    assert ratio["paired"] is False
    # Same speed: non-inferior.
    project.run("--llm-model=clock:100?alias=m", "--llm-baseline=reports/baseline").assert_outcomes(passed=2)
    ratio = project.report()["suites"]["latency/demo"]["metrics"]["baseline_ratio"]
    assert ratio["ttft_ms"]["value"] == pytest.approx(1.0) and ratio["decision"] == "non-inferior"


def test_a_baseline_for_another_workload_is_an_error(project: LlmProject) -> None:
    _project(project)
    project.run("--llm-model=clock:100?alias=m", "--llm-update-baseline").assert_outcomes(passed=2)
    project.write("fixtures/latency/short.yaml", "prompts: ['a different prompt set']\n")
    result = project.run("--llm-model=clock:100?alias=m", "--llm-baseline=reports/baseline")
    result.assert_outcomes(errors=2)
    assert "another workload" in project.cases()["short[m]"]["error"]


def test_baseline_model_is_interleaved_and_paired(project: LlmProject) -> None:
    _project(project)
    result = project.run("--llm-model=clock:150?alias=m", "--llm-baseline-model=clock:100?alias=old")
    result.assert_outcomes(passed=2)
    metrics = project.report()["suites"]["latency/demo"]["metrics"]
    ratio = metrics["baseline_ratio"]
    assert ratio["paired"] is True and ratio["source"] == "model old"
    assert ratio["ttft_ms"]["value"] == pytest.approx(1.5, rel=0.01) and ratio["decision"] == "regressed"
    assert metrics["ttft_ms"]["n"] == 60  # baseline requests are not candidate samples


@pytest.mark.parametrize(("extra", "message"), [
    ("budgets: {dev: {ttft: {p95: 10}}}", "unknown metric"),
    ("budgets: {dev: {ttft_ms: {p97: 10}}}", "expected one of"),
    ("concurrency: [1, 1]", "listed twice"),
    ("workload: {sets: [nope], requests: 3}", "does not exist"),
])
def test_invalid_latency_suites_name_the_field(project: LlmProject, extra: str, message: str) -> None:
    project.write("latency_clock.py", CLOCK_SOURCE)
    project.pytester.makeconftest("from latency_clock import llmops_register_providers  # noqa: F401\n")
    project.write("fixtures/latency/short.yaml", "prompts: ['hi']\n")
    body = "kind: latency\nworkload: {sets: [short], requests: 3}\n"
    if extra.startswith("workload"):
        body = "kind: latency\n"
    project.suite("evalsuites/latency/bad", body + extra + "\n")
    result = project.run("--llm-model=clock:10?alias=m")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


def test_xdist_gives_the_same_pooled_metrics(project: LlmProject) -> None:
    _project(project)
    project.run_subprocess("--llm-model=clock:100?alias=m", "-n", "2", "-p", "xdist").assert_outcomes(passed=2)
    metrics = project.report()["suites"]["latency/demo"]["metrics"]
    assert metrics["ttft_ms"]["n"] == 60 and metrics["ttft_ms"]["p95"]["ub95"] == pytest.approx(160.0)
