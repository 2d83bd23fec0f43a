"""How the HTML and Markdown reports, the diff and the PR comment show a suite's ``human_review``
section (written by ``llmops review import``): one line per suite, or one table row.

Every key is read defensively: older reports have no section, and a damaged one shows what it
can rather than failing the render.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.faces import is_number
from pytest_llmops.report.safe_text import md_cell

__all__ = ["HUMAN_REVIEW", "REVIEW_TABLE_HEAD", "review_block", "review_line", "markdown_review_rows"]

HUMAN_REVIEW = "human_review"
REVIEW_TABLE_HEAD = ("| suite | labelled | human pass rate | reviewers' kappa | outcome vs humans: kappa | "
                     "false-pass | false-fail | stale labels |\n| --- | --- | --- | --- | --- | --- | --- | --- |")


def review_block(suite: Any) -> dict[str, Any] | None:
    """A suite's ``human_review`` section, or None."""
    block = suite.get(HUMAN_REVIEW) if isinstance(suite, dict) else None
    return block if isinstance(block, dict) else None


def _interval(metric: Any) -> str:
    """``0.83 [0.55, 0.95]`` (n=12), or ``-`` when there is no value."""
    if not isinstance(metric, dict) or not is_number(metric.get("value")):
        return "-"
    text = f"{metric['value']:.2f}"
    ci = metric.get("ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(is_number(x) for x in ci):
        text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    if is_number(metric.get("n")):
        text += f" (n={int(metric['n'])})"
    return text


def _coverage(block: dict[str, Any]) -> str:
    coverage = block.get("coverage") if isinstance(block.get("coverage"), dict) else {}
    labelled, cases = coverage.get("labelled"), coverage.get("cases")
    if not (is_number(labelled) and is_number(cases)):
        return "-"
    share = f" ({labelled / cases:.0%})" if cases else ""
    return f"{int(labelled)}/{int(cases)}{share}"


def review_line(suite: Any) -> str | None:
    """``12/57 labelled (21%) by 2 reviewers; human pass rate ...; outcome vs humans: kappa ...``."""
    block = review_block(suite)
    if block is None:
        return None
    reviewers = block.get("reviewers") if isinstance(block.get("reviewers"), list) else []
    parts = [f"{_coverage(block)} labelled" + (f" by {len(reviewers)} reviewer{'s' if len(reviewers) != 1 else ''}"
                                               if reviewers else "")]
    if isinstance(block.get("human_pass_rate"), dict) and is_number(block["human_pass_rate"].get("value")):
        parts.append(f"human pass rate {_interval(block['human_pass_rate'])}")
    if isinstance(block.get("reviewer_agreement"), dict) and is_number(block["reviewer_agreement"].get("value")):
        parts.append(f"reviewers' kappa {_interval(block['reviewer_agreement'])}")
    if isinstance(block.get("kappa"), dict) and is_number(block["kappa"].get("value")):
        parts.append(f"outcome vs humans: kappa {_interval(block['kappa'])}, false-pass "
                     f"{_interval(block.get('false_pass_rate'))}, false-fail {_interval(block.get('false_fail_rate'))}")
    if is_number(block.get("stale_labels")) and block["stale_labels"]:
        parts.append(f"{int(block['stale_labels'])} stale labels not applied")
    return "; ".join(parts)


def markdown_review_rows(suites: dict[str, Any]) -> list[str]:
    """A table row per suite with at least one label (suites nobody reviewed stay out of the table)."""
    rows = []
    for name, suite in suites.items():
        block = review_block(suite)
        coverage = block.get("coverage") if block and isinstance(block.get("coverage"), dict) else {}
        if not block or not coverage.get("labelled"):
            continue
        cells = [str(name), _coverage(block), _interval(block.get("human_pass_rate")),
                 _interval(block.get("reviewer_agreement")), _interval(block.get("kappa")),
                 _interval(block.get("false_pass_rate")), _interval(block.get("false_fail_rate")),
                 str(block.get("stale_labels", 0))]
        rows.append("| " + " | ".join(md_cell(cell, 120) for cell in cells) + " |")
    return rows
