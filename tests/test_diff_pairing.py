"""Which cases a diff pairs: by (suite, id) when each side ran one model, so a pull request
that swaps the model shows its flips; by (suite, model, id) when a side ran several."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.cli import main
from pytest_llmops.core.stats import rate_metric
from pytest_llmops.integrations.github import build_comment_body, top_regressions
from pytest_llmops.report.diff import diff_reports
from pytest_llmops.report.pairing import Pairing, bare_name, models_of
from pytest_llmops.suites.faces import with_faces

from test_diff import table_rows

Cases = dict[str, list[tuple[str, str]]]  # suite -> [(case id, outcome)]


def report_on(runs: dict[str, Cases], sha: str = "a" * 40) -> dict[str, Any]:
    """A report of ``model -> suite -> cases``. Suite keys get the ``[model]`` suffix only
    with several models, as :class:`~pytest_llmops.report.json_report.ReportBuilder` writes them."""
    report: dict[str, Any] = {"schema_version": 1, "suites": {}, "cases": [],
                              "run": {"git_sha": sha, "started_at": "2026-01-01T00:00:00+00:00",
                                      "models": [{"alias": m} for m in runs]}}
    for model, suites in runs.items():
        for suite, cases in suites.items():
            passed, failed, errors = (sum(1 for _, o in cases if o == x) for x in ("passed", "failed", "error"))
            key = f"{suite}[{model}]" if len(runs) > 1 else suite
            report["suites"][key] = {"kind": suite.split("/")[0], "model": model, "n": len(cases), "passed": passed,
                                     "failed": failed, "errors": errors, "skipped": 0,
                                     "metrics": {"pass_rate": rate_metric(passed, passed + failed)}}
            report["cases"] += [{"suite": suite, "id": case_id, "model": model, "outcome": outcome,
                                 "output": f"{model} says {case_id}", "checks": []} for case_id, outcome in cases]
    return with_faces(report)


# 4 of 6 pass on the base model, 2 of 5 scored on the head one: a, b regress, c improves, e errors.
BASE_QA = [("a", "passed"), ("b", "passed"), ("c", "failed"), ("d", "passed"), ("e", "passed"), ("f", "failed")]
HEAD_QA = [("a", "failed"), ("b", "failed"), ("c", "passed"), ("d", "passed"), ("e", "error"), ("f", "failed")]
OTHER = [("x", "passed"), ("y", "passed")]


@pytest.fixture
def swap() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same suites on smollm2 (base) and on another alias (head)."""
    base = report_on({"smollm2": {"functional/qa": BASE_QA, "functional/other": OTHER}}, sha="b" * 40)
    head = report_on({"qwen-vllm": {"functional/qa": HEAD_QA, "functional/other": OTHER}}, sha="c" * 40)
    return base, head


def test_a_swapped_model_pairs_cases_by_suite_and_id(swap: tuple[dict[str, Any], dict[str, Any]]) -> None:
    text = diff_reports(*swap)
    assert text.count("model: smollm2 \u2192 qwen-vllm") == 1
    assert ("2 regressed cases, 1 improved case, 1 other outcome change; 0 new and 0 removed cases; "
            "0 new and 0 removed suites.") in text
    regressed = table_rows(text, "### Regressions: passed \u2192 failed (2)")
    assert [row.split(" | ")[1] for row in regressed] == ["a", "b"]
    assert all("passed \u2192 failed" in row and "| qwen-vllm |" in row for row in regressed)
    assert [row.split(" | ")[1] for row in table_rows(text, "### Improvements: failed \u2192 passed (1)")] == ["c"]
    assert [row.split(" | ")[1] for row in table_rows(text, "### Other outcome changes (1)")] == ["e"]
    assert "### New cases" not in text and "### Removed cases" not in text and "### New suites" not in text
    # the suites pair too: the pass rate's fall (4/6 -> 2/5) is a metric change of functional/qa
    qa = [row for row in table_rows(text, "### Metrics") if row.startswith("| functional/qa | pass\\_rate |")]
    assert len(qa) == 1 and "\u2b07\ufe0f worse" in qa[0] and "| -0.267 |" in qa[0]


