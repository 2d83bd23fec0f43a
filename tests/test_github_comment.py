"""``llmops comment`` against a local GitHub REST stand-in, through real PyGithub.

No network: :class:`github_stub.GitHubStub` listens on 127.0.0.1 and ``GITHUB_API_URL``
points PyGithub there. Reports are built by hand (the shape of ``llmops-report.json``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from github_stub import GitHubStub
from llmops_testutils import add_usage
from pytest_llmops.core.pricing import Price
from pytest_llmops.report.usage_text import fmt_usd
from pytest_llmops.integrations.github import (
    COMMENT_LIMIT, comment_main, commit_status, pr_number_from_event, sticky_marker,
)
from pytest_llmops.core.stats import rate_metric

from test_render_markdown import HOSTILE, assert_markdown_is_inert

TOKEN = "ghs_S3cretT0kenForTests0123456789abcdef"
HEAD_SHA = "1234567890abcdef1234567890abcdef12345678"
MERGE_SHA = "fedcba0987654321fedcba0987654321fedcba09"
PR = 7
DIFF_TABLE = "| suite | metric | base [95% CI] | head [95% CI] |"
GATE_FILE = """\
environments:
  dev:
    checks:
      - "functional/*: pass_rate.lb95 >= 0.5"
  prod:
    on_inconclusive: block
    checks:
      - "*: errors == 0"
      - "functional/*: pass_rate.lb95 >= 0.9"
