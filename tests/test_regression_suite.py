"""The regression suite end to end through pytest, on the in-process echo provider.

The echo answer contains the question, so a golden row whose ``expected`` appears in its
``input`` passes ``contains``. ``degrade:echo:NAME?rate=0.3`` corrupts a fixed 30% of answers.
"""

from __future__ import annotations

import json

import pytest

from llmops_testutils import LlmProject

CONFTEST = "from pytest_llmops.testing import register_test_providers as llmops_register_providers\n"
N_ROWS = 40


def _golden(n: int = N_ROWS, extra: int = 0) -> str:
    rows = [{"id": f"q{i:02d}", "input": f"Name the word token{i} please", "expected": f"token{i}"}
            for i in range(n + extra)]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


SUITE = """
kind: regression
dataset: golden.jsonl
metrics:
  - contains
  - token_f1: {gate: false, threshold: 0.3}
  - rouge_l: {gate: false}
  - bleu: {gate: false}
  - exact_match: {gate: false}
"""


@pytest.fixture
def reg(project: LlmProject) -> LlmProject:
    project.pytester.makeconftest(CONFTEST)
    project.write("golden.jsonl", _golden())
    project.suite("qa", SUITE)
    return project


def _suite(project: LlmProject, directory: str = "reports") -> dict:
    (suite,) = [s for s in project.report(directory)["suites"].values() if s["kind"] == "regression"]
    return suite


def test_update_then_compare_same_model_is_non_inferior_with_zero_flips(reg: LlmProject) -> None:
    result = reg.run("--llm-model=echo:a", "--llm-update-baseline")
    result.assert_outcomes(passed=N_ROWS)
    stored = json.loads((reg.path / "reports/baseline/qa.json").read_text())
    assert len(stored["cases"]) == N_ROWS
    assert stored["provenance"]["dataset_sha256"] and stored["provenance"]["fingerprint"]
    assert stored["cases"]["q03"]["output"] == "echo: Name the word token3 please"

    result = reg.run("--llm-model=echo:a", "--llm-baseline=reports/baseline", "--llm-report-dir=cmp")
    result.assert_outcomes(passed=N_ROWS)
    metrics = _suite(reg, "cmp")["metrics"]
    assert metrics["decision"] == "non_inferior"
    for name in ("contains", "token_f1", "rouge_l", "bleu", "exact_match"):
        m = metrics[name]
        assert m["decision"] == "non_inferior", (name, m)
        assert m["delta"] == {"value": 0.0, "ci95": [0.0, 0.0]}
        assert m["p_value"] == 1.0
        assert m["flips"]["improved"] == m["flips"]["regressed"] == 0
    assert metrics["baseline"]["compared"] == N_ROWS and metrics["baseline"]["stale"] == 0


def test_degraded_candidate_regresses_and_fails_the_run(reg: LlmProject) -> None:
    reg.run("--llm-model=echo:a", "--llm-update-baseline").assert_outcomes(passed=N_ROWS)
    result = reg.run("--llm-model=degrade:echo:a?rate=0.3&alias=a", "--llm-baseline=reports/baseline")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*REGRESSION qa*contains regressed: delta -0.*"])
    metrics = _suite(reg)["metrics"]
    contains = metrics["contains"]
    assert contains["decision"] == "regressed" and metrics["decision"] == "regressed"
    assert contains["delta"]["ci95"][1] < -0.05
    assert contains["flips"]["improved"] == 0 and contains["flips"]["regressed"] >= 6
    # One gated metric: the agreement alarm joins only the "worse?" family, where Holm doubles.
    assert contains["p_value"] < 0.05 and contains["p_holm"] == contains["p_value"]
    assert contains["p_inferiority_holm"] >= contains["p_inferiority"]
    assert metrics["agreement"]["decision"] == "regressed" and metrics["agreement"]["better"] == 0
    # Every case itself ran fine: the regression is a property of the suite.
    result.assert_outcomes(passed=N_ROWS)


def test_ungated_regression_is_reported_but_does_not_fail_the_run(reg: LlmProject) -> None:
    # The candidate-vs-baseline alarm would catch the degraded answers too: ungate it as well.
    reg.suite("qa", SUITE.replace("  - contains\n", "  - contains: {gate: false}\n  - json_valid\n")
              + "agreement: {gate: false}\n")
    reg.run("--llm-model=echo:a", "--llm-update-baseline")
    result = reg.run("--llm-model=degrade:echo:a?rate=0.3&alias=a", "--llm-baseline=reports/baseline")
    assert result.ret == 0
    metrics = _suite(reg)["metrics"]
    assert metrics["contains"]["decision"] == "regressed"
    assert metrics["decision"] == "non_inferior"  # json_valid, the only gated metric, held (0 -> 0)
    assert metrics["agreement"]["decision"] == "regressed" and not metrics["agreement"]["gate"]


