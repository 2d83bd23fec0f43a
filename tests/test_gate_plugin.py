"""--llm-gate-env end to end: the gate table, the gate artifact, the exit status, JUnit, history, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from llmops_testutils import LlmProject, echo_log_lines, simple_suite

GATES = """
environments:
  dev:
    checks:
      - "*: errors == 0"
      - "big: pass_rate.lb95 >= 0.5"
  prod:
    on_inconclusive: block
    on_missing: block
    checks:
      - "big: pass_rate.lb95 >= 0.95"
      - "adversarial/*: attack_success_rate.ub95 <= 0.05"
"""


@pytest.fixture
def gated(project: LlmProject) -> LlmProject:
    project.write("llmops.yaml", GATES)
    project.suite("big", simple_suite(20))
    return project


def test_allow_prints_table_and_writes_artifacts(gated: LlmProject) -> None:
    result = gated.run("--llm-model=echo:a", "--llm-gate-env=dev")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*llmops gate (dev)*", "PASS *big*pass_rate.lb95 >= 0.5*", "PROMOTION: ALLOW (dev)"])
    report = gated.report()
    assert report["gate"]["env"] == "dev" and report["gate"]["decision"] == "ALLOW"
    artifact = json.loads((gated.path / "reports" / "gate-dev.json").read_text())
    assert artifact["decision"] == "ALLOW"
    assert artifact["inputs"]["big"] == report["suites"]["big"]["source"]["sha256"]
    assert artifact["models"][0]["fingerprint"] == report["run"]["models"][0]["fingerprint"]
    import hashlib

    assert artifact["report_sha256"] == hashlib.sha256(gated.report_path().read_bytes()).hexdigest()
    assert (gated.path / "reports" / "llmops-report.html").is_file()
    assert (gated.path / "reports" / "llmops-report.md").is_file()


def test_block_fails_a_run_whose_tests_all_passed(gated: LlmProject) -> None:
    result = gated.run("--llm-model=echo:a", "--llm-gate-env=prod")
    result.assert_outcomes(passed=20)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["PROMOTION: BLOCK (prod)"])
    assert gated.report()["gate"]["decision"] == "BLOCK"
    statuses = {row["check"]: row["status"] for row in gated.report()["gate"]["checks"]}
    assert statuses["big: pass_rate.lb95 >= 0.95"] == "FAIL"  # 20/20 has lb95 = 0.84


def test_infra_errors_never_let_a_gate_pass(project: LlmProject) -> None:
    project.write("llmops.yaml", GATES)
    project.suite("big", simple_suite(20, infra=(3,)))
    result = project.run("--llm-model=echo:a", "--llm-gate-env=dev")
    result.stdout.fnmatch_lines(["FAIL* big *errors == 0*"])
    rows = project.report()["gate"]["checks"]
    rate = next(r for r in rows if "pass_rate" in r["check"])
    assert rate["status"] == "INCONCLUSIVE" and "infra" in rate["reason"]


def test_bad_gate_file_is_a_usage_error_before_any_generation(project: LlmProject, monkeypatch) -> None:
    log = project.path / "echo.log"
    monkeypatch.setenv("LLMOPS_ECHO_LOG", str(log))
    project.write("llmops.yaml", "environments:\n  dev:\n    checks:\n      - 'big: pass_rate.lb95 >> 0.5'\n")
    project.suite("big", simple_suite(3))
    result = project.run_subprocess("--llm-model=echo:a", "--llm-gate-env=dev")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llmops.yaml*dev*checks[[]0[]]*>>*"])
    assert echo_log_lines(log) == []


def test_unknown_environment_is_a_usage_error(gated: LlmProject) -> None:
    result = gated.run("--llm-model=echo:a", "--llm-gate-env=staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*staging*known: dev, prod*"])


def test_gate_from_ini_and_pyproject(project: LlmProject) -> None:
    project.write("pyproject.toml", """
        [tool.pytest.ini_options]
        llm_gate_env = "dev"

        [tool.llmops.environments.dev]
        checks = ["big: pass_rate.lb95 >= 0.99"]
    """)
    project.suite("big", simple_suite(5))
    result = project.run("--llm-model=echo:a")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["PROMOTION: BLOCK (dev)"])


def test_junit_xml_carries_suite_metrics(gated: LlmProject) -> None:
    gated.run("--llm-model=echo:a", "--llm-gate-env=dev", "--junitxml=out.xml")
    root = ET.parse(gated.path / "out.xml").getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["llmops.big.pass_rate"] == "1.0"
    assert props["llmops.big.n"] == "20"
    assert props["llmops.gate.dev"] == "ALLOW"
    low, high = props["llmops.big.pass_rate.ci95"].split(",")
    assert float(low) < 1.0 == float(high)


def test_history_is_opt_in_and_appends(gated: LlmProject) -> None:
    gated.run("--llm-model=echo:a")
    history = gated.path / "reports" / "history.jsonl"
    assert not history.exists()
    gated.run("--llm-model=echo:a", "--llm-history")
    gated.run("--llm-model=echo:a", "--llm-history", "--llm-gate-env=dev")
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[1]["gate"]["decision"] == "ALLOW"


def test_llmops_cli_gate_and_show(gated: LlmProject) -> None:
    gated.run("--llm-model=echo:a")
    report = str(gated.report_path())

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest_llmops.cli", *args], cwd=gated.path,
                              capture_output=True, text=True, check=False)

    assert cli("gate", report, "--env", "dev").returncode == 0
    blocked = cli("gate", report, "--env", "prod")
    assert blocked.returncode == 1 and "PROMOTION: BLOCK (prod)" in blocked.stdout
    assert cli("gate", report, "--env", "nope").returncode == 2
    assert cli("gate", str(gated.path / "missing.json"), "--env", "dev").returncode == 2
    shown = cli("show", report)
    assert shown.returncode == 0 and "big" in shown.stdout and "20/20 passed" in shown.stdout


def test_llmops_cli_report_and_diff(project: LlmProject) -> None:
    project.suite("big", simple_suite(6))
    project.run("--llm-model=echo:a")
    base = project.path / "base.json"
    project.report_path().rename(base)
    project.suite("big", simple_suite(6, failing_every=3))  # c00 and c03 now fail
    project.run("--llm-model=echo:a")
    head = project.report_path()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest_llmops.cli", *args], cwd=project.path,
                              capture_output=True, text=True, check=False)

    out_dir = project.path / "rendered"
    rendered = cli("report", str(head), "--out-dir", str(out_dir))
    assert rendered.returncode == 0, rendered.stderr
    assert "<svg" in (out_dir / "llmops-report.html").read_text()
    assert "big" in (out_dir / "llmops-report.md").read_text()
    diff = cli("diff", str(base), str(head))
    assert diff.returncode == 0, diff.stderr
    assert "c00" in diff.stdout and "c03" in diff.stdout
    broken = project.path / "broken.json"
    broken.write_text("{not json")
    failed = cli("diff", str(broken), str(head))
    assert failed.returncode == 2 and "broken.json" in failed.stderr
