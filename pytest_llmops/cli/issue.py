"""``llmops issue``: keep one GitHub issue in step with a scheduled evaluation's gate.

The command belongs to the GitHub integration (:mod:`pytest_llmops.integrations.github.issue_command`,
which documents it); this module is its entry point among the ``llmops`` commands.
"""

from __future__ import annotations

from typing import Sequence

from pytest_llmops.integrations.github.issue_command import issue_main

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``llmops issue ...``: 0 done, 1 an API failure, 2 a usage error."""
    return issue_main(argv)
