"""The error every part of ``llmops comment`` raises for a problem the user must fix."""

from __future__ import annotations

__all__ = ["CommentUsageError"]


class CommentUsageError(Exception):
    """Bad arguments, an unreadable report or event file, a broken gate file: exit 2."""
