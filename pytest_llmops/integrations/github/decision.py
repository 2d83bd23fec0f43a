"""The gate behind a comment: which one applies, what it decided, and the commit status for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from pytest_llmops.integrations.github.errors import CommentUsageError
from pytest_llmops.report.markdown import check_blocks
from pytest_llmops.report.safe_text import clip, to_text
from pytest_llmops.gates import GateConfigError, evaluate_gate, load_gate_config

__all__ = ["DESCRIPTION_LIMIT", "STATES", "blocking_count", "commit_status", "decision_of", "resolve_gate"]

DESCRIPTION_LIMIT = 140  # GitHub's limit on a commit status description
STATES = {"ALLOW": "success", "BLOCK": "failure"}  # decision -> commit status state


def resolve_gate(report: dict[str, Any], env: str | None, config_path: Path | None,
                 rootdir: Path | None = None) -> dict[str, Any] | None:
    """The gate of ``report`` for ``env``: the report's own when it is for that environment,
    else ``env`` evaluated with the gate file; ``None`` without an environment or a gate."""
    gate = report.get("gate") if isinstance(report.get("gate"), dict) else None
    if gate is not None and (env is None or to_text(gate.get("env")) == env):
        return gate
    if env is None:
        return None

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
    """``(blocking, total)``: how many of the gate's checks block promotion, of how many."""
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
