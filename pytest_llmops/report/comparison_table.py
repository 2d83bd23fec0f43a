"""The regression comparison as table rows: one per (suite, metric) that was compared."""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.safe_text import md_cell

REGRESSION_TABLE_HEAD = ("| suite | metric | baseline | candidate | \u0394 [95% CI] | McNemar p (Holm) | flips +/\u2212 "
                         "| decision |\n| --- | --- | ---: | ---: | --- | ---: | ---: | --- |")
DECISION_ICONS = {"non_inferior": "\u2705", "inconclusive": "\u26a0\ufe0f", "regressed": "\u274c"}


def _num(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def compared_metrics(suite: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, metric)`` for every metric of a regression suite that carries a paired comparison."""
    metrics = suite.get("metrics") or {}
    if suite.get("kind") != "regression" or not isinstance(metrics, dict):
        return []
    return [(str(name), m) for name, m in metrics.items()
            if isinstance(m, dict) and isinstance(m.get("delta"), dict) and "decision" in m]


def regression_rows(suites: dict[str, Any]) -> list[str]:
    """Markdown rows of :data:`REGRESSION_TABLE_HEAD` for every compared metric."""
    rows = []
    for name, suite in suites.items():
        if not isinstance(suite, dict):
            continue
        for metric, m in compared_metrics(suite):
            delta = m["delta"]
            ci = delta.get("ci95") or [None, None]
            flips = m.get("flips") or {}
            p_holm = m.get("p_holm")
            p_text = _num(m.get("p_value")) + (f" ({_num(p_holm)})" if p_holm is not None else "")
            decision = str(m.get("decision"))
            gated = "" if m.get("gate", True) else " (not gated)"
            rows.append(
                f"| {md_cell(name, 80)} | {md_cell(metric, 60)} | {_num(m.get('baseline_mean'))} | "
                f"{_num(m.get('candidate_mean'))} | {_num(delta.get('value'), 3)} [{_num(ci[0])}, {_num(ci[1])}] | "
                f"{p_text} | {md_cell(flips.get('improved'), 10)}/{md_cell(flips.get('regressed'), 10)} | "
                f"{DECISION_ICONS.get(decision, '')} {md_cell(decision, 20)}{gated} |")
    return rows
