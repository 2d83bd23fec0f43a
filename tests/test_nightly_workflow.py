"""The nightly drift workflow (action/examples/nightly-drift.yml) and its gate file.

Linted like the other examples: ``test_action_yaml.py`` checks every example's use of the
action (declared inputs only); here the schedule, permissions, step order, history cache,
conditions (with the same ``${{ }}`` evaluator) and the issue step, whose ``run:`` script is
executed with bash against the local GitHub stand-in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from github_stub import GitHubStub
from pytest_llmops.gates import evaluate_gate, load_gate_config
from test_action_yaml import EXAMPLES, ROOT, condition, load, strings, triggers

WORKFLOW = EXAMPLES / "nightly-drift.yml"
TOKEN = "ghs_NightlyT0kenNeverPrinted123456789"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load(WORKFLOW)


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in steps(workflow) if s.get("name") == name]
    return found


def _cron_field_ok(text: str, low: int, high: int) -> bool:
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        if step_text and not (step_text.isdigit() and int(step_text) > 0):
            return False
        if base == "*":
            continue
        lo, _, hi = base.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            return False
        if not (low <= int(lo) <= high and (not hi or int(lo) <= int(hi) <= high)):
            return False
    return True


def test_runs_nightly_and_by_hand(workflow: dict[str, Any]) -> None:
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in on["schedule"]]
    fields = cron.split()
    assert len(fields) == 5
    assert all(_cron_field_ok(f, lo, hi) for f, (lo, hi) in zip(fields, [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]))
    assert fields[2:] == ["*", "*", "*"]  # every day
    assert on["workflow_dispatch"]["inputs"]["log-date"]["required"] is False


def test_permissions_are_the_least_the_issue_needs(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_the_project_specific_paths_are_marked_variables(workflow: dict[str, Any]) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for name in ("DRIFT_SUITES", "LOG_DIR", "GATE_FILE"):
        assert name in workflow["env"]
        assert re.search(rf"# >>> ADJUST:[^\n]*\n(?:\s*#[^\n]*\n)*\s*{name}:", text), name
    assert (ROOT / workflow["env"]["GATE_FILE"]).is_file()


def test_no_expression_is_interpolated_into_shell_code(workflow: dict[str, Any]) -> None:
    for s in steps(workflow):
        if "run" in s:
            assert "${{" not in s["run"], s.get("name")


def test_history_is_restored_before_the_run_and_saved_after(workflow: dict[str, Any]) -> None:
    names = [s.get("name") for s in steps(workflow)]
    order = ["Fetch the last day's logs and the reference window", "Restore the run history",
             "Drift and slice suites", "Save the run history", "Open, update or close the tracking issue",
             "Fail when the gate blocked"]
    assert [n for n in names if n in order] == order
    restore, save = step(workflow, "Restore the run history"), step(workflow, "Save the run history")
    assert restore["uses"].startswith("actions/cache/restore@") and save["uses"].startswith("actions/cache/save@")
    evaluate = step(workflow, "Drift and slice suites")
    history = f"{evaluate['with']['report-dir']}/history.jsonl"  # where --llm-history appends
    assert restore["with"]["path"] == save["with"]["path"] == history
    # A new cache entry per run (caches are immutable); the newest is restored by prefix.
    assert save["with"]["key"] == restore["with"]["key"] == "llmops-history-${{ github.run_id }}"
    assert restore["with"]["restore-keys"] == "llmops-history-"
    assert "--llm-history" in evaluate["with"]["pytest-args"].split()
    assert evaluate["uses"] == "./action" and evaluate["with"]["suites"] == "${{ env.DRIFT_SUITES }}"
    assert evaluate["with"]["gate-env"] == "${{ env.GATE_ENV }}" and evaluate["with"]["fail-on-block"] == "false"


@pytest.mark.parametrize("decision, cancelled, issue_runs, fail_runs", [
    ("BLOCK", False, True, True), ("ALLOW", False, True, False), ("BLOCK", True, False, True),
])
def test_conditions(workflow: dict[str, Any], decision: str, cancelled: bool, issue_runs: bool,
                    fail_runs: bool) -> None:
    context = {"steps": {"eval": {"outputs": {"decision": decision, "report": "reports/llmops-report.json"}}}}
    issue = step(workflow, "Open, update or close the tracking issue")
    fail = step(workflow, "Fail when the gate blocked")
    assert condition(issue["if"], context, job_failed=False, cancelled=cancelled) is issue_runs
    # The fail step has no status function: it runs only while the job is still green.
    assert condition(fail["if"], context, job_failed=False, cancelled=False) is fail_runs
    assert condition(issue["if"], {"steps": {"eval": {"outputs": {}}}}, job_failed=True) is False  # no report


def nightly_report(p_value: float, gap_ub: float) -> dict[str, Any]:
    def diff(value: float, low: float, high: float) -> dict[str, Any]:
        return {"value": value, "ci95": [low, high], "p_value": 0.5}

    metrics = {"pass_rate": {"value": 1.0, "ci95": [0.2, 1.0], "n": 1},
               "input_shift": {"p_value": p_value, "mmd2": 0.02},
               "slices": {"segment": {"max_gap": {"value": gap_ub / 2, "lb95": 0.0, "ub95": gap_ub,
                                                  "ci95": [0.0, gap_ub]}}},
               "output": {"refusal_rate": diff(0.01, -0.01, 0.03),
                          "checks": {"grounded": diff(-0.01, -0.04, 0.02)}}}
    return {"schema_version": 1, "run": {"started_at": "2026-10-28T03:17:00+00:00", "git_sha": "ab" * 20},
            "cases": [], "suites": {"drift/traffic": {"kind": "drift", "n": 1, "passed": 1, "failed": 0, "errors": 0,
                                                      "metrics": metrics}}}


def test_the_nightly_gate_file(workflow: dict[str, Any]) -> None:
    config = load_gate_config(ROOT, ROOT / workflow["env"]["GATE_FILE"])
    assert evaluate_gate(nightly_report(0.3, 0.05), config, "nightly").to_dict()["decision"] == "ALLOW"
    shifted = evaluate_gate(nightly_report(0.0009, 0.05), config, "nightly").to_dict()
    assert shifted["decision"] == "BLOCK"
    assert [c["metric"] for c in shifted["checks"] if c["status"] == "FAIL"] == ["input_shift.p_value"]
    gap = evaluate_gate(nightly_report(0.3, 0.27), config, "nightly").to_dict()
    assert [c["metric"] for c in gap["checks"] if c["status"] == "FAIL"] == ["slices.segment.max_gap.ub95"]


def test_the_issue_step_script_runs_against_the_github_stand_in(workflow: dict[str, Any], tmp_path: Path) -> None:
    """The step's own ``run:`` with its ``env:``, in bash, with ``llmops`` from this checkout."""
    issue = step(workflow, "Open, update or close the tracking issue")
    assert issue["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    shim = tmp_path / "bin" / "llmops"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pytest_llmops.cli "$@"\n')
    shim.chmod(0o755)
    config = load_gate_config(ROOT, ROOT / workflow["env"]["GATE_FILE"])
    report = nightly_report(0.0009, 0.27)
    report["gate"] = evaluate_gate(report, config, "nightly").to_dict()
    path = tmp_path / "llmops-report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    with GitHubStub(TOKEN) as stub:
        env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               **{k: str(v) for k, v in workflow["env"].items()},
               "GITHUB_TOKEN": TOKEN, "REPORT": str(path), "GITHUB_API_URL": stub.base_url,
               "GITHUB_REPOSITORY": stub.full_name, "GITHUB_RUN_ID": "77"}
        done = subprocess.run(["bash", "-e", "-c", issue["run"]], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        (opened,) = stub.issues()
    assert "input_shift.p_value" in opened["body"] and "slices.segment.max_gap.ub95" in opened["body"]
    assert opened["body"].startswith("<!-- llmops:issue key=nightly-drift failing=")
    assert TOKEN not in done.stdout + done.stderr


def test_listed_among_the_examples() -> None:
    assert WORKFLOW in sorted(EXAMPLES.glob("*.yml"))
    assert "nightly-drift.yml" in (ROOT / "action" / "README.md").read_text(encoding="utf-8")
    assert "llmops issue" in "\n".join(strings(load(WORKFLOW)))