def test_baseline_model_in_the_same_run(reg: LlmProject) -> None:
    result = reg.run("--llm-model=degrade:echo:a?rate=0.3&alias=cand", "--llm-baseline-model=echo:a")
    assert result.ret == 1
    assert _suite(reg)["metrics"]["contains"]["decision"] == "regressed"
    models = {m["alias"]: m for m in reg.report()["run"]["models"]}
    assert models["baseline"]["role"] == "baseline"
    # A/A: the same greedy model as candidate and baseline.
    result = reg.run("--llm-model=echo:a", "--llm-baseline-model=echo:a", "--llm-report-dir=aa")
    assert result.ret == 0
    metrics = _suite(reg, "aa")["metrics"]
    assert metrics["decision"] == "non_inferior"
    assert all(metrics[n]["flips"]["regressed"] == metrics[n]["flips"]["improved"] == 0
               for n in ("contains", "token_f1", "rouge_l", "bleu", "exact_match"))


def test_same_results_under_xdist(reg: LlmProject) -> None:
    reg.run("--llm-model=echo:a", "--llm-update-baseline")
    result = reg.run("--llm-model=degrade:echo:a?rate=0.3&alias=a", "--llm-baseline=reports/baseline",
                     "-n", "2", "--llm-report-dir=xd")
    assert result.ret == 1
    plain = reg.run("--llm-model=degrade:echo:a?rate=0.3&alias=a", "--llm-baseline=reports/baseline",
                    "--llm-report-dir=plain")
    assert plain.ret == 1
    assert _suite(reg, "xd")["metrics"]["contains"] == _suite(reg, "plain")["metrics"]["contains"]


def test_changed_dataset_refuses_the_comparison(reg: LlmProject) -> None:
    reg.run("--llm-model=echo:a", "--llm-update-baseline")
    reg.write("golden.jsonl", _golden(extra=1))
    result = reg.run("--llm-model=echo:a", "--llm-baseline=reports/baseline")
    assert result.ret == 1
    result.assert_outcomes(errors=N_ROWS + 1)
    result.stdout.fnmatch_lines(["*refusing to compare suite 'qa': its dataset*differs from the baseline*"
                                 "--llm-update-baseline*"])


def test_missing_baseline_file_is_a_clear_error(reg: LlmProject) -> None:
    result = reg.run("--llm-model=echo:a", "--llm-baseline=nowhere")
    result.assert_outcomes(errors=N_ROWS)
    result.stdout.fnmatch_lines(["*no baseline for suite 'qa'*nowhere*qa.json does not exist*"])


def test_new_and_stale_cases(reg: LlmProject) -> None:
    # The baseline is written from 40 rows; the suite now has 2 new rows and drops 3.
    reg.run("--llm-model=echo:a", "--llm-update-baseline")
    rows = [json.loads(line) for line in _golden(extra=2).splitlines()][3:]
    reg.write("golden.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    stored = reg.path / "reports/baseline/qa.json"
    data = json.loads(stored.read_text())
    # Same rows, new file: re-point the baseline's dataset hash so the comparison is allowed.
    from hashlib import sha256
    data["provenance"]["dataset_sha256"] = sha256((reg.path / "golden.jsonl").read_bytes()).hexdigest()
    stored.write_text(json.dumps(data))
    reg.run("--llm-model=echo:a", "--llm-baseline=reports/baseline").assert_outcomes(passed=N_ROWS - 1)
    baseline = _suite(reg)["metrics"]["baseline"]
    assert baseline["new"] == 2 and baseline["new_cases"] == ["q40", "q41"]
    assert baseline["stale"] == 3 and baseline["stale_cases"] == ["q00", "q01", "q02"]
    # Under -k only part of the suite runs: nothing can be called stale.
    reg.run("--llm-model=echo:a", "--llm-baseline=reports/baseline", "-k", "q1", "--llm-report-dir=k")
    partial = _suite(reg, "k")["metrics"]["baseline"]
    assert partial["stale"] is None and "part of the suite" in partial["stale_note"]


def test_partial_update_merges_into_the_existing_baseline(reg: LlmProject) -> None:
    path = reg.path / "reports/baseline/qa.json"
    reg.run("--llm-model=echo:a", "--llm-update-baseline")
    data = json.loads(path.read_text())
    data["cases"]["left-over"] = {"output": "x", "scores": {}, "passed": {}}
    path.write_text(json.dumps(data))
    reg.run("--llm-model=echo:b", "--llm-update-baseline", "-k", "q05")
    stored = json.loads(path.read_text())
    assert len(stored["cases"]) == N_ROWS + 1 and "left-over" in stored["cases"]
    assert stored["provenance"]["model"] == "b"
    # A whole-suite update replaces the file: the case that no longer exists is gone.
    reg.run("--llm-model=echo:b", "--llm-update-baseline")
    assert sorted(json.loads(path.read_text())["cases"]) == [f"q{i:02d}" for i in range(N_ROWS)]


@pytest.mark.parametrize(("args", "message"), [
    (("--llm-update-baseline", "--llm-baseline=x"), "*cannot be combined with --llm-baseline*"),
    (("--llm-baseline=x", "--llm-baseline-model=echo:b"), "*are alternatives*"),
    (("--llm-baseline-model=echo:b?alias=a",), "*alias 'a' is also a --llm-model alias*"),
])
def test_conflicting_baseline_options_are_usage_errors(reg: LlmProject, args: tuple[str, ...], message: str) -> None:
    result = reg.run("--llm-model=echo:a", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(("yaml_text", "golden", "message"), [
    (SUITE.replace("contains", "containz"), None, "*field 'metrics?0?': unknown metric 'containz'; known:*"),
    (SUITE + "  - regex\n", None, "*metric 'regex' needs 'pattern' in every row; row 'q00' (*golden.jsonl:1)*"),
    (SUITE, '{"id": "a", "input": "x", "expected": "y"}\n{"input": "no id"}\n',
     "*golden.jsonl:2: field 'id': every row needs an id*"),
    (SUITE, '{"id": "a", "input": "x"\n', "*golden.jsonl:1: not a JSON object*"),
    (SUITE.replace("  - contains\n", "  - contains: {tolerance: 3}\n"), None,
     "*metrics?0?.contains.tolerance': expected an absolute drop in ?0, 1) such as 0.05, or a share of the "
     "baseline mean such as '10%'; got 3*"),
    (SUITE + "tolerance: 150%\n", None, "*field 'tolerance': the largest acceptable drop: expected a percentage in*"),
    (SUITE + "agreement: {tolerance: 0.1}\n", None, "*field 'agreement': expected true, false or {gate: true|false}*"),
])
def test_bad_suites_and_datasets_name_file_line_and_field(reg: LlmProject, yaml_text: str, golden: str | None,
                                                         message: str) -> None:
    reg.suite("qa", yaml_text)
    if golden is not None:
        reg.write("golden.jsonl", golden)
    result = reg.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])