def test_suite_keys_with_a_model_suffix_pair_by_bare_name(swap: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = swap
    head["suites"] = {f"{key}[qwen-vllm]": suite for key, suite in head["suites"].items()}
    text = diff_reports(base, head)
    assert "2 regressed cases" in text and "0 new and 0 removed suites" in text
    assert any(row.startswith("| functional/qa | pass\\_rate |") for row in table_rows(text, "### Metrics"))
    assert bare_name("functional/qa[qwen-vllm]", "qwen-vllm") == "functional/qa"
    assert bare_name("functional/qa[other]", "qwen-vllm") == "functional/qa[other]"  # another model's suffix stays
    assert bare_name("[m]", "m") == "[m]"


def test_the_pr_comment_lists_the_swapped_models_regressions(swap: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = swap
    lines, total = top_regressions(base, head, count=5)
    assert total == 3  # a and b failed, e errors
    assert [line.split("`")[1] for line in lines] == ["a", "b", "e"]
    body = build_comment_body(head, base, None, None, "pointer")
    assert "### Top regressions (3)" in body and "No regressions" not in body
    assert "model: smollm2 \u2192 qwen-vllm" in body and "2 regressed cases" in body


def test_the_same_model_on_both_sides_adds_no_model_line() -> None:
    base = report_on({"m": {"functional/qa": BASE_QA}})
    head = report_on({"m": {"functional/qa": HEAD_QA}})
    text = diff_reports(base, head)
    assert "2 regressed cases, 1 improved case" in text
    assert "model:" not in text and "models:" not in text


def test_several_models_on_a_side_pair_by_suite_model_and_id() -> None:
    base = report_on({"a": {"functional/qa": BASE_QA}, "b": {"functional/qa": BASE_QA}})
    head = report_on({"a": {"functional/qa": HEAD_QA}, "c": {"functional/qa": HEAD_QA}})
    pairing = Pairing.of(base, head)
    assert not pairing.by_name and pairing.base_models == ("a", "b") and pairing.head_models == ("a", "c")
    text = diff_reports(base, head)
    assert text.count("models: a, b \u2192 a, c (several on a side") == 1
    # only model a is on both sides: its flips, and b's and c's suites as removed and new
    assert "2 regressed cases, 1 improved case, 1 other outcome change" in text
    regressed = table_rows(text, "### Regressions")
    assert len(regressed) == 2 and all("| a |" in row for row in regressed)
    assert [row.split(" | ")[0] for row in table_rows(text, "### New suites (1)")] == ["| functional/qa\\[c\\]"]
    assert [row.split(" | ")[0] for row in table_rows(text, "### Removed suites (1)")] == ["| functional/qa\\[b\\]"]
    assert top_regressions(base, head)[1] == 3  # the comment pairs the same way


def test_one_model_against_two_pairs_the_shared_models_suites() -> None:
    base = report_on({"a": {"functional/qa": BASE_QA}})  # keyed "functional/qa"
    head = report_on({"a": {"functional/qa": HEAD_QA}, "b": {"functional/qa": HEAD_QA}})  # "functional/qa[a]", ...
    text = diff_reports(base, head)
    assert "models: a \u2192 a, b (several on a side" in text
    assert any(row.startswith("| functional/qa\\[a\\] | pass\\_rate |") for row in table_rows(text, "### Metrics"))
    assert [row.split(" | ")[0] for row in table_rows(text, "### New suites (1)")] == ["| functional/qa\\[b\\]"]
    assert "### Removed suites" not in text and "2 regressed cases" in text


def test_models_come_from_suites_and_cases_not_the_run() -> None:
    # A suite that compares with a reference model lists it in run.models; it is no side's model.
    report = report_on({"cand": {"functional/qa": BASE_QA}})
    report["run"]["models"].append({"alias": "reference"})
    assert models_of(report) == ("cand",)
    assert models_of({"suites": {"s": {}}, "cases": [{"id": "x"}]}) == ()


def test_llmops_diff_prints_the_paired_diff(tmp_path: Path, swap: tuple[dict[str, Any], dict[str, Any]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    base, head = swap
    paths = []
    for name, report in (("base.json", base), ("head.json", head)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(report), encoding="utf-8")
    # llmops diff only describes: its exit status is 0 whatever regressed (llmops gate decides)
    assert main(["diff", str(paths[0]), str(paths[1])]) == 0
    out = capsys.readouterr().out
    assert "model: smollm2 \u2192 qwen-vllm" in out and "### Regressions: passed \u2192 failed (2)" in out
