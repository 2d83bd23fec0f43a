"""``llmops comment``: the command's arguments and the order of its steps.

Validates the arguments, loads the reports and resolves the gate, writes the job summary
and ``$GITHUB_OUTPUT``, then (with a token) upserts the sticky PR comment and sets the
``llmops/<env>`` commit status. Exit status: 0 done (also when the comment or status was
skipped for lack of permission), 1 an unexpected API or file failure, 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pytest_llmops.integrations.github.client import ApiProblem, GitHubPublisher
from pytest_llmops.integrations.github.comment import DEFAULT_ARTIFACT, DEFAULT_TOP, build_comment_body, \
    pointer_line, sticky_marker
from pytest_llmops.integrations.github.decision import commit_status, decision_of, resolve_gate
from pytest_llmops.integrations.github.env import SHA_RE, ActionsEnv, append_summary, head_sha_from_event, \
    load_event, pr_number_from_event, write_outputs
from pytest_llmops.integrations.github.errors import CommentUsageError
from pytest_llmops.report.load import ReportLoadError, load_report
from pytest_llmops.suites.faces import with_faces
from pytest_llmops.report.safe_text import clip, to_text

__all__ = ["PROG", "comment_main"]

PROG = "llmops comment"
_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")

Say = Callable[..., None]  # say(message, err=False): print to stdout, or stderr with err=True


def _comment_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Publish an llmops report from a GitHub Actions job: a sticky PR comment (gate decision, "
                    "eval diff, top regressions, HTML artifact pointer), a commit status llmops/<env> and the job "
                    "summary. Reads GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_SHA, "
                    "GITHUB_STEP_SUMMARY and GITHUB_OUTPUT; the token comes from GITHUB_TOKEN only. "
                    "Exit 0: done (a comment skipped for lack of permission included); 1: API failure; 2: usage error.")
    parser.add_argument("--report", type=Path, required=True, help="the head JSON report (reports/llmops-report.json)")
    parser.add_argument("--base", type=Path, default=None,
                        help="the base branch's JSON report; the comment is then the eval diff base -> head")
    parser.add_argument("--env", default=None,
                        help="gate environment (dev, qa, prod, ...): the report's gate if it is for this "
                             "environment, else the gate file's checks for it; also names the commit status")
    parser.add_argument("--config", type=Path, default=None, help="gate file (default: ./llmops.yaml, else "
                                                                   "[tool.llmops] in ./pyproject.toml)")
    parser.add_argument("--html-url", default=None,
                        help="link to the HTML report (e.g. upload-artifact's artifact-url)")
    parser.add_argument("--artifact-name", default=DEFAULT_ARTIFACT,
                        help=f"the artifact holding the HTML report (default {DEFAULT_ARTIFACT})")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP,
                        help=f"regressions listed at the top (default {DEFAULT_TOP})")
    parser.add_argument("--no-comment", action="store_true", help="do not create or update the PR comment")
    parser.add_argument("--no-status", action="store_true", help="do not set the commit status")
    parser.add_argument("--repo", default=None, help="owner/name (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--pr", type=int, default=None, help="pull request number (default: from the event payload)")
    parser.add_argument("--sha", default=None, help="commit for the status (default: the pull request's head "
                                                    "commit, else $GITHUB_SHA)")
    parser.add_argument("--token-env", default=None, metavar="VAR",
                        help="environment variable holding the token (default: GITHUB_TOKEN)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    return parser


def _token_safe_printer(token: str | None) -> Say:
    """``say(message, err=False)`` that never lets the token through."""

    def say(message: str, err: bool = False) -> None:
        if token:
            message = message.replace(token, "***")
        print(message, file=sys.stderr if err else sys.stdout, flush=True)

    return say


def comment_main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``llmops comment --report HEAD.json [--base BASE.json] [--env ENV] ...``; see the package doc."""
    parser = _comment_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    environ = os.environ if environ is None else environ
    actions = ActionsEnv.from_environ(environ, args.token_env)
    say = _token_safe_printer(actions.token)
    try:
        return _publish_report(args, actions, say)
    except CommentUsageError as exc:
        say(f"{PROG}: {exc}", err=True)
        return 2


