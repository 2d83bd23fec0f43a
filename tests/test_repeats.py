"""Repeated sampling through the plugin: suite-file rules and their errors, per-sample verdicts,
records, suite metrics with intervals, caching per sample index, xdist, shards, renderers, gates.

The ``dice`` provider answers ``"<input> roll <sample index>"``: a sampled case's answers differ
by sample index and by nothing else, so a check such as ``regex: "roll [0-2]$"`` passes for
exactly 3 of 5 samples and every expected count below is known in advance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_testutils import ECHO_CONFTEST, LlmProject, without_keys

from pytest_llmops.cli import main as llmops
from pytest_llmops.core.stats import wilson_interval
from pytest_llmops.report.refold import refold_suites
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.kinds import kind_named
from pytest_llmops.suites.repeats_metrics import pass_fraction_metric

DICE_CONFTEST = ECHO_CONFTEST.replace("llmops_register_providers", "_echo") + '''
import os
from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.providers.base import Generation


class Dice:
    """Answers "<input> roll <sample index>" (and logs each generated request)."""

    def __init__(self, spec):
        self.alias = spec.alias

    def fingerprint(self):
        return "dice-v1"

    def describe(self):
        return {"provider": "dice", "device": "cpu", "gpu": None}

    def close(self):
        pass

    def generate_batch(self, requests):
        log = os.environ.get("DICE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.writelines(f"{r.messages[-1][1]}|{r.sample_index}|{r.params.temperature}\\n" for r in requests)
        return [Generation(text=f"{r.messages[-1][1]} roll {r.sample_index}", output_tokens=3,
                           finish_reason="stop", batch_size=len(requests)) for r in requests]


@hookimpl
def llmops_register_providers(register):
    _echo(register)
    register("dice", Dice, form="dice:NAME")
'''

# Four cases whose sample verdicts are fixed by the dice: 3/5, 5/5, 1/5 and a single sample.
SUITE = """
suite: dice
repeats: 5
pass_if: majority
generation: {temperature: 0.7}
cases:
  - id: three-of-five
    input: q1
    checks: [{regex: "roll [0-2]$"}]
  - id: always
    input: q2
    checks: [{contains: roll}]
  - id: one-of-five
    input: q3
    pass_if: "2/5"
    checks: [{regex: "roll 4$"}, {contains: q3}]
  - id: single
    input: q4
    repeats: 1
    checks: [{contains: roll}]
