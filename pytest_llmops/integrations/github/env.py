"""The GitHub Actions environment: the variables, event payload and files a job provides.

Reads ``GITHUB_*`` variables and the webhook payload, and writes the two files Actions
collects from a step (``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``). No API calls here.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pytest_llmops.integrations.github.errors import CommentUsageError

__all__ = [
    "DEFAULT_API_URL", "DEFAULT_SERVER_URL", "SHA_RE", "TOKEN_VARIABLES", "ActionsEnv", "append_summary",
    "head_sha_from_event", "load_event", "pr_number_from_event", "write_outputs",
]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
TOKEN_VARIABLES = ("GITHUB_TOKEN", "INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN")
SHA_RE = re.compile(r"[0-9a-fA-F]{7,64}")  # a full or abbreviated commit SHA


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
        """Read ``environ``; the token from ``token_variable``, else the first of :data:`TOKEN_VARIABLES` set."""
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
    """The pull request's head commit named in a ``pull_request`` payload (``None`` in others)."""
    pull = event.get("pull_request")
    head = pull.get("head") if isinstance(pull, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) and SHA_RE.fullmatch(sha) else None


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
    """Append ``markdown`` to the job summary file ``$GITHUB_STEP_SUMMARY``, ending it with a newline."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
