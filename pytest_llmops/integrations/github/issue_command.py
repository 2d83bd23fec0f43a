"""``llmops issue``: keep one GitHub issue in step with a scheduled evaluation's gate.

Run after the nightly suites (``llmops issue --report reports/llmops-report.json --env nightly``):

- the gate **blocks** and no open issue carries the marker of ``--key``: open one (title
  ``--title``, label ``--label``) whose body lists the failing gate rows;
- the gate blocks and the issue is open: edit its body to this run's rows; when the set of
  failing checks changed (the digest in the marker), also add a comment saying so;
- the gate **passes** and the issue is open: with ``--on-pass close`` (the default) comment
  "passes again" and close it as completed; with ``--on-pass comment`` comment once (the
  marker then loses its digest, so later passing runs stay quiet) and leave it open;
  ``--on-pass keep`` does nothing;
- the gate passes and there is no issue: nothing.

The marker (``<!-- llmops:issue key=KEY failing=DIGEST -->``, the body's first line) finds
the issue, not the title. Reads ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``, ``GITHUB_SERVER_URL``,
``GITHUB_RUN_ID`` and ``GITHUB_OUTPUT`` (``action``, ``issue-number``, ``issue-url``, ``decision``),
the token from ``GITHUB_TOKEN``; the workflow needs ``permissions: issues: write``.

Exit status: 0 done, 1 an API failure (a token that cannot write issues included), 2 a usage
error (bad arguments, an unusable report, no gate, no token or repository).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from pytest_llmops.integrations.github.client import ApiProblem, GitHubPublisher
from pytest_llmops.integrations.github.command import _token_safe_printer
from pytest_llmops.integrations.github.decision import decision_of, resolve_gate
from pytest_llmops.integrations.github.env import ActionsEnv, write_outputs
from pytest_llmops.integrations.github.errors import CommentUsageError
from pytest_llmops.integrations.github.issue import failing_digest, issue_body, issue_marker, marker_digest, \
    passing_comment, still_failing_comment, valid_key
from pytest_llmops.report.load import ReportLoadError, load_report
from pytest_llmops.report.safe_text import clip, to_text

__all__ = ["PROG", "issue_main"]

PROG = "llmops issue"
ON_PASS = ("close", "comment", "keep")
_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Open, update or close the one GitHub issue of a scheduled evaluation from its gate: "
                    "a blocking gate opens (or updates) the issue marked with --key, a passing one closes it. "
                    "Token from GITHUB_TOKEN; needs 'issues: write'. Exit 0: done; 1: API failure; 2: usage error.")
    parser.add_argument("--report", type=Path, required=True, help="the JSON report (reports/llmops-report.json)")
    parser.add_argument("--env", default=None, help="gate environment: the report's gate if it is for this "
                                                    "environment, else the gate file's checks for it")
    parser.add_argument("--config", type=Path, default=None, help="gate file (default: ./llmops.yaml, else "
                                                                   "[tool.llmops] in ./pyproject.toml)")
    parser.add_argument("--key", default="nightly", help="names the issue in its hidden marker; one open issue "
                                                         "per key (default: nightly)")
    parser.add_argument("--title", default=None, help="title of a new issue (default: 'llmops: the ENV gate "
                                                      "blocks on the scheduled evaluation')")
    parser.add_argument("--label", default="llmops", help="label of a new issue, and the label searched "
                                                          "(default: llmops; '' for none)")
    parser.add_argument("--on-pass", choices=ON_PASS, default="close",
                        help="when the gate passes again: close the issue with a comment (default), only "
                             "comment, or keep it as it is")
    parser.add_argument("--repo", default=None, help="owner/name (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--token-env", default=None, metavar="VAR",
                        help="environment variable holding the token (default: GITHUB_TOKEN)")
    return parser


def issue_main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``llmops issue --report REPORT.json --env ENV [--key KEY] ...``; see the module doc."""
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    actions = ActionsEnv.from_environ(os.environ if environ is None else environ, args.token_env)
    say = _token_safe_printer(actions.token)
    try:
        return _run(args, actions, say)
    except CommentUsageError as exc:
        say(f"{PROG}: {exc}", err=True)
        return 2
    except ApiProblem as problem:
        say(f"{PROG}: {problem}", err=True)
        return 1


