"""Tokens and cost through the plugin (echo provider: its tokens are whitespace words, so every
figure can be computed by hand here): records priced from the gate file's ``prices:``, cached
answers saving instead of costing, cost and token gates, the terminal line, Python tests, xdist
and shards merged into the single run's figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmops_testutils import LlmProject

from pytest_llmops.cli import main as llmops

PRICE_IN, PRICE_OUT = 3.0, 15.0  # USD per million tokens
SUITE = """
suite: functional/costs
cases:
  - id: short
    input: what is two plus two
    checks:
      - contains: two
  - id: long
    input: name the three primary colours of light please
    checks:
      - contains: colours
  - id: multi
    system: answer in one word
    input: capital of France
    checks:
      - contains: France
"""
GATES = """
prices:
  a: {{input: {pin}, output: {pout}}}
environments:
  dev:
    checks:
      - "*: cost.total <= {limit}"
      - "functional/*: output_tokens.p95 <= {tokens}"
"""


def write_gates(project: LlmProject, limit: float | str = "2.50", tokens: int = 200, pin: float = PRICE_IN,
                pout: float = PRICE_OUT) -> None:
    project.write("llmops.yaml", GATES.format(limit=limit, tokens=tokens, pin=pin, pout=pout))


def hand_tokens(case: dict[str, Any]) -> tuple[int, int]:
    """Input and output tokens the echo model counts: whitespace words of every message, of the answer."""
    words_in = sum(len(m["content"].split()) for m in case["input"])
    user = [m["content"] for m in case["input"] if m["role"] == "user"][-1]
    return words_in, len(f"echo: {user}".split())


def hand_cost(tokens_in: int, tokens_out: int) -> float:
    return tokens_in * PRICE_IN / 1e6 + tokens_out * PRICE_OUT / 1e6


@pytest.fixture
def priced(project: LlmProject) -> LlmProject:
    project.suite("costs", SUITE)
    write_gates(project)
    return project


def test_records_suites_and_run_carry_tokens_and_cost_matching_a_hand_computation(priced: LlmProject) -> None:
    result = priced.run("--llm-model=echo:a", "--llm-gate-env=dev")
    result.assert_outcomes(passed=3)
    report = priced.report()
    expected_total = 0.0
    for case in report["cases"]:
        tokens_in, tokens_out = hand_tokens(case)
        assert (case["input_tokens"], case["output_tokens"]) == (tokens_in, tokens_out), case["id"]
        assert case["tokens_estimated"] is False and case["cached"] is False
        assert case["cost"] == {"usd": pytest.approx(hand_cost(tokens_in, tokens_out)), "saved_usd": 0.0,
                                "estimated": False}
        expected_total += hand_cost(tokens_in, tokens_out)
    metrics = report["suites"]["functional/costs"]["metrics"]
    assert metrics["cost"]["total"] == pytest.approx(expected_total)
    assert metrics["cost"]["per_case"] == pytest.approx(expected_total / 3)
    assert metrics["cost"]["saved"] == 0.0 and metrics["cost"]["currency"] == "USD"
    outputs = sorted(hand_tokens(c)[1] for c in report["cases"])
    assert metrics["output_tokens"]["total"] == sum(outputs) and metrics["output_tokens"]["max"] == outputs[-1]
    usage = report["run"]["usage"]
    assert usage["input_tokens"] == sum(hand_tokens(c)[0] for c in report["cases"])
    assert usage["cost"]["total"] == pytest.approx(expected_total)
    assert usage["by_model"]["a"]["cost"]["total"] == pytest.approx(expected_total)
    # Both gate checks pass: the whole run costs far less than $2.50, answers are a few words.
    assert report["gate"]["decision"] == "ALLOW"
    assert {c["check"]: c["status"] for c in report["gate"]["checks"]} == {
        "*: cost.total <= 2.50": "PASS", "functional/*: output_tokens.p95 <= 200": "PASS"}
    result.stdout.fnmatch_lines([f"usage: tokens {usage['input_tokens']} in / {usage['output_tokens']} out*cost $*"])


def test_a_cached_answer_costs_nothing_and_shows_what_it_saved(priced: LlmProject) -> None:
    priced.run("--llm-model=echo:a").assert_outcomes(passed=3)
    first = {c["id"]: c for c in priced.report()["cases"]}
    result = priced.run("--llm-model=echo:a")
    report = priced.report()
    for case in report["cases"]:
        assert case["cached"] is True
        assert case["cost"]["usd"] == 0.0
        assert case["cost"]["saved_usd"] == pytest.approx(first[case["id"]]["cost"]["usd"])
    cost = report["suites"]["functional/costs"]["metrics"]["cost"]
    paid_before = sum(c["cost"]["usd"] for c in first.values())
    assert cost["total"] == 0.0 and cost["saved"] == pytest.approx(paid_before)
    assert cost["per_case"] == pytest.approx(paid_before / 3)  # what a case costs, cached or not
    assert report["run"]["usage"]["cost"]["saved"] == pytest.approx(paid_before)
    result.stdout.fnmatch_lines(["usage: *cost $0 (saved $* by the response cache)*"])


def test_cost_and_token_gates_block_when_over_budget(priced: LlmProject) -> None:
    # Under the brief's budget the gate allows (previous test); a budget below the real cost
    # and a token budget below the longest answer block.
    priced.run("--llm-model=echo:a", "--llm-cache=off")
    total = priced.report()["suites"]["functional/costs"]["metrics"]["cost"]["total"]
    write_gates(priced, limit=total * 0.99, tokens=3)
    result = priced.run("--llm-model=echo:a", "--llm-gate-env=dev", "--llm-cache=off")
    assert result.ret == 1
    report = priced.report()
    assert report["gate"]["decision"] == "BLOCK"
    rows = {c["metric"]: c for c in report["gate"]["checks"]}
    assert rows["cost.total"]["status"] == "FAIL" and rows["cost.total"]["value"] == pytest.approx(total)
    assert rows["output_tokens.p95"]["status"] == "FAIL" and rows["output_tokens.p95"]["value"] > 3
    write_gates(priced, limit=total * 1.01, tokens=200)
    assert priced.run("--llm-model=echo:a", "--llm-gate-env=dev", "--llm-cache=off").ret == 0


def test_a_model_without_a_price_has_tokens_and_no_cost(priced: LlmProject) -> None:
    priced.run("--llm-model=echo:b").assert_outcomes(passed=3)
    report = priced.report()
    assert all("cost" not in c and c["output_tokens"] > 0 for c in report["cases"])
    assert "cost" not in report["suites"]["functional/costs"]["metrics"]
    assert "cost" not in report["run"]["usage"]


@pytest.mark.parametrize("table, message", [
    ("prices:\n  a: {input: -1, output: 2}\n", "llmops.yaml: prices.a.input: -1 is negative"),
    ("prices:\n  a: {input: 1, output: 2, cache: 1}\n", "llmops.yaml: prices.a: unknown key(s) 'cache'"),
    ("prices:\n  a: {input: free, output: 2}\n", "llmops.yaml: prices.a.input: 'free' is not a number"),
])
def test_a_bad_price_table_is_a_usage_error_before_anything_runs(project: LlmProject, table: str,
                                                                 message: str) -> None:
    project.suite("costs", SUITE)
    project.write("llmops.yaml", table)
    result = project.run("--llm-model=echo:a")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not project.report_path().exists()


def test_prices_from_pyproject_and_python_tests_using_the_llm_fixture(project: LlmProject) -> None:
    project.write("pyproject.toml", f"[tool.llmops.prices]\na = {{input = {PRICE_IN}, output = {PRICE_OUT}}}\n")
    project.write("test_py.py", """
        def test_two_calls(llm):
            assert "hello" in llm.generate("say hello to me")
            assert "bye" in llm.generate("now say bye")
    """)
    project.run("--llm-model=echo:a").assert_outcomes(passed=1)
    (case,) = project.report()["cases"]
    # Both calls: 4 + 3 prompt words; "echo: say hello to me" 5 + "echo: now say bye" 4 answer words.
    assert (case["input_tokens"], case["output_tokens"]) == (7, 9)
    assert case["cost"]["usd"] == pytest.approx(hand_cost(7, 9))


def test_several_generations_of_one_case_are_summed(project: LlmProject) -> None:
    project.suite("mm", """
        kind: metamorphic
        relations:
          - family: case
            perturbation: case
            relation: normalized-exact
            inputs: ["Hello there friend"]
    """)
    project.write("llmops.yaml", f"prices:\n  a: {{input: {PRICE_IN}, output: {PRICE_OUT}}}\n")
    project.run("--llm-model=echo:a").assert_outcomes(passed=1)
    (case,) = project.report()["cases"]
    # The source and its lower-cased follow-up: 3 prompt words and 4 answer words each.
    assert len(case["followups"]) == 1
    assert (case["input_tokens"], case["output_tokens"]) == (6, 8)
    assert case["cost"]["usd"] == pytest.approx(hand_cost(6, 8))


def test_shards_merge_into_the_single_runs_usage_and_xdist_agrees(priced: LlmProject) -> None:
    # Every question differs from the first suite's: a request two shards both ask is paid by
    # both (each generates it), while one run answers it once, so only distinct requests can
    # merge into the single run's figures.
    priced.suite("more", SUITE.replace("functional/costs", "functional/more")
                 .replace("two plus two", "two plus two plus one").replace("light please", "light now please")
                 .replace("capital of France", "capital city of France"))
    priced.run("--llm-model=echo:a", "--llm-cache=off")
    whole = priced.report()
    paths = []
    for index in (1, 2):
        priced.run("--llm-model=echo:a", "--llm-cache=off", f"--llm-shard={index}/2", f"--llm-report-dir=shard{index}")
        paths.append(priced.report_path(f"shard{index}"))
    out = priced.path / "merged" / "llmops-report.json"
    assert llmops(["merge", *map(str, paths), "-o", str(out), "--no-render"]) == 0
    merged = json.loads(out.read_text(encoding="utf-8"))
    assert merged["run"]["usage"] == whole["run"]["usage"]
    for name, suite in whole["suites"].items():
        for metric in ("input_tokens", "output_tokens", "cost"):
            assert merged["suites"][name]["metrics"][metric] == suite["metrics"][metric], (name, metric)
    priced.run_subprocess("--llm-model=echo:a", "--llm-cache=off", "-n", "2", "--llm-report-dir=xdist")
    assert priced.report("xdist")["run"]["usage"] == whole["run"]["usage"]


def test_the_shipped_gate_file_still_loads_with_its_header(project: LlmProject) -> None:
    root = Path(__file__).resolve().parents[1]
    from pytest_llmops.gates import load_gate_config

    config = load_gate_config(root, root / "llmops.yaml")
    assert config.environments and config.prices is None  # no prices shipped: no cost gates to pass


def test_an_answer_served_to_two_cases_in_one_run_is_paid_once(priced: LlmProject) -> None:
    # A second suite asks one of the first suite's questions, word for word: the run generates
    # it once, and the second case to take it shows what it saved instead of a second cost.
    priced.suite("again", "suite: functional/again\ncases:\n"
                          "  - {id: short-again, input: what is two plus two, checks: [{contains: two}]}\n")
    result = priced.run("--llm-model=echo:a")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["model a: 3 generated, 0 from cache*"])
    report = priced.report()
    cases = {c["id"]: c for c in report["cases"]}
    pair = [cases["short"]["cost"], cases["short-again"]["cost"]]
    one = hand_cost(*hand_tokens(cases["short"]))
    assert sorted(c["usd"] for c in pair) == [0.0, pytest.approx(one)]  # one of the two paid
    assert sorted(c["saved_usd"] for c in pair) == [0.0, pytest.approx(one)]  # the other saved
    assert all(c["cached"] is False for c in cases.values())  # not from the response cache
    paid = sum(hand_cost(*hand_tokens(cases[i])) for i in ("short", "long", "multi"))
    usage = report["run"]["usage"]["cost"]
    assert usage["total"] == pytest.approx(paid) and usage["saved"] == pytest.approx(one)
