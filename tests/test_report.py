"""The canonical JSON report: contract, determinism under xdist, infra errors, python tests."""

from __future__ import annotations

import copy
import json
import shutil
from typing import Any

import pytest

from llmops_testutils import LlmProject, echo_log_lines, simple_suite

SUITE = """
suite: contract
kind: functional
cases:
  - id: pass-1
    input: alpha beta
    checks: [contains: alpha]
  - id: pass-2
    input: gamma delta
    checks: [contains: delta]
  - id: fail-1
    input: epsilon
    checks: [contains: zeta]
"""

TIMING_RUN_FIELDS = ("started_at", "duration_s", "engine", "workers")


def _without_timings(report: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(report)
    for key in TIMING_RUN_FIELDS:
        out["run"].pop(key)
    for case in out["cases"]:
        case.pop("timings")
    return out


def test_report_matches_the_contract(project: LlmProject) -> None:
    project.suite("contract", SUITE)
    result = project.run("--llm-model=echo:m1")
    result.assert_outcomes(passed=2, failed=1)
    report = project.report()
    assert report["schema_version"] == 1

    run = report["run"]
    for key in ("started_at", "git_sha", "plugin_version", "models", "env"):
        assert key in run, key
    assert isinstance(run["started_at"], str) and run["started_at"][:2] == "20"
    assert run["plugin_version"] == "0.1.0"
    [model] = run["models"]
    assert model["alias"] == "m1"
    assert model["spec"] == "echo:m1"
    assert isinstance(model["fingerprint"], str) and len(model["fingerprint"]) == 64
    for key in ("python", "torch", "device", "gpu"):
        assert key in run["env"], key
    assert run["env"]["device"] == "cpu"
    assert run["env"]["gpu"] is None

    assert list(report["suites"]) == ["contract"]
    suite = report["suites"]["contract"]
    assert suite["kind"] == "functional"
    assert suite["model"] == "m1"
    assert (suite["n"], suite["passed"], suite["failed"], suite["errors"]) == (3, 2, 1, 0)
    rate = suite["metrics"]["pass_rate"]
    assert rate["value"] == pytest.approx(2 / 3)
    assert rate["n"] == 3
    lo, hi = rate["ci95"]
    assert isinstance(lo, float) and isinstance(hi, float)
    assert 0.0 <= lo <= rate["value"] <= hi <= 1.0

    assert [c["id"] for c in report["cases"]] == ["pass-1", "pass-2", "fail-1"]
    for case in report["cases"]:
        for key in ("id", "suite", "model", "outcome", "output", "checks", "cached"):
            assert key in case, key
        assert case["suite"] == "contract"
        assert case["model"] == "m1"
        assert case["cached"] is False
        assert case["nodeid"] == f"contract.eval.yaml::{case['id']}[m1]"
    by_id = {c["id"]: c for c in report["cases"]}
    assert by_id["pass-1"]["outcome"] == "passed"
    assert by_id["fail-1"]["outcome"] == "failed"
    assert by_id["fail-1"]["output"] == "echo: epsilon"
    assert by_id["fail-1"]["checks"][0]["passed"] is False
    assert by_id["fail-1"]["checks"][0]["evidence"] == "missing ['zeta']"


def test_two_models_key_suites_by_alias(project: LlmProject) -> None:
    project.suite("contract", SUITE)
    result = project.run("--llm-model=echo:a", "--llm-model=echo:b")
    result.assert_outcomes(passed=4, failed=2)
    report = project.report()
    assert set(report["suites"]) == {"contract[a]", "contract[b]"}
    assert report["suites"]["contract[b]"]["model"] == "b"
    assert [m["alias"] for m in report["run"]["models"]] == ["a", "b"]
    fingerprints = {m["fingerprint"] for m in report["run"]["models"]}
    assert len(fingerprints) == 2
    # Cases are ordered by suite, model, then position in the file.
    assert [(c["model"], c["id"]) for c in report["cases"]] == [
        (m, i) for m in ("a", "b") for i in ("pass-1", "pass-2", "fail-1")]


@pytest.mark.parametrize("cache_args, warm", [(("--llm-cache=off",), False), ((), True)],
                         ids=["cold-no-cache", "warm-cache"])
def test_plain_and_xdist_runs_give_the_same_report(project: LlmProject, cache_args: tuple[str, ...],
                                                   warm: bool) -> None:
    """Same report, timings aside, from one process and from two workers.

    The cache state is the same for both runs (no cache at all, or a cache that already holds
    every answer), so the ``cached`` flags are comparable too.
    """
    project.suite("big", simple_suite(21, failing_every=4))
    project.suite("second", simple_suite(5, name="second"))
    args = ("--llm-model=echo:a", "--llm-model=echo:b", *cache_args)
    if warm:
        project.run_subprocess(*args).assert_outcomes(passed=40, failed=12)

    plain = project.run_subprocess(*args)
    plain.assert_outcomes(passed=40, failed=12)
    plain_report = project.report()
    shutil.rmtree(project.path / "reports")

    dist = project.run_subprocess("-n", "2", *args)
    dist.assert_outcomes(passed=40, failed=12)
    dist_report = project.report()

    assert dist_report["run"]["workers"] == 2
    assert plain_report["run"]["workers"] == 0
    assert {c["cached"] for c in plain_report["cases"]} == {warm}
    assert len(plain_report["cases"]) == 52
    assert _without_timings(plain_report) == _without_timings(dist_report)
    # The engine counters of both workers are merged. With two models each model's cases run on
    # one worker (worker_groups.py), so each model's answers are generated or read exactly once,
    # as in the plain run (21 distinct prompts per model: "second" repeats five of "big").
    for alias in ("a", "b"):
        stats, plain_stats = dist_report["run"]["engine"][alias], plain_report["run"]["engine"][alias]
        assert stats["generated"] + stats["cache_hits"] == plain_stats["generated"] + plain_stats["cache_hits"] == 21


def test_xdist_run_with_models_from_ini_writes_the_report(project: LlmProject) -> None:
    """The xdist controller collects nothing itself; it must still gather the workers' records."""
    project.suite("big", simple_suite(8, failing_every=4))
    project.write("pytest.ini", """
        [pytest]
        llm_model = echo:from-ini
    """)
    result = project.run_subprocess("-n", "2")
    result.assert_outcomes(passed=6, failed=2)
    report = project.report()
    assert report["run"]["workers"] == 2
    assert report["suites"]["big"]["n"] == 8
    assert [m["alias"] for m in report["run"]["models"]] == ["from-ini"]


def test_infra_errors_are_errors_and_never_cached(project: LlmProject, monkeypatch: pytest.MonkeyPatch) -> None:
    log = project.path / "echo.log"
    monkeypatch.setenv("LLMOPS_ECHO_LOG", str(log))
    project.suite("flaky", simple_suite(6, name="flaky", infra=(2, 4)))

    first = project.run_subprocess("--llm-model=echo:a")
    assert first.ret != pytest.ExitCode.OK
    first.assert_outcomes(passed=4, errors=2)
    assert len(echo_log_lines(log)) == 6
    report = project.report()
    suite = report["suites"]["flaky"]
    assert (suite["n"], suite["passed"], suite["failed"], suite["errors"]) == (6, 4, 0, 2)
    # infra errors are neither passes nor failures
    assert suite["metrics"]["pass_rate"]["n"] == 4
    assert suite["metrics"]["pass_rate"]["value"] == 1.0
    errored = [c for c in report["cases"] if c["outcome"] == "error"]
    assert [c["id"] for c in errored] == ["c02", "c04"]
    for case in errored:
        assert case["output"] is None
        assert case["cached"] is False
        assert "infra error" in case["error"] and "simulated endpoint failure" in case["error"]
    assert "simulated endpoint failure" in first.stdout.str()

    # Second run: the good answers come from the cache, the infra errors are tried again.
    second = project.run_subprocess("--llm-model=echo:a")
    second.assert_outcomes(passed=4, errors=2)
    lines = echo_log_lines(log)
    assert lines[6:] == ["INFRA_FAIL 2", "INFRA_FAIL 4"]
    cases = project.cases()
    assert all(cases[f"c{i:02d}[a]"]["cached"] for i in (0, 1, 3, 5))
    assert project.report()["suites"]["flaky"]["cached"] == 4


def test_infra_error_in_python_test_is_an_error_record(project: LlmProject) -> None:
    project.write("test_flaky_llm.py", """
        def test_down(llm):
            llm.generate("please INFRA_FAIL now")
    """)
    result = project.run("--llm-model=echo:a")
    assert result.ret != pytest.ExitCode.OK
    [case] = project.report()["cases"]
    assert case["outcome"] == "error"
    assert "InfraError" in case["error"]
    suite = project.report()["suites"]["test_flaky_llm"]
    assert (suite["passed"], suite["failed"], suite["errors"]) == (0, 0, 1)


def test_python_test_with_llm_fixture_gets_a_record(project: LlmProject) -> None:
    project.write("test_pyrecord.py", """
        def test_capital(llm):
            answer = llm.generate("What is the capital of France?")
            assert "capital of France" in answer

        def test_wrong(llm):
            assert llm.generate("abc") == "xyz"

        def test_without_llm():
            pass
    """)
    project.write("sub/test_nested.py", """
        def test_many(llm):
            assert llm.generate_many(["one", "two"]) == ["echo: one", "echo: two"]
    """)
    result = project.run("--llm-model=echo:m")
    result.assert_outcomes(passed=3, failed=1)
    report = project.report()
    assert set(report["suites"]) == {"test_pyrecord", "sub/test_nested"}
    assert report["suites"]["test_pyrecord"]["passed"] == 1
    assert report["suites"]["test_pyrecord"]["failed"] == 1
    cases = {c["id"]: c for c in report["cases"]}
    assert set(cases) == {"test_capital[m]", "test_wrong[m]", "test_many[m]"}
    capital = cases["test_capital[m]"]
    assert capital["suite"] == "test_pyrecord"
    assert capital["model"] == "m"
    assert capital["outcome"] == "passed"
    assert capital["output"] == "echo: What is the capital of France?"
    assert capital["nodeid"] == "test_pyrecord.py::test_capital[m]"
    assert cases["test_wrong[m]"]["outcome"] == "failed"
    assert "AssertionError" in cases["test_wrong[m]"]["error"]
    assert [g["output"] for g in cases["test_many[m]"]["generations"]] == ["echo: one", "echo: two"]


def test_no_report_when_no_llm_test_ran(project: LlmProject) -> None:
    project.write("test_plain.py", """
        def test_nothing_to_do_with_models():
            assert 1 + 1 == 2
    """)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=1)
    assert not (project.path / "reports").exists()
    assert "= llmops =" not in result.stdout.str()