def _check_arguments(args: argparse.Namespace, actions: ActionsEnv) -> tuple[str | None, bool]:
    """``(repository, wants_api)`` once the arguments are known to be usable, before any file is read."""
    if args.top < 0:
        raise CommentUsageError("--top must be 0 or more")
    if args.html_url and not re.fullmatch(r"https?://\S+", args.html_url):
        raise CommentUsageError(f"--html-url {args.html_url!r} is not an http(s) URL")
    repository = args.repo or actions.repository
    wants_api = not (args.no_comment and args.no_status)
    if repository and not _REPO_RE.fullmatch(repository):
        raise CommentUsageError(f"repository {repository!r} is not owner/name")
    if wants_api and not repository:
        raise CommentUsageError("GITHUB_REPOSITORY is not set: run inside GitHub Actions, pass --repo OWNER/NAME, "
                                "or use --no-comment --no-status for the job summary only")
    if wants_api and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", actions.api_url):
        raise CommentUsageError(f"GITHUB_API_URL {actions.api_url!r} is not an http(s) URL")
    if args.sha and not SHA_RE.fullmatch(args.sha):
        raise CommentUsageError(f"--sha {args.sha!r} is not a commit SHA")
    return repository, wants_api


def _load_side(path: Path, side: str) -> dict[str, Any]:
    """The ``side`` ("head" or "base") report at ``path``; an unusable one is a usage error."""
    try:
        return with_faces(load_report(Path(path)))
    except ReportLoadError as exc:
        raise CommentUsageError(f"{side} report {exc}") from None


