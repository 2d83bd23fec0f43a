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

The package, one job per module:

- :mod:`.env` the Actions environment: variables, event payload, ``$GITHUB_OUTPUT`` and
  ``$GITHUB_STEP_SUMMARY``;
- :mod:`.decision` which gate applies, its decision and the commit status for it;
- :mod:`.comment` the sticky comment's marker and Markdown body;
- :mod:`.client` the PyGithub calls;
- :mod:`.command` the command's arguments and the order of its steps.
"""

from __future__ import annotations

from pytest_llmops.integrations.github.command import comment_main
from pytest_llmops.integrations.github.comment import COMMENT_LIMIT, MARKER_PREFIX, build_comment_body, \
    sticky_marker, top_regressions
from pytest_llmops.integrations.github.decision import commit_status, resolve_gate
from pytest_llmops.integrations.github.env import ActionsEnv, pr_number_from_event
from pytest_llmops.integrations.github.errors import CommentUsageError

__all__ = [
    "COMMENT_LIMIT", "MARKER_PREFIX", "ActionsEnv", "CommentUsageError", "build_comment_body", "comment_main",
    "commit_status", "pr_number_from_event", "resolve_gate", "sticky_marker", "top_regressions",
]