"""


# -- reports ----------------------------------------------------------------------------------------


def make_report(cases: list[tuple[str, str, str, str]], sha: str = "a" * 40,
                gate: dict[str, Any] | None = None) -> dict[str, Any]:
    """A canonical report from ``(suite, id, outcome, output)`` tuples (one model, ``m1``)."""
    report: dict[str, Any] = {
        "schema_version": 1,
        "run": {"started_at": "2026-01-01T00:00:00+00:00", "git_sha": sha, "plugin_version": "0.1.0",
                "models": [{"alias": "m1", "spec": "echo:m1", "fingerprint": "f" * 64}],
                "env": {"python": "3.11", "device": "cpu", "gpu": None}},
        "suites": {}, "cases": []}
    for suite in dict.fromkeys(c[0] for c in cases):
        own = [c for c in cases if c[0] == suite]
        passed, failed, errors = (sum(1 for c in own if c[2] == o) for o in ("passed", "failed", "error"))
        report["suites"][suite] = {
            "kind": suite.split("/")[0], "model": "m1", "n": len(own), "passed": passed, "failed": failed,
            "errors": errors, "skipped": 0,
            "metrics": {"pass_rate": rate_metric(passed, passed + failed),
                        "error_rate": rate_metric(errors, len(own))}}
    for suite, case_id, outcome, output in cases:
        report["cases"].append({
            "suite": suite, "id": case_id, "model": "m1", "outcome": outcome, "output": output,
            "kind": suite.split("/")[0], "cached": False,
            "checks": [{"name": "icontains", "passed": outcome == "passed", "evidence": f"looked at {output[:40]}"}],
            **({"error": "endpoint timed out"} if outcome == "error" else {})})
    if gate is not None:
        report["gate"] = gate
    return report


def gate(env: str, decision: str, blocking: int = 0, total: int = 3) -> dict[str, Any]:
    checks = [{"check": f"functional/*: pass_rate.lb95 >= 0.{i + 5}", "suite": "functional/qa",
               "metric": "pass_rate.lb95", "op": ">=", "threshold": 0.5, "value": 0.9, "bound": 0.6,
               "status": "FAIL" if i < blocking else "PASS", "reason": "0.6 >= 0.5", "blocking": i < blocking}
              for i in range(total)]
    return {"env": env, "decision": decision, "checks": checks, "warnings": [],
            "config": {"source": "llmops.yaml", "sha256": "0" * 64}}


def good_cases(n: int = 12) -> list[tuple[str, str, str, str]]:
    return [("functional/qa", f"case-{i:02d}", "passed", f"answer {i}") for i in range(n)]


def with_regressions(n: int = 12, failing: tuple[int, ...] = (1, 4, 7)) -> list[tuple[str, str, str, str]]:
    return [("functional/qa", f"case-{i:02d}", "failed" if i in failing else "passed",
             f"wrong {i}" if i in failing else f"answer {i}") for i in range(n)]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- the simulated Actions environment ----------------------------------------------------------------


@pytest.fixture
def stub() -> Iterator[GitHubStub]:
    with GitHubStub(TOKEN, pulls=(PR,)) as server:
        yield server


def pr_event(number: int = PR, head_sha: str = HEAD_SHA) -> dict[str, Any]:
    return {"action": "synchronize", "number": number,
            "pull_request": {"number": number, "head": {"sha": head_sha, "ref": "feature"},
                             "base": {"sha": "b" * 40, "ref": "main"}},
            "repository": {"full_name": "octo-org/octo-repo"}}


def actions_env(tmp_path: Path, server: GitHubStub | None, event: dict[str, Any] | None = None,
                event_name: str = "pull_request", token: str | None = TOKEN,
                run_id: str | None = "4242") -> dict[str, str]:
    event_path = write_json(tmp_path / "event.json", pr_event() if event is None else event)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path),
           "GITHUB_REPOSITORY": "octo-org/octo-repo", "GITHUB_SHA": MERGE_SHA,
           "GITHUB_SERVER_URL": "https://github.example.invalid",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"), "GITHUB_OUTPUT": str(tmp_path / "github_output")}
    if server is not None:
        env["GITHUB_API_URL"] = server.base_url
    if token is not None:
        env["GITHUB_TOKEN"] = token
    if run_id is not None:
        env["GITHUB_RUN_ID"] = run_id
    return env


def run_inproc(capsys: pytest.CaptureFixture[str], args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    code = comment_main(args, environ=env)
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full.update(env)
    full["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest_llmops.cli", "comment", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def outputs(tmp_path: Path) -> list[str]:
    path = tmp_path / "github_output"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def assert_authorized(server: GitHubStub) -> None:
    assert server.requests, "no request reached the stub"
    assert server.state.bad_auth == []
    for request in server.requests:
        assert request.headers.get("Authorization") in (f"token {TOKEN}", f"Bearer {TOKEN}")


# -- the sticky comment -------------------------------------------------------------------------------


def test_two_runs_leave_one_updated_comment_and_matching_statuses(
        tmp_path: Path, stub: GitHubStub, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "llmops.yaml").write_text(GATE_FILE, encoding="utf-8")
    base = write_json(tmp_path / "base.json", make_report(good_cases(), sha="b" * 40))
    head1 = write_json(tmp_path / "head1.json", make_report(good_cases(), sha="c" * 40, gate=gate("dev", "ALLOW")))
    # The second head has regressions and no gate of its own: the gate file decides (BLOCK).
    head2 = write_json(tmp_path / "head2.json", make_report(with_regressions(failing=tuple(range(1, 9))), sha="d" * 40))
    env = actions_env(tmp_path, stub)

    code, out, err = run_inproc(capsys, ["--report", str(head1), "--base", str(base), "--env", "dev",
                                         "--config", str(tmp_path / "llmops.yaml")], env)
    assert code == 0, err
    assert "created the PR comment on octo-org/octo-repo#7" in out
    comments = stub.comments(PR)
    assert len(comments) == 1
    first_id, first_body = comments[0]["id"], comments[0]["body"]
    assert first_body.startswith(sticky_marker("dev") + "\n")
    assert "PROMOTION: **ALLOW** (dev)" in first_body and DIFF_TABLE in first_body

    code, out, err = run_inproc(capsys, ["--report", str(head2), "--base", str(base), "--env", "dev",
                                         "--config", str(tmp_path / "llmops.yaml")], env)
    assert code == 0, err
    assert "updated the PR comment on octo-org/octo-repo#7" in out
    comments = stub.comments(PR)
    assert len(comments) == 1, "a second run must edit the comment, not add one"
    body = comments[0]["body"]
    assert comments[0]["id"] == first_id and body != first_body
    assert body.count(sticky_marker("dev")) == 1
    assert "PROMOTION: **BLOCK** (dev)" in body
    assert DIFF_TABLE in body and "## LLM eval diff" in body
    assert "**Gate (dev): ALLOW \u2192 BLOCK**" in body  # the base judged by the same gate file
    assert "### Top regressions (5 of 8)" in body and "`case-01`" in body
    assert "llmops-report" in body and "https://github.example.invalid/octo-org/octo-repo/actions/runs/4242" in body
    assert len(body) <= COMMENT_LIMIT

    statuses = stub.statuses(HEAD_SHA)  # the PR's head commit, not the merge commit in GITHUB_SHA
    assert [s["state"] for s in statuses] == ["success", "failure"]
    assert {s["context"] for s in statuses} == {"llmops/dev"}
    assert statuses[1]["description"].startswith("PROMOTION: BLOCK (dev)")
    assert statuses[1]["target_url"] == "https://github.example.invalid/octo-org/octo-repo/actions/runs/4242"
    assert stub.statuses(MERGE_SHA) == []

    assert [r.line.split("?")[0] for r in stub.requests] == [
        "GET /repos/octo-org/octo-repo/issues/7/comments",
        "POST /repos/octo-org/octo-repo/issues/7/comments -> 201",
        f"POST /repos/octo-org/octo-repo/statuses/{HEAD_SHA} -> 201",
        "GET /repos/octo-org/octo-repo/issues/7/comments",
        f"PATCH /repos/octo-org/octo-repo/issues/comments/{first_id} -> 200",
        f"POST /repos/octo-org/octo-repo/statuses/{HEAD_SHA} -> 201",
    ]
    assert_authorized(stub)

    lines = outputs(tmp_path)
    assert lines.count("decision=ALLOW") == 1 and lines.count("decision=BLOCK") == 1
    assert f"report={head2}" in lines and "status-state=failure" in lines
    assert any(line.startswith("comment-url=https://") for line in lines)
    summary = (tmp_path / "step_summary.md").read_text(encoding="utf-8")
    assert "PROMOTION: **ALLOW** (dev)" in summary and "PROMOTION: **BLOCK** (dev)" in summary
    assert DIFF_TABLE in summary and "llmops:sticky-comment" not in summary


@pytest.mark.parametrize("decision, blocking, state", [("ALLOW", 0, "success"), ("BLOCK", 2, "failure")])
def test_status_state_matches_the_gate(tmp_path: Path, stub: GitHubStub, capsys: pytest.CaptureFixture[str],
                                       decision: str, blocking: int, state: str) -> None:
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("prod", decision, blocking, 14)))
    code, out, err = run_inproc(capsys, ["--report", str(head), "--env", "prod"], actions_env(tmp_path, stub))
    assert code == 0, err
    (status,) = stub.statuses(HEAD_SHA)
    assert status["state"] == state and status["context"] == "llmops/prod"
    assert status["description"] == f"PROMOTION: {decision} (prod) \u2014 {blocking} of 14 checks blocking"
    (comment,) = stub.comments(PR)
    assert comment["body"].startswith(sticky_marker("prod"))
    assert f"PROMOTION: **{decision}** (prod)" in comment["body"]
    assert "## LLM eval report" in comment["body"]  # no base: the head summary
    assert f"decision={decision}" in outputs(tmp_path)


def test_commit_status_description_fits() -> None:
    state, description = commit_status(gate("a-very-long-environment-name" * 6, "BLOCK", 3, 14), "x" * 200)
    assert state == "failure" and len(description) <= 140
    assert commit_status({"decision": "weird"}, "dev")[0] == "error"


def test_one_comment_per_environment(tmp_path: Path, stub: GitHubStub, capsys: pytest.CaptureFixture[str]) -> None:
    dev = write_json(tmp_path / "dev.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    prod = write_json(tmp_path / "prod.json", make_report(good_cases(), gate=gate("prod", "BLOCK", 1)))
    env = actions_env(tmp_path, stub)
    for report, name in ((dev, "dev"), (prod, "prod"), (dev, "dev"), (prod, "prod")):
        assert run_inproc(capsys, ["--report", str(report), "--env", name], env)[0] == 0
    bodies = [c["body"] for c in stub.comments(PR)]
    assert len(bodies) == 2
    assert bodies[0].startswith(sticky_marker("dev")) and bodies[1].startswith(sticky_marker("prod"))
    assert sum(1 for r in stub.requests if r.method == "POST" and r.path.endswith("/comments")) == 2


def test_marker_found_on_a_later_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with GitHubStub(TOKEN, max_per_page=30) as server:
        for i in range(70):
            if i == 45:
                ours = server.add_comment(PR, sticky_marker("dev") + "\nold llmops comment")
            else:
                server.add_comment(PR, f"review comment {i}", login=f"reviewer{i % 3}")
        head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
        code, out, err = run_inproc(capsys, ["--report", str(head), "--env", "dev"], actions_env(tmp_path, server))
        assert code == 0, err
        comments = server.comments(PR)
        assert len(comments) == 70
        updated = [c for c in comments if c["id"] == ours["id"]][0]
        assert "PROMOTION: **ALLOW** (dev)" in updated["body"]
        pages = [r.query.get("page", "1") for r in server.requests if r.method == "GET"]
        assert pages == ["1", "2", "3"]
        assert [r.method for r in server.requests if r.method != "GET"] == ["PATCH", "POST"]  # comment, status
        assert_authorized(server)


def test_duplicates_update_the_newest_and_leave_a_note(tmp_path: Path, stub: GitHubStub,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    marker = sticky_marker("dev")
    older = stub.add_comment(PR, marker + "\nfirst", created_at="2026-01-01T00:00:00Z")
    newer = stub.add_comment(PR, marker + "\nsecond", created_at="2026-01-02T00:00:00Z")
    # Not ours: a person's comment that starts with the marker, and one that quotes it.
    person = stub.add_comment(PR, marker + "\nI can type the marker too", login="mallory",
                              created_at="2026-01-03T00:00:00Z")
    quoted = stub.add_comment(PR, "> " + marker + "\n> quoted", login="octo-dev", created_at="2026-01-04T00:00:00Z")
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    code, out, err = run_inproc(capsys, ["--report", str(head), "--env", "dev"], actions_env(tmp_path, stub))
    assert code == 0, err
    by_id = {c["id"]: c for c in stub.comments(PR)}
    assert len(by_id) == 4
    assert "PROMOTION: **ALLOW**" in by_id[newer["id"]]["body"]
    assert "1 older llmops comment on this pull request" in by_id[newer["id"]]["body"]
    assert by_id[older["id"]]["body"].endswith("first")
    assert by_id[person["id"]]["body"].endswith("too") and by_id[quoted["id"]]["body"].endswith("quoted")
    assert "1 older comment(s) with the same marker" in err


# -- permissions, tokens, events ------------------------------------------------------------------------


def test_fork_pr_read_only_token_still_writes_the_summary(tmp_path: Path) -> None:
    head = write_json(tmp_path / "head.json", make_report(with_regressions(), gate=gate("dev", "BLOCK", 1)))
    base = write_json(tmp_path / "base.json", make_report(good_cases()))
    with GitHubStub(TOKEN, forbid_writes=True) as server:
        result = run_subprocess(["--report", str(head), "--base", str(base), "--env", "dev"],
                                actions_env(tmp_path, server), tmp_path)
        assert result.returncode == 0, result.stderr
        assert server.comments(PR) == [] and server.statuses(HEAD_SHA) == []
        assert_authorized(server)
        assert [r.status for r in server.requests if r.method == "POST"] == [403, 403]
    assert ("llmops comment: skipped the PR comment: the token cannot write to octo-org/octo-repo (HTTP 403"
            in result.stderr)
    assert "fork pull requests get a read-only token" in result.stderr
    assert "skipped the commit status llmops/dev" in result.stderr
    summary = (tmp_path / "step_summary.md").read_text(encoding="utf-8")
    assert "PROMOTION: **BLOCK** (dev)" in summary and DIFF_TABLE in summary
    assert "decision=BLOCK" in outputs(tmp_path)
    assert TOKEN not in result.stdout + result.stderr


def test_without_a_token_only_the_summary(tmp_path: Path, stub: GitHubStub) -> None:
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    result = run_subprocess(["--report", str(head), "--env", "dev"], actions_env(tmp_path, stub, token=None), tmp_path)
    assert result.returncode == 0, result.stderr
    assert stub.requests == []
    assert "skipped the PR comment and the commit status: no token" in result.stderr
    assert "PROMOTION: **ALLOW** (dev)" in (tmp_path / "step_summary.md").read_text(encoding="utf-8")


def test_a_rejected_token_is_skipped_and_never_printed(tmp_path: Path) -> None:
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    with GitHubStub("a-different-token") as server:
        result = run_subprocess(["--report", str(head), "--env", "dev"], actions_env(tmp_path, server), tmp_path)
        assert server.state.bad_auth and all(TOKEN in a for a in server.state.bad_auth)  # it was sent, as a header
    assert result.returncode == 0, result.stderr
    assert "the token was rejected (HTTP 401" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_api_failures_exit_1_and_redact_the_token(tmp_path: Path) -> None:
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    with GitHubStub(TOKEN, fail_with=422) as server:
        server.error_message = f"Validation Failed for token {TOKEN}"  # a server that echoes what it got
        result = run_subprocess(["--report", str(head), "--env", "dev"], actions_env(tmp_path, server), tmp_path)
    assert result.returncode == 1
    assert "the PR comment failed: GitHub answered HTTP 422" in result.stderr
    assert "the commit status llmops/dev failed" in result.stderr
    assert TOKEN not in result.stdout + result.stderr and "***" in result.stderr
    assert (tmp_path / "step_summary.md").exists()


def test_non_pr_event_sets_only_the_status(tmp_path: Path, stub: GitHubStub,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    env = actions_env(tmp_path, stub, event={"ref": "refs/heads/main", "after": MERGE_SHA}, event_name="push")
    code, out, err = run_inproc(capsys, ["--report", str(head), "--env", "dev"], env)
    assert code == 0, err
    assert "not a pull request event (push): no PR comment" in out
    assert stub.state.comments == {}
    assert [r.method for r in stub.requests] == ["POST"]
    (status,) = stub.statuses(MERGE_SHA)
    assert status["state"] == "success" and status["context"] == "llmops/dev"
    assert (tmp_path / "step_summary.md").exists()


def test_issue_comment_event_asks_for_the_head_commit(tmp_path: Path, stub: GitHubStub,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    event = {"action": "created", "issue": {"number": PR, "pull_request": {"url": "..."}}, "comment": {"id": 1}}
    assert pr_number_from_event(event) == PR
    head = write_json(tmp_path / "head.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    code, out, err = run_inproc(capsys, ["--report", str(head), "--env", "dev"],
                                actions_env(tmp_path, stub, event=event, event_name="issue_comment"))
    assert code == 0, err
    assert len(stub.comments(PR)) == 1
    assert stub.statuses(stub.pull_head_sha) and not stub.statuses(MERGE_SHA)
    assert "GET /repos/octo-org/octo-repo/pulls/7 -> 200" in stub.request_lines()


def test_no_gate_means_no_status(tmp_path: Path, stub: GitHubStub, capsys: pytest.CaptureFixture[str]) -> None:
    head = write_json(tmp_path / "head.json", make_report(good_cases()))
    code, out, err = run_inproc(capsys, ["--report", str(head)], actions_env(tmp_path, stub))
    assert code == 0, err
    (comment,) = stub.comments(PR)
    assert comment["body"].startswith(sticky_marker(None)) and "no gate applied" in comment["body"]
    assert stub.state.statuses == {} and "no commit status set" in out
    assert "decision=NONE" in outputs(tmp_path)


# -- content ------------------------------------------------------------------------------------------


def test_hostile_model_outputs_are_neutralized(tmp_path: Path, stub: GitHubStub,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cases = [("functional/qa", f"case-{i:02d}", "passed", f"fine {i}") for i in range(len(HOSTILE))]
    base = write_json(tmp_path / "base.json", make_report(cases))
    hostile = [("functional/qa", f"case-{i:02d}", "failed", text) for i, text in enumerate(HOSTILE)]
    hostile.append(("functional/@octocat <b>x</b>", "![x](http://evil/x.png)", "failed", "@octocat"))
    head = write_json(tmp_path / "head.json", make_report(hostile, gate=gate("dev", "BLOCK", 1)))
    code, out, err = run_inproc(capsys, ["--report", str(head), "--base", str(base), "--env", "dev", "--top", "50"],
                                actions_env(tmp_path, stub, run_id=None))
    assert code == 0, err
    (comment,) = stub.comments(PR)
    body = comment["body"]
    assert "Top regressions" in body and "case-02" in body
    marker, rest = body.split("\n", 1)
    assert marker == sticky_marker("dev")
    assert_markdown_is_inert(rest)
    assert "@octocat" not in body  # images, links and HTML only inside code spans (checked above)
    assert_markdown_is_inert((tmp_path / "step_summary.md").read_text(encoding="utf-8"))


def test_the_body_stays_under_githubs_limit(tmp_path: Path, stub: GitHubStub,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    n = 3000
    base = write_json(tmp_path / "base.json", make_report(
        [("functional/big", f"case-{i:05d}", "passed", "ok") for i in range(n)]))
    head = write_json(tmp_path / "head.json", make_report(
        [("functional/big", f"case-{i:05d}", "failed", ("long output " * 40) + HOSTILE[i % len(HOSTILE)])
         for i in range(n)], gate=gate("dev", "BLOCK", 1)))
    code, out, err = run_inproc(capsys, ["--report", str(head), "--base", str(base), "--env", "dev"],
                                actions_env(tmp_path, stub))
    assert code == 0, err
    (comment,) = stub.comments(PR)  # the stub refuses bodies over 65,536 characters
    assert len(comment["body"]) <= 65000
    assert "_Truncated:" in comment["body"] and "Top regressions (5 of 3,000)" in comment["body"]


def test_the_comment_shows_the_cost_and_its_change(tmp_path: Path, stub: GitHubStub,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    price = Price(input=2.0, output=10.0)
    # Base: 12 cases of 20 prompt and 5 answer tokens; head: answers grew to 15 tokens.
    base = add_usage(make_report(good_cases()), price=price, tokens=lambda case: (20, 5))
    head = add_usage(make_report(good_cases(), gate=gate("dev", "ALLOW")), price=price, cached=("case-00",),
                     tokens=lambda case: (20, 15))
    base_cost, head_cost = 12 * (20 * 2 + 5 * 10) / 1e6, 12 * (20 * 2 + 15 * 10) / 1e6
    head_paid, head_saved = head_cost * 11 / 12, head_cost / 12
    code, _, err = run_inproc(capsys, ["--report", str(write_json(tmp_path / "head.json", head)),
                                       "--base", str(write_json(tmp_path / "base.json", base)), "--env", "dev"],
                              actions_env(tmp_path, stub))
    assert code == 0, err
    (comment,) = stub.comments(PR)
    body = comment["body"]
    assert (f"\U0001f4b5 **Cost:** {fmt_usd(head_paid)} this run ({fmt_usd(head_cost)} at list prices, "
            f"{fmt_usd(head_saved)} saved by the response cache); at list prices base {fmt_usd(base_cost)} "
            f"\u2192 head {fmt_usd(head_cost)} (+{fmt_usd(head_cost - base_cost)}, \u2b07\ufe0f worse)") in body
    assert "| functional/qa | output tokens per case | 5 | 15 | +10 | \u2b07\ufe0f worse |" in body
    assert_markdown_is_inert(body.split("\n", 1)[1].split("\n---\n")[0])  # the footer links to the report
    # Without prices there is no cost line (tokens alone still show in the diff).
    plain = make_report(good_cases(), gate=gate("dev", "ALLOW"))
    code, _, err = run_inproc(capsys, ["--report", str(write_json(tmp_path / "plain.json", plain)), "--env", "dev"],
                              actions_env(tmp_path, stub))
    assert code == 0, err
    assert "**Cost:**" not in stub.comments(PR)[0]["body"]


# -- usage --------------------------------------------------------------------------------------------


def test_usage_errors_exit_2(tmp_path: Path, stub: GitHubStub, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_json(tmp_path / "good.json", make_report(good_cases(), gate=gate("dev", "ALLOW")))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    env = actions_env(tmp_path, stub)
    assert run_inproc(capsys, ["--report", str(tmp_path / "missing.json")], env)[0] == 2
    code, _, err = run_inproc(capsys, ["--report", str(bad)], env)
    assert code == 2 and "not valid JSON" in err
    code, _, err = run_inproc(capsys, ["--report", str(good), "--base", str(bad)], env)
    assert code == 2 and "base report" in err
    no_repo = {k: v for k, v in env.items() if k != "GITHUB_REPOSITORY"}
    code, _, err = run_inproc(capsys, ["--report", str(good)], no_repo)
    assert code == 2 and "GITHUB_REPOSITORY is not set" in err
    code, _, err = run_inproc(capsys, ["--report", str(good), "--env", "nope", "--config", str(tmp_path / "x.yaml")],
                              env)
    assert code == 2 and "gate config file not found" in err
    assert run_inproc(capsys, [], env)[0] == 2
    assert run_inproc(capsys, ["--report", str(good), "--html-url", "javascript:alert(1)"], env)[0] == 2
    assert stub.requests == []
    # The job summary alone needs no repository and no token.
    code, _, err = run_inproc(capsys, ["--report", str(good), "--no-comment", "--no-status"], no_repo)
    assert code == 0, err
    assert "PROMOTION: **ALLOW** (dev)" in (tmp_path / "step_summary.md").read_text(encoding="utf-8")


def test_llmops_cli_dispatches_comment(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_llmops.cli import main

    assert main(["comment", "--help"]) == 0
    assert "sticky PR comment" in capsys.readouterr().out
    assert main(["comment"]) == 2


# -- prompt A/B ---------------------------------------------------------------------------------------


def ab_report(tmp_path: Path, name: str, candidate_version: str, sha: str) -> Path:
    """A report folded (by the real ReportBuilder) from the records of a two-variant A/B suite:
    the candidate ``b`` fails 8 of the reference's 10 passes; its template version is given."""
    from pytest_llmops.report.json_report import ReportBuilder

    builder = ReportBuilder(tmp_path / f"{name}-spool")
    for variant, version in (("a", "v-ref"), ("b", candidate_version)):
        for i in range(10):
            outcome = "failed" if variant == "b" and i < 8 else "passed"
            builder.add({"suite": f"functional/support@{variant}", "model": "m1", "id": f"case-{i:02d}",
                         "kind": "functional", "outcome": outcome, "output": f"{variant} {i}", "index": i,
                         "checks": [], "prompt_variant": variant, "prompt_reference": "a",
                         "prompt_suite": "functional/support", "prompt_version": version})
    run = {"started_at": "2026-01-01T00:00:00+00:00", "git_sha": sha, "plugin_version": "0.1.0",
           "models": [{"alias": "m1", "spec": "echo:m1", "fingerprint": "f" * 64}]}
    path = builder.write(tmp_path / f"{name}.json", builder.header(run))
    builder.close()
    return path


@pytest.mark.parametrize("changed", [True, False])
def test_the_comment_shows_the_ab_table_when_a_template_changed(tmp_path: Path, stub: GitHubStub,
                                                                capsys: pytest.CaptureFixture[str],
                                                                changed: bool) -> None:
    base = ab_report(tmp_path, "base", "v-old", "b" * 40)
    head = ab_report(tmp_path, "head", "v-new" if changed else "v-old", "c" * 40)
    code, _, err = run_inproc(capsys, ["--report", str(head), "--base", str(base)], actions_env(tmp_path, stub))
    assert code == 0, err
    body = stub.comments(PR)[0]["body"]
    assert ("### Prompt A/B (templates changed in this PR)" in body) is changed
    if changed:
        row = next(line for line in body.splitlines() if line.startswith("| functional/support@"))
        assert "b vs a (**worse**)" in row and "case-00 \u2193" in row
        p = json.loads(head.read_text())["suites"]["functional/support@b"]["metrics"]["ab"]["metrics"]["pass_rate"]
        assert p["p_value"] == pytest.approx(2 * 0.5 ** 8, rel=1e-5)  # McNemar: 8 flips, all one way
        assert f"{p['p_value']:.3g}" in row
    assert len(body) <= COMMENT_LIMIT