def _apply_gate(args: argparse.Namespace, head: dict[str, Any], base: dict[str, Any] | None
                ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """``(head, base, gate, env)``: the reports, each carrying the gate for ``env`` under ``"gate"``."""
    env = args.env.strip() if args.env and args.env.strip() else None
    gate = resolve_gate(head, env, args.config)
    if gate is not None:
        head = dict(head, gate=gate)
        env = env or to_text(gate.get("env")) or None
    if base is not None and gate is not None and env:
        try:  # the same yardstick on both sides; best effort (the base may predate the gate file)
            base_gate = resolve_gate(base, env, args.config)
        except CommentUsageError:
            base_gate = None
        if base_gate is not None:
            base = dict(base, gate=base_gate)
    return head, base, gate, env


def _write_summary(args: argparse.Namespace, actions: ActionsEnv, summary: str, say: Say) -> int:
    """Write the job summary (and ``--out``), else print it; the number of files that could not be written."""
    failures = 0
    if actions.step_summary:
        try:
            append_summary(actions.step_summary, summary)
            say(f"{PROG}: wrote the job summary ({len(summary):,} characters)")
        except OSError as exc:
            say(f"{PROG}: cannot write the job summary {actions.step_summary}: {exc.strerror or exc}", err=True)
            failures += 1
    if args.out:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(summary, encoding="utf-8")
        except OSError as exc:
            raise CommentUsageError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    if not actions.step_summary and not args.out:
        say(summary.rstrip("\n"))
    return failures


def _write_step_outputs(actions: ActionsEnv, values: Mapping[str, str], say: Say) -> int:
    """Append ``values`` to ``$GITHUB_OUTPUT`` when the job has one; 1 when that failed, else 0."""
    if not actions.output:
        return 0
    try:
        write_outputs(actions.output, values)
    except OSError as exc:
        say(f"{PROG}: cannot write GITHUB_OUTPUT {actions.output}: {exc.strerror or exc}", err=True)
        return 1
    return 0


def _upsert_pr_comment(publisher: GitHubPublisher, repository: str, number: int, marker: str,
                       body_for: Callable[..., str], outputs: dict[str, str], say: Say) -> int:
    """Create or edit the sticky comment on pull request ``number``; 1 on an API failure, else 0."""
    body = body_for(True)

    def with_note(duplicates: int) -> str:
        note = (f"> _{duplicates} older llmops comment{'s' if duplicates != 1 else ''} on this pull request "
                f"carry the same marker; only this one is kept up to date._")
        return body_for(True, note)

    try:
        action, comment, duplicates = publisher.upsert_comment(number, marker, body, with_note)
        url = to_text(getattr(comment, "html_url", "")) or ""
        say(f"{PROG}: {action} the PR comment on {repository}#{number}" + (f": {url}" if url else ""))
        if duplicates:
            say(f"{PROG}: {duplicates} older comment(s) with the same marker left as they are", err=True)
        if url:
            outputs["comment-url"] = url
    except ApiProblem as problem:
        say(f"{PROG}: skipped the PR comment: {problem}" if problem.permission
            else f"{PROG}: the PR comment failed: {problem}", err=True)
        return 0 if problem.permission else 1
    return 0


def _set_commit_status(publisher: GitHubPublisher, args: argparse.Namespace, actions: ActionsEnv,
                       event: Mapping[str, Any], number: int | None, gate: Mapping[str, Any] | None,
                       env: str | None, target_url: str | None, outputs: dict[str, str], say: Say) -> int:
    """Set ``llmops/<env>`` on the head commit when a gate applies; 1 on an API failure, else 0."""
    sha = args.sha or head_sha_from_event(event)
    if sha is None and number is not None and gate is not None:
        sha = publisher.pull_head_sha(number)  # e.g. an issue_comment event: ask for the head commit
    sha = sha or actions.sha
    if gate is None or not env:
        say(f"{PROG}: no gate applied (no --env and no gate in the report): no commit status set")
    elif not sha:
        say(f"{PROG}: no commit to set the status on (GITHUB_SHA is not set; pass --sha)", err=True)
    else:
        state, description = commit_status(gate, env)
        context = f"llmops/{clip(env, 80)}"
        try:
            publisher.set_status(sha, state, context, description, target_url)
            say(f"{PROG}: set the commit status {context} = {state} on {sha[:12]}")
            outputs["status-state"] = state
        except ApiProblem as problem:
            say(f"{PROG}: skipped the commit status {context}: {problem}" if problem.permission
                else f"{PROG}: the commit status {context} failed: {problem}", err=True)
            return 0 if problem.permission else 1
    return 0


def _publish_report(args: argparse.Namespace, actions: ActionsEnv, say: Say) -> int:
    """Every step of ``llmops comment`` in order; the exit status (usage errors raise)."""
    repository, wants_api = _check_arguments(args, actions)
    head = _load_side(args.report, "head")
    base = _load_side(args.base, "base") if args.base else None
    event = load_event(actions.event_path)
    head, base, gate, env = _apply_gate(args, head, base)
    decision = decision_of(gate)

    run_url = actions.run_url()
    pointer = pointer_line(args.artifact_name, args.html_url, run_url)
    marker = sticky_marker(env)

    def body_for(with_marker: bool, note: str | None = None) -> str:
        return build_comment_body(head, base, gate, env, pointer, marker if with_marker else None, args.top,
                                  note=note)

    failures = _write_summary(args, actions, body_for(False), say)
    failures += _write_step_outputs(actions, {"decision": decision or "NONE", "report": str(args.report)}, say)

    if not wants_api:
        return 1 if failures else 0
    number = args.pr if args.pr is not None else pr_number_from_event(event)
    if not actions.token:
        skipped = [what for what, wanted in (("the PR comment", not args.no_comment and number is not None),
                                             ("the commit status", not args.no_status)) if wanted]
        if skipped:
            say(f"{PROG}: skipped {' and '.join(skipped)}: no token (set GITHUB_TOKEN, e.g. from the action's "
                f"github-token input)", err=True)
        return 1 if failures else 0

    try:
        publisher = GitHubPublisher(actions.api_url, actions.token, repository)
    except Exception as exc:  # noqa: BLE001 - PyGithub rejecting the base URL, for instance
        say(f"{PROG}: cannot set up the GitHub client: {type(exc).__name__}: {exc}", err=True)
        return 1
    extra_outputs: dict[str, str] = {}
    if not args.no_comment:
        if number is None:
            say(f"{PROG}: not a pull request event ({actions.event_name or 'unknown event'}): no PR comment")
        else:
            failures += _upsert_pr_comment(publisher, repository, number, marker, body_for, extra_outputs, say)
    if not args.no_status:
        failures += _set_commit_status(publisher, args, actions, event, number, gate, env, run_url or args.html_url,
                                       extra_outputs, say)
    if extra_outputs:
        failures += _write_step_outputs(actions, extra_outputs, say)
    return 1 if failures else 0
