"""``llmops comment``: publish a report from a GitHub Actions job.

The command belongs to the GitHub integration (:mod:`pytest_llmops.integrations.github`,
which also documents it); this module is its entry point among the ``llmops`` commands.
"""

from __future__ import annotations

from typing import Sequence

from pytest_llmops.integrations.github.command import comment_main

__all__ = ["comment_main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``llmops comment ...``: 0 done, 1 an API failure, 2 a usage error."""
    return comment_main(argv)
