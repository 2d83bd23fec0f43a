"""The GitHub REST calls ``llmops comment`` makes, through PyGithub.

PyGithub is imported inside the functions that call the API, so importing this module
(or the package) stays cheap for ``--no-comment --no-status`` runs and for the plugin.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.integrations.github.comment import has_marker
from pytest_llmops.integrations.github.issue import marker_digest
from pytest_llmops.report.safe_text import clip, to_text

__all__ = ["ApiProblem", "GitHubPublisher"]


class ApiProblem(Exception):
    """A GitHub API call failed; ``permission`` for 401/403/404 (skip, exit 0), else exit 1."""

    def __init__(self, message: str, permission: bool) -> None:
        super().__init__(message)
        self.permission = permission


def _api_problem_from(exc: BaseException, repo: str, needs: str) -> ApiProblem:
    """``exc`` from PyGithub as an :class:`ApiProblem`; ``needs`` is the workflow permission to name."""
    from github import GithubException, RateLimitExceededException  # PyGithub: only when llmops comment talks to GitHub

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


def _is_bot_comment(comment: Any) -> bool:
    """Whether ``comment`` was posted by a bot account (as the Actions token posts)."""
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
        from github import Auth, Github, GithubRetry  # PyGithub: only when llmops comment talks to GitHub

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
            bots = [c for c in marked if _is_bot_comment(c)]
            candidates = bots or marked
            if candidates:
                newest = max(candidates, key=lambda c: (c.created_at, c.id))
                duplicates = len(candidates) - 1
                newest.edit(note_for(duplicates) if duplicates and note_for else body)
                return "updated", newest, duplicates
            return "created", issue.create_comment(body), 0
        except Exception as exc:  # noqa: BLE001 - reported by the caller, exit code from the kind
            raise _api_problem_from(exc, self.repository, "pull-requests: write") from None

    def pull_head_sha(self, number: int) -> str | None:
        """The head commit of pull request ``number``; ``None`` when it cannot be fetched."""
        try:
            return self.repo.get_pull(number).head.sha
        except Exception:  # noqa: BLE001 - the caller falls back to GITHUB_SHA
            return None

    def set_status(self, sha: str, state: str, context: str, description: str, target_url: str | None) -> Any:
        """Create the commit status ``context`` on ``sha``; raises :class:`ApiProblem` on failure."""
        try:
            kwargs: dict[str, Any] = {"state": state, "context": context, "description": description}
            if target_url:
                kwargs["target_url"] = target_url
            return self.repo.get_commit(sha).create_status(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _api_problem_from(exc, self.repository, "statuses: write") from None

    # -- the one issue of a scheduled evaluation (llmops issue) ------------------------------------

    def find_marked_issue(self, key: str, label: str | None = None) -> Any:
        """The open issue (pull requests aside) whose body starts with the marker of ``key``,
        the lowest-numbered when several do; ``None`` when none does.

        ``GET /repos/{o}/{r}/issues?state=open[&labels=LABEL]``, following ``Link: rel="next"``.
        """
        try:
            kwargs: dict[str, Any] = {"state": "open", "sort": "created", "direction": "asc"}
            if label:
                kwargs["labels"] = [label]
            for issue in self.repo.get_issues(**kwargs):
                if issue.pull_request is None and marker_digest(issue.body, key)[0]:
                    return issue
            return None
        except Exception as exc:  # noqa: BLE001
            raise _api_problem_from(exc, self.repository, "issues: read") from None

    def open_issue(self, title: str, body: str, label: str | None = None) -> Any:
        """``POST /repos/{o}/{r}/issues``: a new issue."""
        try:
            return self.repo.create_issue(title=title, body=body, labels=[label] if label else [])
        except Exception as exc:  # noqa: BLE001
            raise _api_problem_from(exc, self.repository, "issues: write") from None

    def update_issue(self, issue: Any, body: str | None = None, comment: str | None = None,
                     close: bool = False) -> None:
        """``PATCH /repos/{o}/{r}/issues/{n}`` (the body, or the state ``closed`` as completed) and
        ``POST .../issues/{n}/comments``: the comment first, so a closed issue says why."""
        try:
            if comment:
                issue.create_comment(comment)
            if body is not None:
                issue.edit(body=body)
            if close:
                issue.edit(state="closed", state_reason="completed")
        except Exception as exc:  # noqa: BLE001
            raise _api_problem_from(exc, self.repository, "issues: write") from None