def test_no_report_when_suite_cases_are_deselected(project: LlmProject) -> None:
    project.suite("contract", SUITE)
    project.write("test_plain.py", "def test_plain():\n    pass\n")
    result = project.run("--llm-model=echo:a", "-k", "test_plain")
    result.assert_outcomes(passed=1, deselected=3)
    assert not (project.path / "reports").exists()


def test_report_is_valid_json_with_unicode(project: LlmProject) -> None:
    project.suite("uni", """
        cases:
          - id: unicode
            input: "Grüße aus Köln — 東京 ✓"
            checks: [contains: 東京]
    """)
    project.run("--llm-model=echo:a").assert_outcomes(passed=1)
    text = project.report_path().read_text(encoding="utf-8")
    assert "東京" in text  # written as UTF-8, not escaped
    assert json.loads(text)["cases"][0]["output"] == "echo: Grüße aus Köln — 東京 ✓"


def test_terminal_summary_lists_suites_and_report_path(project: LlmProject) -> None:
    project.suite("contract", SUITE)
    result = project.run("--llm-model=echo:a")
    result.stdout.fnmatch_lines([
        "*= llmops =*",
        "suite*model*n*pass*fail*err*key metric*",
        "contract*a*3*2*1*0*pass rate 0.67 [[]0.*, 0.*[]]",
        "model a: 3 generated, 0 from cache, 0 infra errors",
        f"report: {project.report_path()}",
    ])


def test_a_case_whose_setup_breaks_is_an_error_record(project) -> None:
    """A template variable missing for one case: that case errors (with its reason) and the others run."""
    project.write("prompts/t.j2", "Say {{ word }}.")
    project.suite("tmpl", """
        subject: prompt
        prompt: prompts/t.j2
        cases:
          - id: ok
            vars: {word: hello}
            checks: [{contains: hello}]
          - id: missing-var
            vars: {other: x}
            checks: [{contains: hello}]
    """)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=1, errors=1)
    cases = project.cases()
    broken = cases["missing-var[a]"]
    assert broken["outcome"] == "error" and "UndefinedError" in broken["error"] and "word" in broken["error"]
    assert project.report()["suites"]["tmpl"]["errors"] == 1