def test_inline_cases_and_scores_without_a_baseline(project: LlmProject) -> None:
    project.pytester.makeconftest(CONFTEST)
    project.suite("inline", """
        kind: regression
        cases:
          - {id: one, input: "say {\\"city\\": \\"Paris\\"}", expected_json: {city: Paris}}
          - {id: two, input: "nothing here", expected_json: {city: Paris}}
        metrics: [json_valid, json_fields]
    """)
    project.run("--llm-model=echo:a").assert_outcomes(passed=2)
    metrics = _suite(project)["metrics"]
    assert metrics["decision"] == "inconclusive" and "no baseline" in metrics["decision_reason"]
    assert metrics["json_valid"]["mean"] == 0.5 and metrics["json_fields"]["mean"] == 0.5
    cases = project.cases()
    assert cases["one[a]"]["regression"]["scores"] == {"json_valid": 1.0, "json_fields": 1.0}


def test_deepeval_metric_needs_a_judge_and_reports_a_missing_extra_as_an_error(
        reg: LlmProject, monkeypatch: pytest.MonkeyPatch) -> None:
    reg.suite("qa", SUITE.replace("  - contains\n", "  - deepeval:AnswerRelevancyMetric\n"))
    result = reg.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*field 'judge': DeepEval metrics need 'judge: SPEC'*"])

    reg.suite("qa", SUITE.replace("  - contains\n", "  - deepeval:AnswerRelevancyMetric\n") + "judge: echo:j\n")
    # As if DeepEval were not installed (the real import failure is tested in a fresh interpreter
    # by tests/test_deepeval_bridge.py): here, that the case ends as an error naming the extra.
    from pytest_llmops.integrations.deepeval import batch, bridge

    def not_installed() -> None:
        raise bridge.DeepEvalUnavailable(f"DeepEval metrics need the deepeval extra: {bridge.INSTALL_HINT}")

    monkeypatch.setattr(batch, "import_deepeval", not_installed)
    result = reg.run("--llm-model=echo:a", "-k", "q01")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest-llmops?deepeval?*"])
    (case,) = reg.report()["cases"]
    assert case["outcome"] == "error" and "deepeval" in case["error"]


def test_a_judge_that_cannot_answer_in_json_ends_its_cases_as_errors(reg: LlmProject) -> None:
    pytest.importorskip("deepeval")  # tests/conftest.py fails the run instead where CI requires it
    reg.suite("qa", SUITE.replace("  - contains\n", "  - deepeval:AnswerRelevancyMetric\n") + "judge: echo:j\n")
    result = reg.run("--llm-model=echo:a", "-k", "q01 or q02")
    result.assert_outcomes(failed=2)
    for case in reg.report()["cases"]:
        assert case["outcome"] == "error" and "JudgeFailed" in case["error"]
        assert case["judge"]["error"].startswith("JudgeFailed") and case["judge"]["name"].startswith("j ")


def test_deepeval_metric_needing_retrieval_context_is_refused(reg: LlmProject) -> None:
    reg.suite("qa", SUITE.replace("  - contains\n", "  - deepeval:FaithfulnessMetric\n") + "judge: echo:j\n")
    result = reg.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs a retrieval context*"])
