"""Signed manual approvals: `llmops approve` and `llmops gate --require-approval` (real Ed25519 keys)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.cli import main as llmops
from pytest_llmops.core.stats import rate_metric

GATES = """
environments:
  dev:
    checks: ["functional/*: pass_rate.lb95 >= 0.1"]
  prod:
    checks: ["functional/*: pass_rate.lb95 >= 0.5"]
"""


def _report(passed: int, failed: int, sha: str) -> dict[str, Any]:
    n = passed + failed
    return {"schema_version": 1, "run": {"git_sha": sha, "models": [{"alias": "m1", "fingerprint": "f" * 64}]},
            "suites": {"functional/qa": {"kind": "functional", "model": "m1", "n": n, "passed": passed,
                                         "failed": failed, "errors": 0,
                                         "metrics": {"pass_rate": rate_metric(passed, n)}}},
            "cases": []}


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Path:
    """A folder with a gate file, two good reports, an approver's key and the approvers file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "llmops.yaml").write_text(GATES, encoding="utf-8")
    for name, sha in (("a", "aaa"), ("b", "bbb")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(_report(40, 2, sha)), encoding="utf-8")
    assert llmops(["approve", "--keygen", "alice.key", "--by", "alice"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("alice ed25519 ")
    (tmp_path / "approvers").write_text(f"# release managers\n{line}\n", encoding="utf-8")
    assert oct((tmp_path / "alice.key").stat().st_mode & 0o777) == "0o600"
    return tmp_path


def gate(report: str, env: str, approvals: str) -> tuple[int, list[dict[str, Any]]]:
    code = llmops(["gate", report, "--env", env, "--require-approval", approvals, "--approvers", "approvers",
                   "--out", "gate.json"])
    return code, json.loads(Path("gate.json").read_text(encoding="utf-8"))["checks"]


def approval_row(checks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(row for row in checks if row["check"] == "manual approval")


def test_an_approval_allows_its_own_report_only(release: Path, capsys: Any) -> None:
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "alice", "--key", "alice.key",
                   "--note", "read the review page", "-o", "approvals/a-prod.json"]) == 0
    record = json.loads((release / "approvals/a-prod.json").read_text(encoding="utf-8"))
    assert record["by"] == "alice" and record["note"] == "read the review page" and record["env"] == "prod"
    assert record["gate"]["decision"] == "ALLOW" and record["gate"]["source"] == "llmops.yaml"
    code, checks = gate("a/report.json", "prod", "approvals")
    assert code == 0 and approval_row(checks)["status"] == "PASS"
    assert "approved by alice" in approval_row(checks)["reason"]
    # The same approval for another report (same gate, same env, same content but another run): refused.
    code, checks = gate("b/report.json", "prod", "approvals")
    row = approval_row(checks)
    assert code == 1 and row["status"] == "FAIL" and row["blocking"]
    assert "not this report" in row["reason"]
    assert "PROMOTION: BLOCK (prod)" in capsys.readouterr().out


def test_an_approval_is_bound_to_its_environment_and_gate_file(release: Path) -> None:
    assert llmops(["approve", "a/report.json", "--env", "dev", "--by", "alice", "--key", "alice.key",
                   "-o", "approvals/a-dev.json"]) == 0
    code, checks = gate("a/report.json", "prod", "approvals")
    assert code == 1 and "approves env 'dev', not 'prod'" in approval_row(checks)["reason"]
    assert gate("a/report.json", "dev", "approvals")[0] == 0
    # Loosening the gate file after the approval voids it.
    (release / "llmops.yaml").write_text(GATES.replace("0.1", "0.0"), encoding="utf-8")
    code, checks = gate("a/report.json", "dev", "approvals")
    assert code == 1 and "gate file sha256" in approval_row(checks)["reason"]


def test_an_altered_or_unlisted_signature_is_refused(release: Path, capsys: Any) -> None:
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "alice", "--key", "alice.key",
                   "-o", "approvals/a.json"]) == 0
    path = release / "approvals/a.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["note"] = "edited after signing"
    path.write_text(json.dumps(record), encoding="utf-8")
    code, checks = gate("a/report.json", "prod", "approvals")
    assert code == 1 and "does not verify" in approval_row(checks)["reason"]
    # Mallory has a key of her own but is not in the approvers file.
    assert llmops(["approve", "--keygen", "mallory.key", "--by", "mallory"]) == 0
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "mallory", "--key", "mallory.key",
                   "-o", "approvals/a.json"]) == 0
    code, checks = gate("a/report.json", "prod", "approvals")
    assert code == 1 and "'mallory', who is not in the approvers file" in approval_row(checks)["reason"]
    # ... nor can she sign in alice's name.
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "alice", "--key", "mallory.key",
                   "-o", "approvals/a.json"]) == 0
    code, checks = gate("a/report.json", "prod", "approvals")
    assert code == 1 and "does not verify with any key listed for 'alice'" in approval_row(checks)["reason"]
    capsys.readouterr()


def test_a_blocked_report_cannot_be_approved(release: Path, capsys: Any) -> None:
    (release / "c").mkdir()
    (release / "c/report.json").write_text(json.dumps(_report(5, 20, "ccc")), encoding="utf-8")
    assert llmops(["approve", "c/report.json", "--env", "prod", "--by", "alice", "--key", "alice.key"]) == 1
    assert "blocks c/report.json; nothing to approve" in capsys.readouterr().err
    assert not list((release / "c").glob("approval-*.json"))


def test_keys_and_approvers_come_from_ci_secrets_or_fail_clearly(release: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: Any) -> None:
    monkeypatch.setenv("LLMOPS_APPROVAL_KEY", (release / "alice.key").read_text(encoding="ascii"))
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "alice"]) == 0
    assert list((release / "a").glob("approval-prod-*.json"))
    assert gate("a/report.json", "prod", "a")[0] == 0  # a folder holding the report and the approval
    monkeypatch.setenv("LLMOPS_APPROVAL_KEY", "not a key")
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "alice"]) == 2
    assert "$LLMOPS_APPROVAL_KEY: expected 'llmops-approval-key ed25519 BASE64'" in capsys.readouterr().err
    monkeypatch.delenv("LLMOPS_APPROVAL_KEY")
    assert llmops(["approve", "a/report.json", "--env", "prod", "--by", "alice"]) == 2
    assert "no approval key" in capsys.readouterr().err
    assert llmops(["approve", "--keygen", "alice.key", "--by", "alice"]) == 2
    assert "already exists" in capsys.readouterr().err
    (release / "approvers").write_text("alice rsa AAAA\n", encoding="utf-8")
    assert llmops(["gate", "a/report.json", "--env", "prod", "--require-approval", "a", "--approvers",
                   "approvers"]) == 2
    assert "approvers:1: expected 'NAME ed25519 BASE64'" in capsys.readouterr().err
    assert llmops(["gate", "a/report.json", "--env", "prod", "--require-approval", "a"]) == 2
    assert "--require-approval and --approvers go together" in capsys.readouterr().err


def test_no_approval_at_all_blocks(release: Path) -> None:
    (release / "empty").mkdir()
    code, checks = gate("a/report.json", "prod", "empty")
    assert code == 1 and approval_row(checks)["reason"] == "no approval in empty"
