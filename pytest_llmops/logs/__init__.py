"""Logged production interactions as a source for suites (``docs/logs.md``)."""

from __future__ import annotations

from pytest_llmops.logs.interactions import Interaction, LogLineError, read_interactions, user_text

__all__ = ["Interaction", "LogLineError", "read_interactions", "user_text"]
