"""Paired comparisons as table rows: one per (suite, metric) compared with a baseline.

A metric carries a paired comparison when its entry has a ``delta`` dict (``value``,
``ci95``) and a ``decision``; any suite kind may report such metrics (the regression kind
does), and they all show in this one table, whatever the kind.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.safe_text import md_cell

COMPARISON_TABLE_HEAD = ("| suite | metric | baseline | candidate | \u0394 [95% CI] | McNemar p (Holm) | flips +/\u2212 "
                         "| decision |\n| --- | --- | ---: | ---: | --- | ---: | ---: | --- |")
DECISION_ICONS = {"non_inferior": "\u2705", "inconclusive": "\u26a0\ufe0f", "regressed": "\u274c"}


def _number_text(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def compared_metrics(suite: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, metric)`` for every metric of ``suite`` that carries a paired comparison."""
    metrics = suite.get("metrics") or {}
    if not isinstance(metrics, dict):
        return []
    return [(str(name), m) for name, m in metrics.items()
            if isinstance(m, dict) and isinstance(m.get("delta"), dict) and "decision" in m]


def comparison_rows(suites: dict[str, Any]) -> list[str]:
    """Markdown rows of :data:`COMPARISON_TABLE_HEAD` for every compared metric of every suite."""
    rows = []
    for name, suite in suites.items():
        if not isinstance(suite, dict):
            continue
        for metric, m in compared_metrics(suite):
            delta = m["delta"]
            ci = delta.get("ci95") or [None, None]
            flips = m.get("flips") or {}
            p_holm = m.get("p_holm")
            p_text = _number_text(m.get("p_value")) + (f" ({_number_text(p_holm)})" if p_holm is not None else "")
            decision = str(m.get("decision"))
            gated = "" if m.get("gate", True) else " (not gated)"
            rows.append(
                f"| {md_cell(name, 80)} | {md_cell(metric, 60)} | {_number_text(m.get('baseline_mean'))} | "
                f"{_number_text(m.get('candidate_mean'))} | {_number_text(delta.get('value'), 3)} [{_number_text(ci[0])}, {_number_text(ci[1])}] | "
                f"{p_text} | {md_cell(flips.get('improved'), 10)}/{md_cell(flips.get('regressed'), 10)} | "
                f"{DECISION_ICONS.get(decision, '')} {md_cell(decision, 20)}{gated} |")
    return rows