"""
# Fields that differ between two runs of the same selection.
VOLATILE = {"timings", "cached", "duration_s", "started_at", "engine", "workers"}


@pytest.fixture
def dice(project: LlmProject, monkeypatch: pytest.MonkeyPatch) -> LlmProject:
    project.pytester.makeconftest(DICE_CONFTEST)
    monkeypatch.setenv("DICE_LOG", str(project.path / "dice.log"))
    return project


def generated(project: LlmProject) -> list[str]:
    log = project.path / "dice.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


# --------------------------------------------------------------------------- suite-file errors
BAD_FILES = [
    ("repeats: 0\ngeneration: {temperature: 0.5}\n", ":1: field 'repeats': expected a whole number of samples from 1 to 100, got 0"),
    ("repeats: 101\ngeneration: {temperature: 0.5}\n", "field 'repeats': expected a whole number of samples from 1 to 100, got 101"),
    ("repeats: true\ngeneration: {temperature: 0.5}\n", "field 'repeats': expected a whole number"),
    ("repeats: 5\npass_if: sometimes\ngeneration: {temperature: 0.5}\n",
     "field 'pass_if': expected all, majority or \"m/k\""),
    ("repeats: 5\npass_if: '3/4'\ngeneration: {temperature: 0.5}\n",
     "field 'pass_if': pass_if '3/4' counts 4 samples but this case takes 5 (repeats 5)"),
    ("repeats: 5\npass_if: '6/5'\ngeneration: {temperature: 0.5}\n", "pass_if '6/5': m must be between 1 and 5"),
    ("repeats: 5\n", "case 'c1' field 'generation.temperature': 5 samples (from the suite's repeats) at "
                     "temperature 0 would all be the same answer"),
    ("kind: latency\nrepeats: 3\n", "field 'repeats': kind 'latency' does not take repeats"),
    ("subject: rag\npass_if: all\n", "field 'pass_if': subject 'rag' does not take repeats"),
]


@pytest.mark.parametrize("head, expected", BAD_FILES)
def test_bad_repeat_settings_name_file_line_and_field(dice: LlmProject, head: str, expected: str) -> None:
    dice.suite("bad", head + "cases:\n  - id: c1\n    input: q\n    checks: [{contains: q}]\n")
    result = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "bad.eval.yaml" in text and expected in text, text


def test_case_level_errors_name_the_case_and_where_the_rule_came_from(dice: LlmProject) -> None:
    dice.suite("bad", """
        repeats: 5
        pass_if: "3/5"
        generation: {temperature: 0.5}
        cases:
          - id: fine
            input: q
            checks: [{contains: q}]
          - id: fewer
            input: q
            repeats: 3
            checks: [{contains: q}]
    """)
    text = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider").stdout.str()
    assert ("bad.eval.yaml:8: case 'fewer' field 'pass_if': pass_if '3/5' (from the suite's pass_if) counts 5 "
            "samples but this case takes 3") in text


def test_unsupported_kind_refuses_case_level_repeats_and_greedy_run_default_names_the_option(
        dice: LlmProject) -> None:
    dice.suite("plain", "cases:\n  - id: c1\n    input: q\n    checks: [{contains: q}]\n")
    text = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-repeats=3").stdout.str()
    assert "3 samples (from --llm-repeats) at temperature 0" in text and "--llm-temperature" in text


@pytest.mark.parametrize("args, expected", [
    (["--llm-repeats=0"], "--llm-repeats must be from 1 to 100, got 0"),
    (["--llm-repeats=x"], "--llm-repeats expects a whole number of samples, got 'x'"),
    (["--llm-temperature=-1"], "--llm-temperature must be a finite number >= 0"),
    (["--llm-temperature=nan"], "--llm-temperature must be a finite number >= 0"),
    (["-o", "llm_repeats=500"], "llm_repeats: --llm-repeats must be from 1 to 100, got 500"),
    (["-o", "llm_temperature=hot"], "llm_temperature: --llm-temperature expects a number, got 'hot'"),
])
def test_bad_options_and_ini_values_are_usage_errors(dice: LlmProject, args: list[str], expected: str) -> None:
    dice.suite("plain", "cases:\n  - id: c1\n    input: q\n    checks: [{contains: q}]\n")
    result = dice.run("--llm-model=dice:m", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()


# --------------------------------------------------------------------------- verdicts and records
def test_pass_if_rules_decide_from_every_sample(dice: LlmProject) -> None:
    dice.suite("rules", """
        generation: {temperature: 0.7}
        repeats: 4
        cases:
          - {id: all-3of4, input: q, checks: [{regex: "roll [0-2]$"}]}
          - {id: majority-3of4, input: q, pass_if: majority, checks: [{regex: "roll [0-2]$"}]}
          - {id: majority-2of4, input: q, pass_if: majority, checks: [{regex: "roll [0-1]$"}]}
          - {id: m-2of4, input: q, pass_if: "2/4", checks: [{regex: "roll [0-1]$"}]}
          - {id: m-3of4, input: q, pass_if: "3/4", checks: [{regex: "roll [0-1]$"}]}
          - {id: all-4of4, input: q, checks: [{contains: roll}]}
    """)
    dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    cases = dice.cases()
    outcomes = {key.split("[")[0]: case["outcome"] for key, case in cases.items()}
    assert outcomes == {"all-3of4": "failed", "majority-3of4": "passed", "majority-2of4": "failed",
                        "m-2of4": "passed", "m-3of4": "failed", "all-4of4": "passed"}
    repeats = cases["m-2of4[m]"]["repeats"]
    assert repeats == {"k": 4, "passed": 2, "pass_fraction": 0.5, "rule": "2/4", "flaky": True}
    assert cases["all-4of4[m]"]["repeats"]["flaky"] is False
    # The four requests of a case were generated once each: identical prompts, four sample indices.
    assert sorted(line.split("|")[1] for line in generated(dice)) == ["0", "1", "2", "3"]


def test_record_keeps_every_sample_and_the_failure_counts_samples_and_checks(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    result = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    cases = dice.cases()
    three = cases["three-of-five[m]"]
    assert three["output"] == "q1 roll 0"  # the first sample stands for the case
    assert [s["index"] for s in three["samples"]] == [0, 1, 2, 3, 4]
    assert [s["output"] for s in three["samples"]] == [f"q1 roll {i}" for i in range(5)]
    assert [s["outcome"] for s in three["samples"]] == ["passed"] * 3 + ["failed"] * 2
    assert three["samples"][3]["checks"][0]["passed"] is False
    assert three["checks"] == three["samples"][0]["checks"]
    assert three["repeats"] == {"k": 5, "passed": 3, "pass_fraction": 0.6, "rule": "majority", "flaky": True}
    text = result.stdout.str()
    assert "4 of 5 samples failed (pass_if 2/5: needs 2 of 5 to pass)" in text
    assert "regex: failed in 4 of 5 samples (sample 0: no match for /roll 4$/)" in text
    assert "contains: failed" not in text  # the check every sample passed is not listed


def test_a_single_sample_record_is_exactly_as_without_repeats(dice: LlmProject) -> None:
    dice.suite("one", "generation: {temperature: 0.7}\ncases:\n"
                      "  - {id: c1, input: q, repeats: 1, pass_if: all, checks: [{contains: roll}]}\n")
    dice.run("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-report-dir=r1")
    dice.suite("one", "generation: {temperature: 0.7}\ncases:\n  - {id: c1, input: q, checks: [{contains: roll}]}\n")
    dice.run("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-report-dir=r2")
    first, second = dice.cases("r1")["c1[m]"], dice.cases("r2")["c1[m]"]
    assert "repeats" not in first and "samples" not in first
    skip = {"timings", "cached", "suite_sha256"}
    assert without_keys(first, skip) == without_keys(second, skip)
    suite = dice.report("r1")["suites"]["one"]["metrics"]
    # No repeat metrics without a repeated case (token and cost metrics are another feature's).
    assert set(suite) - {"input_tokens", "output_tokens", "cost"} == {"pass_rate", "error_rate"}


def test_run_defaults_apply_where_the_file_is_silent_and_only_to_kinds_that_repeat(dice: LlmProject) -> None:
    dice.suite("silent", "cases:\n  - {id: c1, input: q1, checks: [{contains: roll}]}\n")
    dice.suite("own", "repeats: 2\ngeneration: {temperature: 0.2}\n"
                      "cases:\n  - {id: c1, input: q2, checks: [{contains: roll}]}\n")
    dice.write("docs.py", "def make_pipeline(llm):\n"
                          "    return lambda q: {'answer': llm.generate(q).text, 'contexts': []}\n")
    dice.suite("rag", "subject: rag\nrag: docs:make_pipeline\n"
                      "cases:\n  - {id: c1, input: q3, checks: [{contains: roll}]}\n")
    dice.run("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-repeats=3", "--llm-temperature=0.9")
    cases = {(c["suite"], c["id"]): c for c in dice.report()["cases"]}
    assert cases[("silent", "c1")]["repeats"]["k"] == 3
    assert cases[("own", "c1")]["repeats"]["k"] == 2  # the file's own repeats wins
    assert "repeats" not in cases[("rag", "c1")]  # a RAG pipeline answers once
    temperatures = {line.split("|")[0]: float(line.split("|")[2]) for line in generated(dice)}
    assert temperatures == {"q1": 0.9, "q2": 0.2, "q3": 0.9}
    run = dice.report()["run"]
    assert run["repeats"] == 3 and run["temperature"] == 0.9


# --------------------------------------------------------------------------- metrics
def test_suite_metrics_are_the_hand_computed_ones(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    metrics = dice.report()["suites"]["dice"]["metrics"]
    # Per-case pass fractions: 3/5, 5/5, 1/5 and the single sample 1/1; 16 samples in all.
    fractions = [0.6, 1.0, 0.2, 1.0]
    assert metrics["pass_fraction"]["value"] == pytest.approx(0.7)
    assert metrics["pass_fraction"] == pass_fraction_metric(sorted(fractions), 16)
    assert metrics["pass_fraction"]["n"] == 4 and metrics["pass_fraction"]["n_samples"] == 16
    low, high = metrics["pass_fraction"]["ci95"]
    assert low < 0.7 < high
    assert metrics["pass_at_k"]["value"] == 1.0 and metrics["pass_at_k"]["n"] == 4
    assert metrics["pass_all_k"]["value"] == 0.5
    assert metrics["pass_all_k"]["ci95"] == [round(x, 6) for x in wilson_interval(2, 4)]
    flakiness = metrics["flakiness"]
    # Flaky among the three cases that sampled more than once: three-of-five and one-of-five.
    assert (flakiness["flaky"], flakiness["n"], flakiness["k"]) == (2, 3, [5])
    assert flakiness["value"] == pytest.approx(2 / 3)
    assert flakiness["ci95"] == [round(x, 6) for x in wilson_interval(2, 3)]


def test_errors_are_left_out_of_the_repeat_metrics(dice: LlmProject) -> None:
    dice.pytester.makeconftest(ECHO_CONFTEST)  # echo: INFRA_FAIL in the input is an infra error
    dice.suite("mixed", """
        repeats: 3
        generation: {temperature: 0.5}
        cases:
          - {id: ok, input: fine, checks: [{contains: fine}]}
          - {id: down, input: INFRA_FAIL now, checks: [{contains: x}]}
    """)
    dice.run("--llm-model=echo:m", "-p", "no:cacheprovider").assert_outcomes(passed=1, errors=1)
    metrics = dice.report()["suites"]["mixed"]["metrics"]
    assert metrics["pass_fraction"]["n"] == 1 and metrics["flakiness"]["n"] == 1
    assert "repeats" not in dice.cases()["down[m]"]


# --------------------------------------------------------------------------- caching, xdist, shards
def test_each_sample_is_cached_under_its_index(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    assert len(generated(dice)) == 16
    second = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    assert "model m: 0 generated, 16 from cache" in second.stdout.str()
    assert len(generated(dice)) == 16  # nothing new was generated
    report = dice.report()
    assert report["run"]["engine"]["m"]["generated"] == 0
    assert all(case["cached"] for case in report["cases"])
    # Two more samples per repeated case: only the new sample indices are generated.
    dice.suite("dice", SUITE.replace("repeats: 5", "repeats: 7").replace('"2/5"', '"2/7"'))
    third = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    new = generated(dice)[16:]
    assert sorted(new) == sorted(f"{q}|{i}|0.7" for q in ("q1", "q2", "q3") for i in (5, 6))
    assert "model m: 6 generated, 16 from cache" in third.stdout.str()
    assert not dice.cases()["three-of-five[m]"]["cached"]  # part of its samples were new


def test_xdist_and_refold_give_the_plain_runs_report(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    dice.suite("more", SUITE.replace("suite: dice", "suite: more").replace("q", "w"))
    dice.run_subprocess("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-cache=off", "--llm-report-dir=plain")
    dice.run_subprocess("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-cache=off", "--llm-report-dir=xd",
                        "-n", "2")
    plain, xdist = dice.report("plain"), dice.report("xd")
    assert without_keys(plain["suites"], VOLATILE) == without_keys(xdist["suites"], VOLATILE)
    assert without_keys(plain["cases"], VOLATILE) == without_keys(xdist["cases"], VOLATILE)
    assert "flakiness" in plain["suites"]["more"]["metrics"]
    registry = default_registry()
    assert refold_suites(plain["cases"], lambda name: kind_named(registry, name)) == plain["suites"]


def test_shards_merge_into_the_single_run(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    dice.suite("more", SUITE.replace("suite: dice", "suite: more").replace("q", "w"))
    base = ["--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-cache=off", "--llm-repeats=2",
            "--llm-temperature=0.3"]
    dice.run_subprocess(*base, "--llm-report-dir=single")
    for index in (1, 2):
        dice.run_subprocess(*base, f"--llm-shard={index}/2", f"--llm-report-dir=shard{index}")
    shards = [str(dice.report_path(f"shard{index}")) for index in (1, 2)]
    assert all(json.loads(Path(p).read_text(encoding="utf-8"))["cases"] for p in shards)
    out = dice.path / "merged" / "llmops-report.json"
    assert llmops(["merge", *shards, "-o", str(out), "--no-render"]) == 0
    merged, single = json.loads(out.read_text(encoding="utf-8")), dice.report("single")
    assert without_keys(merged["suites"], VOLATILE) == without_keys(single["suites"], VOLATILE)
    assert merged["run"]["repeats"] == 2 and merged["run"]["temperature"] == 0.3


def test_shards_run_with_other_repeats_are_refused(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    dice.run_subprocess("--llm-model=dice:m", "--llm-cache=off", "--llm-shard=1/2", "--llm-report-dir=s1")
    dice.run_subprocess("--llm-model=dice:m", "--llm-cache=off", "--llm-shard=2/2", "--llm-report-dir=s2",
                        "--llm-repeats=3")
    out = dice.path / "merged.json"
    assert llmops(["merge", str(dice.report_path("s1")), str(dice.report_path("s2")), "-o", str(out),
                   "--no-render"]) != 0
    assert not out.exists()


# --------------------------------------------------------------------------- reports and gates
def test_terminal_markdown_and_html_show_flakiness(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    result = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider")
    metrics = dice.report()["suites"]["dice"]["metrics"]
    low, high = metrics["flakiness"]["ci95"]
    line = f"flaky 2/3 0.67 [{low:.2f}, {high:.2f}], k=5"
    assert any(row.startswith("dice") and line in row for row in result.stdout.lines)
    markdown = (dice.path / "reports" / "llmops-report.md").read_text(encoding="utf-8")
    assert line.replace("[", "\\[").replace("]", "\\]") in markdown  # Markdown escapes the brackets
    html = (dice.path / "reports" / "llmops-report.html").read_text(encoding="utf-8")
    assert line in html and "pass_fraction" in html


def test_a_gate_on_flakiness_blocks_a_flaky_suite(dice: LlmProject) -> None:
    dice.suite("dice", SUITE)
    dice.write("llmops.yaml", """
        environments:
          dev:
            checks:
              - "dice: flakiness.ub95 <= 0.3"
              - "dice: pass_fraction.value >= 0.5"
    """)
    result = dice.run("--llm-model=dice:m", "-p", "no:cacheprovider", "--llm-gate-env=dev")
    gate = json.loads((dice.path / "reports" / "gate-dev.json").read_text(encoding="utf-8"))
    rows = {row["check"]: row["status"] for row in gate["checks"]}
    assert rows == {"dice: flakiness.ub95 <= 0.3": "FAIL", "dice: pass_fraction.value >= 0.5": "PASS"}
    assert gate["decision"] == "BLOCK" and result.ret != 0