def _checked(args: argparse.Namespace, actions: ActionsEnv) -> str:
    """The repository, once the arguments and environment are usable."""
    if not valid_key(args.key):
        raise CommentUsageError(f"--key {args.key!r}: use letters, digits and _.:/- (at most 80)")
    repository = args.repo or actions.repository
    if not repository or not _REPO_RE.fullmatch(repository):
        raise CommentUsageError(f"repository {repository!r} is not owner/name: run inside GitHub Actions or pass "
                                "--repo OWNER/NAME")
    if not actions.token:
        raise CommentUsageError("no token: set GITHUB_TOKEN (the workflow needs 'permissions: issues: write')")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", actions.api_url):
        raise CommentUsageError(f"GITHUB_API_URL {actions.api_url!r} is not an http(s) URL")
    return repository


def _run(args: argparse.Namespace, actions: ActionsEnv, say: Any) -> int:
    repository = _checked(args, actions)
    try:
        report = load_report(args.report)
    except ReportLoadError as exc:
        raise CommentUsageError(f"report {exc}") from None
    env = args.env.strip() if args.env and args.env.strip() else None
    gate = resolve_gate(report, env, args.config)
    if gate is None:
        raise CommentUsageError(f"{args.report}: no gate in the report and no --env to evaluate: nothing to decide")
    decision = decision_of(gate)
    if decision not in ("ALLOW", "BLOCK"):
        raise CommentUsageError(f"{args.report}: the gate has no ALLOW or BLOCK decision ({gate.get('decision')!r})")
    env = env or to_text(gate.get("env")) or "default"
    label = args.label.strip() or None
    run_url = actions.run_url()
    publisher = GitHubPublisher(actions.api_url, actions.token or "", repository)
    issue = publisher.find_marked_issue(args.key, label)
    action = "none"
    if decision == "BLOCK":
        body = issue_body(args.key, gate, report, run_url)
        if issue is None:
            title = args.title or f"llmops: the {clip(env, 60)} gate blocks on the scheduled evaluation"
            issue = publisher.open_issue(title, body, label)
            action = "opened"
        else:
            _, before = marker_digest(issue.body, args.key)
            changed = before != failing_digest(gate)
            publisher.update_issue(issue, body=body,
                                   comment=still_failing_comment(gate, report, run_url) if changed else None)
            action = "updated"
    elif issue is not None and args.on_pass == "close":
        publisher.update_issue(issue, comment=passing_comment(gate, report, run_url), close=True)
        action = "closed"
    elif issue is not None and args.on_pass == "comment" and marker_digest(issue.body, args.key)[1]:
        # Once: the marker loses its digest, so the next passing run finds nothing new to say.
        rest = to_text(issue.body).lstrip().split("\n", 1)
        publisher.update_issue(issue, body=issue_marker(args.key) + "\n" + (rest[1] if len(rest) > 1 else ""),
                               comment=passing_comment(gate, report, run_url))
        action = "commented"
    where = f" {repository}#{issue.number}" if issue is not None else ""
    say(f"{PROG}: gate {decision} ({env}): {action}" + (f" issue{where}" if action != "none" else
                                                        (f"; issue{where} left open" if issue is not None else "")))
    outputs = {"decision": decision, "action": action}
    if issue is not None:
        outputs.update({"issue-number": str(issue.number), "issue-url": to_text(issue.html_url)})
    if actions.output:
        try:
            write_outputs(actions.output, outputs)
        except OSError as exc:
            say(f"{PROG}: cannot write GITHUB_OUTPUT {actions.output}: {exc.strerror or exc}", err=True)
            return 1
    return 0
