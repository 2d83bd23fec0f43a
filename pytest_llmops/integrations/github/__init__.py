"""``llmops comment``: publish a report to GitHub from a GitHub Actions job.

One command, run after the suites, that

- writes the Markdown (gate decision, eval diff or summary, top regressions, a pointer to
  the HTML artifact) to the job summary (``$GITHUB_STEP_SUMMARY``);
- keeps **one sticky comment** per pull request and gate environment: the comment is found
  by a hidden marker (``<!-- llmops:sticky-comment env=dev -->``) and edited in place, never
  duplicated;
- sets a commit status ``llmops/<env>`` (``success`` for ALLOW, ``failure`` for BLOCK) on
  the pull request's head commit (or ``$GITHUB_SHA``);
- writes ``decision`` and ``report`` (and ``comment-url`` when there is one) to
  ``$GITHUB_OUTPUT``.

It reads the standard Actions environment (``GITHUB_API_URL``, ``GITHUB_REPOSITORY``,
``GITHUB_EVENT_PATH``, ``GITHUB_SHA``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``,
``GITHUB_SERVER_URL``, ``GITHUB_RUN_ID``) and the token from ``GITHUB_TOKEN`` (never from
the command line). Without a token, or with one that cannot write (the read-only token
of a fork's pull request), it still writes the job summary, says on stderr why it skipped
the comment, and exits 0. The token is never printed.

Exit status: 0 done (also when the comment or status was skipped for lack of permission),
1 an unexpected API failure, 2 a usage error (missing or invalid report, bad arguments,
no ``GITHUB_REPOSITORY`` when the API is needed, a broken gate file).

PyGithub is imported only when the API is used.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from pytest_llmops.report.markdown import DEFAULT_LIMIT, check_blocks, failed_checks, status_icon
from pytest_llmops.report.safe_text import clip, md_code, md_text, to_text

__all__ = [
    "COMMENT_LIMIT", "MARKER_PREFIX", "ActionsEnv", "CommentUsageError", "build_comment_body", "comment_main",
    "commit_status", "pr_number_from_event", "resolve_gate", "sticky_marker", "top_regressions",
]

PROG = "llmops comment"
MARKER_PREFIX = "<!-- llmops:sticky-comment"
COMMENT_LIMIT = 65536  # GitHub's limit on an issue comment body
BODY_LIMIT = DEFAULT_LIMIT  # what we aim for: a margin below COMMENT_LIMIT
DESCRIPTION_LIMIT = 140  # GitHub's limit on a commit status description
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
DEFAULT_ARTIFACT = "llmops-report"
DEFAULT_TOP = 5
TOKEN_VARIABLES = ("GITHUB_TOKEN", "INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN")
PERMISSION_STATUSES = (401, 403, 404)
STATES = {"ALLOW": "success", "BLOCK": "failure"}
_REPO_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_SHA_RE = re.compile(r"[0-9a-fA-F]{7,64}")
_ENV_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class CommentUsageError(Exception):
    """Bad arguments, an unreadable report or event file, a broken gate file: exit 2."""


# --------------------------------------------------------------------------- environment


@dataclass
class ActionsEnv:
    """The parts of the GitHub Actions environment this command reads."""

    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    repository: str | None = None
    event_name: str | None = None
    event_path: str | None = None
    sha: str | None = None
    run_id: str | None = None
    step_summary: str | None = None
    output: str | None = None
    token: str | None = field(default=None, repr=False)  # never shown

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], token_variable: str | None = None) -> "ActionsEnv":
        def get(name: str) -> str | None:
            value = environ.get(name)
            return value.strip() if value and value.strip() else None

        token = None
        for name in ((token_variable,) if token_variable else TOKEN_VARIABLES):
            if get(name):
                token = get(name)
                break
        return cls(api_url=(get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
                   server_url=(get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
                   repository=get("GITHUB_REPOSITORY"), event_name=get("GITHUB_EVENT_NAME"),
                   event_path=get("GITHUB_EVENT_PATH"), sha=get("GITHUB_SHA"), run_id=get("GITHUB_RUN_ID"),
                   step_summary=get("GITHUB_STEP_SUMMARY"), output=get("GITHUB_OUTPUT"), token=token)

    def run_url(self) -> str | None:
        """The workflow run's page, when the run is known."""
        if not (self.repository and self.run_id and self.run_id.isdigit()):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"


