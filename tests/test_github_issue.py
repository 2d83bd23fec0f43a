"""``llmops issue`` against the local GitHub REST stand-in, through real PyGithub.

No network: :class:`github_stub.GitHubStub` listens on 127.0.0.1 and ``GITHUB_API_URL`` points
PyGithub there. Each test is one night (or several) of the scheduled workflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from github_stub import GitHubStub
from pytest_llmops.cli import main as llmops_main
from pytest_llmops.integrations.github.issue import failing_digest, marker_digest
from pytest_llmops.integrations.github.issue_command import issue_main

TOKEN = "ghs_IssueT0kenForTests0123456789abcdefXYZ"
MARKER = "<!-- llmops:issue key=nightly"


def gate_row(check: str, suite: str, value: float, status: str) -> dict[str, Any]:
    metric = check.split(": ", 1)[1].split(" ")[0]
    return {"check": check, "suite": suite, "metric": metric, "op": ">=", "threshold": 0.01, "value": value,
            "bound": value, "status": status, "reason": f"{value} vs 0.01", "blocking": status == "FAIL"}


def write_report(tmp_path: Path, rows: list[dict[str, Any]], started: str = "2026-10-20T03:00:00+00:00") -> Path:
    decision = "BLOCK" if any(r["blocking"] for r in rows) else "ALLOW"
    report = {"schema_version": 1, "suites": {}, "cases": [],
              "run": {"started_at": started, "git_sha": "ab" * 20, "models": []},
              "gate": {"env": "nightly", "decision": decision, "checks": rows}}
    path = tmp_path / f"report-{started[:10]}.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


SHIFT_FAIL = gate_row("drift/*: input_shift.p_value >= 0.01", "drift/traffic", 0.0002, "FAIL")
SHIFT_PASS = gate_row("drift/*: input_shift.p_value >= 0.01", "drift/traffic", 0.41, "PASS")
GAP_FAIL = gate_row("*: slices.segment.max_gap.ub95 <= 0.1", "drift/traffic", 0.27, "FAIL")


@pytest.fixture()
def stub() -> Any:
    with GitHubStub(TOKEN) as running:
        yield running


def run(stub: GitHubStub, report: Path, tmp_path: Path, *extra: str, token: str | None = TOKEN) -> tuple[int, dict]:
    output = tmp_path / "github_output"
    output.write_text("")
    environ = {"GITHUB_API_URL": stub.base_url, "GITHUB_REPOSITORY": stub.full_name, "GITHUB_RUN_ID": "4242",
               "GITHUB_SERVER_URL": "https://github.example.invalid", "GITHUB_OUTPUT": str(output)}
    if token:
        environ["GITHUB_TOKEN"] = token
    code = issue_main(["--report", str(report), *extra], environ)
    values = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return code, values


def writes(stub: GitHubStub) -> list[str]:
    return [line for line in stub.request_lines() if not line.startswith("GET")]


def test_first_failing_night_opens_one_issue_with_the_failing_rows(stub: GitHubStub, tmp_path: Path) -> None:
    stub.add_issue("unrelated bug", "steps to reproduce", ("bug",))
    stub.add_issue("someone else's", "<!-- llmops:issue key=weekly -->\nother key", ("llmops",))
    code, out = run(stub, write_report(tmp_path, [SHIFT_FAIL, GAP_FAIL, SHIFT_PASS]), tmp_path)
    assert code == 0 and out["action"] == "opened" and out["decision"] == "BLOCK"
    opened = [i for i in stub.issues() if i["body"].startswith(MARKER)]
    assert len(opened) == 1 and out["issue-number"] == str(opened[0]["number"])
    issue = opened[0]
    assert issue["title"] == "llmops: the nightly gate blocks on the scheduled evaluation"
    assert [label["name"] for label in issue["labels"]] == ["llmops"]
    assert marker_digest(issue["body"], "nightly") == (True, failing_digest(
        {"checks": [SHIFT_FAIL, GAP_FAIL, SHIFT_PASS]}))
    assert "2 of 3 gate checks blocking" in issue["body"]
    assert "`drift/*: input_shift.p_value >= 0.01`" in issue["body"] and "| 0.0002 |" in issue["body"]
    assert "max_gap" in issue["body"] and "| 0.41 |" not in issue["body"]  # passing rows are not listed
    assert "[workflow run](https://github.example.invalid/octo-org/octo-repo/actions/runs/4242)" in issue["body"]
    assert writes(stub) == ["POST /repos/octo-org/octo-repo/issues -> 201"]
    listing = [r for r in stub.requests if r.method == "GET" and r.path.endswith("/issues")][0]
    assert listing.query["state"] == "open" and listing.query["labels"] == "llmops"


def test_the_same_failure_next_night_edits_the_body_quietly(stub: GitHubStub, tmp_path: Path) -> None:
    run(stub, write_report(tmp_path, [SHIFT_FAIL]), tmp_path)
    code, out = run(stub, write_report(tmp_path, [dict(SHIFT_FAIL, value=0.004, bound=0.004)],
                                       "2026-10-21T03:00:00+00:00"), tmp_path)
    assert code == 0 and out["action"] == "updated"
    (issue,) = stub.issues()
    assert "| 0.004 |" in issue["body"] and "2026-10-21" in issue["body"]
    assert stub.comments(issue["number"]) == []
    assert writes(stub)[-1] == f"PATCH /repos/octo-org/octo-repo/issues/{issue['number']} -> 200"


def test_a_different_failure_is_said_in_a_comment(stub: GitHubStub, tmp_path: Path) -> None:
    run(stub, write_report(tmp_path, [SHIFT_FAIL]), tmp_path)
    code, out = run(stub, write_report(tmp_path, [SHIFT_FAIL, GAP_FAIL], "2026-10-21T03:00:00+00:00"), tmp_path)
    assert code == 0 and out["action"] == "updated"
    (issue,) = stub.issues()
    (comment,) = stub.comments(issue["number"])
    assert comment["body"].startswith("The gate still blocks, now on other checks (2 blocking")
    assert "max_gap" in issue["body"]


def test_a_passing_night_closes_the_issue_with_a_comment(stub: GitHubStub, tmp_path: Path) -> None:
    run(stub, write_report(tmp_path, [SHIFT_FAIL]), tmp_path)
    code, out = run(stub, write_report(tmp_path, [SHIFT_PASS], "2026-10-22T03:00:00+00:00"), tmp_path)
    assert code == 0 and out["action"] == "closed" and out["decision"] == "ALLOW"
    (issue,) = stub.issues()
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    (comment,) = stub.comments(issue["number"])
    assert comment["body"].startswith("\u2705 The llmops gate (nightly) passes again")
    # The next failure opens a new issue: the closed one is history.
    code, out = run(stub, write_report(tmp_path, [SHIFT_FAIL], "2026-10-23T03:00:00+00:00"), tmp_path)
    assert out["action"] == "opened" and len(stub.issues()) == 2


def test_on_pass_comment_comments_once_and_keeps_the_issue_open(stub: GitHubStub, tmp_path: Path) -> None:
    run(stub, write_report(tmp_path, [SHIFT_FAIL]), tmp_path)
    for day in ("22", "23"):
        code, out = run(stub, write_report(tmp_path, [SHIFT_PASS], f"2026-10-{day}T03:00:00+00:00"), tmp_path,
                        "--on-pass", "comment")
        assert code == 0
    (issue,) = stub.issues()
    assert issue["state"] == "open" and len(stub.comments(issue["number"])) == 1
    assert marker_digest(issue["body"], "nightly") == (True, None)
    code, out = run(stub, write_report(tmp_path, [SHIFT_FAIL], "2026-10-24T03:00:00+00:00"), tmp_path)
    assert out["action"] == "updated" and len(stub.comments(issue["number"])) == 2  # fails again: said


def test_a_passing_night_without_an_issue_writes_nothing(stub: GitHubStub, tmp_path: Path) -> None:
    code, out = run(stub, write_report(tmp_path, [SHIFT_PASS]), tmp_path)
    assert code == 0 and out == {"decision": "ALLOW", "action": "none"} and writes(stub) == []


def test_the_marked_issue_is_found_on_a_later_page(tmp_path: Path) -> None:
    with GitHubStub(TOKEN, max_per_page=2) as stub:
        for n in range(5):
            stub.add_issue(f"other {n}", "no marker here", ("llmops",))
        marked = stub.add_issue("renamed by a person", "<!-- llmops:issue key=nightly failing=000000000000 -->\nold",
                                ("llmops",))
        code, out = run(stub, write_report(tmp_path, [SHIFT_FAIL]), tmp_path)
        assert code == 0 and out["action"] == "updated" and out["issue-number"] == str(marked["number"])
        assert sum(1 for r in stub.requests if r.path.endswith("/issues")) >= 3  # followed rel="next"


def test_usage_errors_exit_2_and_api_refusals_exit_1(stub: GitHubStub, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path, [SHIFT_FAIL])
    assert run(stub, report, tmp_path, token=None)[0] == 2
    assert "no token" in capsys.readouterr().err
    assert run(stub, report, tmp_path, "--key", "has space")[0] == 2
    no_gate = tmp_path / "plain.json"
    no_gate.write_text(json.dumps({"schema_version": 1, "suites": {}, "cases": [], "run": {}}))
    assert run(stub, no_gate, tmp_path)[0] == 2
    assert "no gate" in capsys.readouterr().err
    assert run(stub, tmp_path / "missing.json", tmp_path)[0] == 2
    with GitHubStub(TOKEN, forbid_writes=True) as read_only:
        code, _ = run(read_only, report, tmp_path)
    err = capsys.readouterr().err
    assert code == 1 and "issues: write" in err and TOKEN not in err


def test_llmops_dispatches_issue(capsys: pytest.CaptureFixture[str]) -> None:
    assert llmops_main(["issue", "--help"]) == 0
    assert "--on-pass {close,comment,keep}" in capsys.readouterr().out


def test_hostile_gate_text_stays_inert_in_the_issue() -> None:
    from test_render_markdown import HOSTILE, assert_markdown_is_inert

    from pytest_llmops.integrations.github.issue import issue_body, still_failing_comment

    rows = [dict(gate_row(f"{text}: m >= 1", text, 0.5, "FAIL"), reason=text, metric=text) for text in HOSTILE]
    gate = {"env": HOSTILE[0], "decision": "BLOCK", "checks": rows}
    report = {"run": {"started_at": HOSTILE[3], "git_sha": HOSTILE[2]}}
    body = issue_body("nightly", gate, report, None)
    marker, rest = body.split("\n", 1)
    assert marker.startswith("<!-- llmops:issue key=nightly failing=") and marker.endswith(" -->")
    assert_markdown_is_inert(rest)
    assert rest.count("\n| `") == len(HOSTILE)  # one table row per failing check, none broken apart
    assert_markdown_is_inert(still_failing_comment(gate, report, None))