def load_event(path: str | None) -> dict[str, Any]:
    """The webhook payload at ``GITHUB_EVENT_PATH`` (empty without one)."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommentUsageError(f"GITHUB_EVENT_PATH {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommentUsageError(f"GITHUB_EVENT_PATH {path}: not valid JSON: {exc}") from None
    return data if isinstance(data, dict) else {}


def pr_number_from_event(event: Mapping[str, Any]) -> int | None:
    """The pull request number of a ``pull_request``/``pull_request_target``/``issue_comment`` payload."""
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("number"), int) and not isinstance(pull.get("number"), bool):
        return pull["number"]
    issue = event.get("issue")
    if isinstance(issue, dict) and issue.get("pull_request") and isinstance(issue.get("number"), int):
        return issue["number"]
    return None


def head_sha_from_event(event: Mapping[str, Any]) -> str | None:
    pull = event.get("pull_request")
    head = pull.get("head") if isinstance(pull, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) and _SHA_RE.fullmatch(sha) else None


# --------------------------------------------------------------------------- reports and the gate


def load_report_file(path: Path, what: str) -> dict[str, Any]:
    from pytest_llmops.report.load import ReportLoadError, load_report

    try:
        return load_report(Path(path))
    except ReportLoadError as exc:
        raise CommentUsageError(f"{what} report {exc}") from None


def resolve_gate(report: dict[str, Any], env: str | None, config_path: Path | None,
                 rootdir: Path | None = None) -> dict[str, Any] | None:
    """The gate of ``report`` for ``env``: the report's own when it is for that environment,
    else ``env`` evaluated with the gate file; ``None`` without an environment or a gate."""
    gate = report.get("gate") if isinstance(report.get("gate"), dict) else None
    if gate is not None and (env is None or to_text(gate.get("env")) == env):
        return gate
    if env is None:
        return None
    from pytest_llmops.gates import GateConfigError, evaluate_gate, load_gate_config

    try:
        config = load_gate_config(rootdir or Path.cwd(), config_path)
        return evaluate_gate(report, config, env).to_dict()
    except GateConfigError as exc:
        raise CommentUsageError(str(exc)) from None


def decision_of(gate: Mapping[str, Any] | None) -> str | None:
    """``ALLOW``, ``BLOCK``, ``UNKNOWN`` (a gate without a recognizable decision) or ``None`` (no gate)."""
    if gate is None:
        return None
    decision = to_text(gate.get("decision")).strip().upper()
    return decision if decision in STATES else "UNKNOWN"


def blocking_count(gate: Mapping[str, Any]) -> tuple[int, int]:
    checks = [c for c in gate.get("checks") or [] if isinstance(c, dict)]
    return sum(1 for c in checks if check_blocks(c)), len(checks)


def commit_status(gate: Mapping[str, Any], env: str) -> tuple[str, str]:
    """``(state, description)`` of the ``llmops/<env>`` commit status for ``gate``."""
    decision = decision_of(gate) or "UNKNOWN"
    blocking, total = blocking_count(gate)
    text = f"PROMOTION: {decision} ({env})"
    if total:
        text += f" \u2014 {blocking} of {total} checks blocking"
    return STATES.get(decision, "error"), clip(text, DESCRIPTION_LIMIT)


def sticky_marker(env: str | None) -> str:
    """The hidden first line that identifies our comment (one per gate environment)."""
    if not env:
        return MARKER_PREFIX + " -->"
    safe = re.sub(r"-{2,}", "-", _ENV_UNSAFE.sub("_", env))[:64]
    return f"{MARKER_PREFIX} env={safe} -->"


def has_marker(body: Any, marker: str) -> bool:
    return isinstance(body, str) and body.lstrip().startswith(marker)


# --------------------------------------------------------------------------- the comment body


def _case_key(case: Mapping[str, Any]) -> tuple[str, str, str]:
    return (to_text(case.get("suite")), to_text(case.get("model")), to_text(case.get("id")))


def top_regressions(base: dict[str, Any], head: dict[str, Any], count: int = DEFAULT_TOP) -> tuple[list[str], int]:
    """Markdown list items for the first ``count`` cases that passed in ``base`` and fail
    (then: error) in ``head``, and how many such cases there are in all."""
    before: dict[tuple[str, str, str], Any] = {}
    for case in base.get("cases") or []:
        if isinstance(case, dict):
            before.setdefault(_case_key(case), case.get("outcome"))
    flipped = {"failed": [], "error": []}
    for case in head.get("cases") or []:
        if isinstance(case, dict) and before.get(_case_key(case)) == "passed" and case.get("outcome") in flipped:
            flipped[case["outcome"]].append(case)
    ordered = flipped["failed"] + flipped["error"]
    lines = []
    for case in ordered[:max(0, count)]:
        outcome = to_text(case.get("outcome"))
        line = (f"- {status_icon(outcome)} **{md_text(case.get('suite'), 80)}** \u203a {md_code(case.get('id'), 80)} "
                f"({md_text(case.get('model'), 40)}): passed \u2192 {md_text(outcome, 10)}")
        details = []
        if case.get("output") not in (None, ""):
            details.append("output " + md_code(case.get("output"), 120))
        for check in failed_checks(case)[:2]:
            details.append(f"{md_text(check.get('name'), 40)}: {md_code(check.get('evidence'), 120)}")
        if case.get("error"):
            details.append("error: " + md_code(case.get("error"), 120))
        if details:
            line += " \u2014 " + "; ".join(details)
        lines.append(line)
    return lines, len(ordered)


def _safe_url(url: str) -> str:
    """``url`` with everything that could end a Markdown link destination percent-encoded."""
    return urllib.parse.quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def pointer_line(artifact: str, html_url: str | None, run_url: str | None) -> str:
    """Where the HTML report is: the artifact link, else the run page, else the artifact name."""
    name = md_code(artifact or DEFAULT_ARTIFACT, 100)
    if html_url:
        return (f"\U0001f4c4 **HTML report:** [{md_text(artifact or DEFAULT_ARTIFACT, 100)} artifact]"
                f"({_safe_url(html_url)}) (`llmops-report.html`)")
    if run_url:
        run_id = run_url.rstrip("/").rsplit("/", 1)[-1]
        return (f"\U0001f4c4 **HTML report:** `llmops-report.html` in the {name} artifact of "
                f"[workflow run {md_text(run_id, 30)}]({_safe_url(run_url)})")
    return f"\U0001f4c4 **HTML report:** `llmops-report.html` in the {name} artifact of this workflow run"


def _heading(gate: Mapping[str, Any] | None, env: str | None) -> list[str]:
    decision = decision_of(gate)
    if gate is None or decision is None:
        return ["## \u2796 llmops: no gate applied"]
    shown_env = md_text(to_text(gate.get("env")) or env or "default", 80)
    blocking, total = blocking_count(gate)
    lines = [f"## {status_icon(decision)} llmops: PROMOTION: **{decision}** ({shown_env})"]
    if total:
        lines.append(f"{blocking} of {total} gate checks blocking.")
    rows = [c for c in gate.get("checks") or [] if isinstance(c, dict) and check_blocks(c)]
    if rows:
        lines.append("")
        lines.append("**Blocking checks**")
        lines.append("")
        for c in rows[:10]:
            where = f" on {md_code(c.get('suite'), 80)}" if c.get("suite") else ""
            lines.append(f"- {status_icon(c.get('status'))} {md_code(c.get('check'), 100)}{where}: "
                         f"{md_text(c.get('reason'), 200)}")
        if len(rows) > 10:
            lines.append(f"- \u2026 and {len(rows) - 10} more (see the report)")
    return lines


def build_comment_body(head: dict[str, Any], base: dict[str, Any] | None, gate: Mapping[str, Any] | None,
                       env: str | None, pointer: str, marker: str | None = None, top: int = DEFAULT_TOP,
                       limit: int = BODY_LIMIT, note: str | None = None) -> str:
    """The comment (and job summary) Markdown, at most ``limit`` characters.

    ``marker`` (the hidden first line) is left out for the job summary. ``head`` (and
    ``base``) should carry their gate under ``"gate"`` for the diff to show it.
    """
    from pytest_llmops.report.diff import diff_reports
    from pytest_llmops.report.markdown import render_markdown

    top_part: list[str] = []
    if base is not None and top > 0:
        lines, total = top_regressions(base, head, top)
        if lines:
            shown = f"{len(lines):,} of {total:,}" if total > len(lines) else f"{total:,}"
            top_part = ["", f"### Top regressions ({shown})", "", *lines]
        else:
            top_part = ["", "No regressions: no case went from passed to failed or error."]
    head_lines = ([marker] if marker else []) + _heading(gate, env) + top_part + [""]
    footer = ["", "---", pointer]
    run = head.get("run") if isinstance(head.get("run"), dict) else {}
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sha = to_text(run.get("git_sha"))[:12]
    footer.append(f"_pytest-llmops \u00b7 head {md_code(sha or 'unknown')} \u00b7 updated {stamp}_")
    if note:
        footer.insert(1, note)
    fixed = "\n".join(head_lines) + "\n" + "\n".join(footer) + "\n"
    room = limit - len(fixed) - 2
    if room < 500:  # only with a tiny limit: drop the extras rather than the report
        head_lines = ([marker] if marker else []) + _heading(None if gate is None else gate, env)[:2] + [""]
        fixed = "\n".join(head_lines) + "\n" + "\n".join(footer[:3]) + "\n"
        room = max(0, limit - len(fixed) - 2)
    main = diff_reports(base, head, limit=room) if base is not None else render_markdown(head, limit=room)
    body = "\n".join(head_lines) + "\n" + main.rstrip("\n") + "\n" + "\n".join(footer) + "\n"
    return body if len(body) <= limit else body[:limit]


# --------------------------------------------------------------------------- GitHub


class ApiProblem(Exception):
    """A GitHub API call failed; ``permission`` for 401/403/404 (skip, exit 0), else exit 1."""

    def __init__(self, message: str, permission: bool) -> None:
        super().__init__(message)
        self.permission = permission


def _api_problem(exc: BaseException, repo: str, needs: str) -> ApiProblem:
    from github import GithubException, RateLimitExceededException

    if isinstance(exc, GithubException) and not isinstance(exc, RateLimitExceededException):
        status = exc.status
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        detail = f"HTTP {status}" + (f": {clip(to_text(message), 120)}" if message else "")
        if status == 401:
            return ApiProblem(f"the token was rejected ({detail})", True)
        if status in (403, 404):
            return ApiProblem(f"the token cannot write to {repo} ({detail}; fork pull requests get a read-only "
                              f"token, and the workflow needs `{needs}`)", True)
        return ApiProblem(f"GitHub answered {detail}", False)
    return ApiProblem(f"GitHub API request failed: {type(exc).__name__}: {clip(str(exc), 300)}", False)


def _is_bot(comment: Any) -> bool:
    try:
        return to_text(comment.user.type) == "Bot"
    except Exception:  # noqa: BLE001 - a comment without an author type is not ours
        return False


class GitHubPublisher:
    """The few API calls ``llmops comment`` makes, through PyGithub.

    Requests made (PyGithub, lazy objects): ``GET /repos/{o}/{r}/issues/{n}/comments``
    (following ``Link: rel="next"``), then ``PATCH /repos/{o}/{r}/issues/comments/{id}``
    or ``POST /repos/{o}/{r}/issues/{n}/comments``; ``POST /repos/{o}/{r}/statuses/{sha}``;
    and ``GET /repos/{o}/{r}/pulls/{n}`` only to find the head commit of a pull request
    when the event payload does not name it.
    """

    def __init__(self, api_url: str, token: str, repository: str) -> None:
        from github import Auth, Github, GithubRetry

        self.repository = repository
        # A handful of requests per run: no throttling between them; retry 5xx briefly.
        self.client = Github(auth=Auth.Token(token), base_url=api_url, lazy=True, per_page=100, timeout=30,
                             retry=GithubRetry(total=3, backoff_factor=0.5),
                             seconds_between_requests=None, seconds_between_writes=None)
        self.repo = self.client.get_repo(repository)

    def upsert_comment(self, number: int, marker: str, body: str, note_for: Any = None) -> tuple[str, Any, int]:
        """Edit the newest comment that starts with ``marker`` or create one.

        Returns ``("updated" | "created", comment, older_duplicates)``. ``note_for(count)``
        gives the body to use when older marked comments exist.
        """
        try:
            issue = self.repo.get_issue(number)
            marked = [c for c in issue.get_comments() if has_marker(c.body, marker)]
            # A comment anyone could post with the marker: prefer ours (a bot's) when there is one.
            bots = [c for c in marked if _is_bot(c)]
            candidates = bots or marked
            if candidates:
                newest = max(candidates, key=lambda c: (c.created_at, c.id))
                duplicates = len(candidates) - 1
                newest.edit(note_for(duplicates) if duplicates and note_for else body)
                return "updated", newest, duplicates
            return "created", issue.create_comment(body), 0
        except Exception as exc:  # noqa: BLE001 - reported by the caller, exit code from the kind
            raise _api_problem(exc, self.repository, "pull-requests: write") from None

    def pull_head_sha(self, number: int) -> str | None:
        try:
            return self.repo.get_pull(number).head.sha
        except Exception:  # noqa: BLE001 - the caller falls back to GITHUB_SHA
            return None

    def set_status(self, sha: str, state: str, context: str, description: str, target_url: str | None) -> Any:
        try:
            kwargs: dict[str, Any] = {"state": state, "context": context, "description": description}
            if target_url:
                kwargs["target_url"] = target_url
            return self.repo.get_commit(sha).create_status(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _api_problem(exc, self.repository, "statuses: write") from None


# --------------------------------------------------------------------------- outputs


def write_outputs(path: str, values: Mapping[str, str]) -> None:
    """Append ``name=value`` lines (heredoc form for multi-line values) to ``$GITHUB_OUTPUT``."""
    with open(path, "a", encoding="utf-8") as fh:
        for name, value in values.items():
            if "\n" in value or "\r" in value:
                delimiter = f"ghadelimiter_{uuid.uuid4()}"
                fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                fh.write(f"{name}={value}\n")


def append_summary(path: str, markdown: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")


# --------------------------------------------------------------------------- command


def _parser() -> argparse.ArgumentParser:
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


def _printer(token: str | None):
    """``say(message, err=False)`` that never lets the token through."""

    def say(message: str, err: bool = False) -> None:
        if token:
            message = message.replace(token, "***")
        print(message, file=sys.stderr if err else sys.stdout, flush=True)

    return say


def comment_main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``llmops comment --report HEAD.json [--base BASE.json] [--env ENV] ...``; see the module doc."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    environ = os.environ if environ is None else environ
    actions = ActionsEnv.from_environ(environ, args.token_env)
    say = _printer(actions.token)
    try:
        return _run(args, actions, say)
    except CommentUsageError as exc:
        say(f"{PROG}: {exc}", err=True)
        return 2


def _run(args: argparse.Namespace, actions: ActionsEnv, say: Any) -> int:
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
    if args.sha and not _SHA_RE.fullmatch(args.sha):
        raise CommentUsageError(f"--sha {args.sha!r} is not a commit SHA")

    head = load_report_file(args.report, "head")
    base = load_report_file(args.base, "base") if args.base else None
    event = load_event(actions.event_path)
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
    decision = decision_of(gate)

    run_url = actions.run_url()
    pointer = pointer_line(args.artifact_name, args.html_url, run_url)
    marker = sticky_marker(env)

    def body_for(with_marker: bool, note: str | None = None) -> str:
        return build_comment_body(head, base, gate, env, pointer, marker if with_marker else None, args.top,
                                  note=note)

    summary = body_for(False)
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

    outputs = {"decision": decision or "NONE", "report": str(args.report)}
    if actions.output:
        try:
            write_outputs(actions.output, outputs)
        except OSError as exc:
            say(f"{PROG}: cannot write GITHUB_OUTPUT {actions.output}: {exc.strerror or exc}", err=True)
            failures += 1

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
                    extra_outputs["comment-url"] = url
            except ApiProblem as problem:
                say(f"{PROG}: skipped the PR comment: {problem}" if problem.permission
                    else f"{PROG}: the PR comment failed: {problem}", err=True)
                failures += 0 if problem.permission else 1

    if not args.no_status:
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
                publisher.set_status(sha, state, context, description, run_url or args.html_url)
                say(f"{PROG}: set the commit status {context} = {state} on {sha[:12]}")
                extra_outputs["status-state"] = state
            except ApiProblem as problem:
                say(f"{PROG}: skipped the commit status {context}: {problem}" if problem.permission
                    else f"{PROG}: the commit status {context} failed: {problem}", err=True)
                failures += 0 if problem.permission else 1

    if actions.output and extra_outputs:
        try:
            write_outputs(actions.output, extra_outputs)
        except OSError as exc:
            say(f"{PROG}: cannot write GITHUB_OUTPUT {actions.output}: {exc.strerror or exc}", err=True)
            failures += 1
    return 1 if failures else 0
