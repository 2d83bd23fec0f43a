"""What moved between two windows, for Markdown (and the PR comment), HTML and the terminal.

Kind-neutral: shown for every suite whose metrics carry a window comparison's shape, as the
drift kind's do (``docs/drift.md``): ``verdict.drifted`` (the comparisons below the suite's
alpha, with ``verdict.adjusted_p``) and ``topics.grown`` / ``topics.shrunk``. The topics (clusters of the pooled
sample of user messages) that grew and shrank most, each with its share in both windows, the
change with its interval and an example message, and every output comparison that drifted
(Holm-adjusted p below the suite's alpha) with its change and interval. Nothing here is
computed again: the rows only show what the drift kind measured.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.faces import is_number, metric_at
from pytest_llmops.report.safe_text import md_cell, to_text

SHIFT_TABLE_HEAD = ("| suite | what | reference | current | change [95% CI] | p | example |\n"
                    "| --- | --- | ---: | ---: | --- | ---: | --- |")
EXAMPLE_CHARS = 90  # of a topic's first example message
WARN = " \u26a0\ufe0f"  # marks a comparison below the suite's alpha in Markdown


def _num(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if is_number(value) else "n/a"


def _p(value: Any) -> str:
    """A p-value as stored (rounded to 6 decimals): 0 there means below 1e-06."""
    return "<1e-06" if is_number(value) and value == 0 else _num(value)


def _share(value: Any) -> str:
    return f"{value:.1%}" if is_number(value) else "n/a"


def _change(entry: dict[str, Any], as_share: bool) -> str:
    value, ci = entry.get("value", entry.get("change")), entry.get("ci95") or [None, None]
    show = _share if as_share else _num
    if not is_number(value):
        return "n/a"
    sign = "+" if value > 0 else ""
    bounds = f" [{show(ci[0])}, {show(ci[1])}]" if len(ci) == 2 and all(is_number(b) for b in ci) else ""
    return f"{sign}{show(value)}{bounds}"


def _compared_suites(suites: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Suites whose metrics compare two windows (a list ``verdict.drifted`` or a ``topics`` dict)."""
    out = []
    for key, suite in suites.items():
        metrics = suite.get("metrics") if isinstance(suite, dict) else None
        if isinstance(metrics, dict) and (isinstance(metric_at(metrics, "verdict.drifted"), list)
                                          or isinstance(metrics.get("topics"), dict)):
            out.append((str(key), metrics))
    return out


def _topic_rows(suite: str, metrics: dict[str, Any]) -> list[dict[str, str]]:
    topics = metrics.get("topics") if isinstance(metrics.get("topics"), dict) else {}
    out = []
    for direction in ("grown", "shrunk"):
        for topic in topics.get(direction) or []:
            if not isinstance(topic, dict):
                continue
            keywords = [to_text(w) for w in (topic.get("keywords") or [])[:4]]
            words = ", ".join(keywords) or f"cluster {topic.get('cluster')}"
            examples = topic.get("examples") or []
            example = to_text(examples[0]) if examples else ""
            if len(example) > EXAMPLE_CHARS:
                example = example[:EXAMPLE_CHARS - 1] + "\u2026"
            out.append({"suite": suite, "what": f"topic {'grew' if direction == 'grown' else 'shrank'}: {words}",
                        "reference": _share(topic.get("share_reference")),
                        "current": _share(topic.get("share_current")),
                        # a topic's p is its own, not adjusted over the clusters: shown, never flagged
                        "change": _change(topic, as_share=True), "p": _p(topic.get("p_value")),
                        "example": example, "flagged": ""})
    return out


def _output_entry(metrics: dict[str, Any], name: str) -> Any:
    """The comparison ``name`` names (``output.length``, ``output.checks.<check label>``: a
    check's label may itself hold dots, so it is looked up whole)."""
    prefix = "output.checks."
    if name.startswith(prefix):
        checks = metric_at(metrics, "output.checks")
        return checks.get(name[len(prefix):]) if isinstance(checks, dict) else None
    return metric_at(metrics, name)


def _output_rows(suite: str, metrics: dict[str, Any]) -> list[dict[str, str]]:
    verdict = metrics.get("verdict") if isinstance(metrics.get("verdict"), dict) else {}
    adjusted = verdict.get("adjusted_p") if isinstance(verdict.get("adjusted_p"), dict) else {}
    out = []
    for name in verdict.get("drifted") or []:  # the comparisons below the suite's alpha
        if name == "input_shift":
            shift = metrics.get("input_shift") if isinstance(metrics.get("input_shift"), dict) else {}
            out.append({"suite": suite, "what": "input shift (MMD, effect size)", "reference": "", "current": "",
                        "change": _num(shift.get("effect_size")), "p": _p(adjusted.get(name)), "example": "",
                        "flagged": "yes"})
            continue
        entry = _output_entry(metrics, name)
        if not isinstance(entry, dict):
            continue
        rates = isinstance(entry.get("reference"), dict) and "k" in entry["reference"]
        ref, cur = entry.get("reference"), entry.get("current")
        show = _share if rates else _num
        out.append({"suite": suite, "what": name,
                    "reference": show(ref.get("value") if isinstance(ref, dict) else ref),
                    "current": show(cur.get("value") if isinstance(cur, dict) else cur),
                    "change": _change(entry, as_share=rates), "p": _p(adjusted.get(name)) + " (Holm)",
                    "example": "", "flagged": "yes"})
    return out


def rows(suites: dict[str, Any]) -> list[dict[str, str]]:
    """Every compared suite's comparisons below its alpha, then its grown and shrunk topics, as display rows."""
    out = []
    for suite, metrics in _compared_suites(suites):
        out += _output_rows(suite, metrics) + _topic_rows(suite, metrics)
    return out


def markdown_rows(suites: dict[str, Any]) -> list[str]:
    """The Markdown table's rows; a comparison below the suite's alpha is marked."""
    return [f"| {md_cell(r['suite'])} | {md_cell(r['what'])}{WARN if r['flagged'] else ''} | "
            f"{md_cell(r['reference'])} | {md_cell(r['current'])} | {md_cell(r['change'])} | {md_cell(r['p'])} | "
            f"{md_cell(r['example'])} |" for r in rows(suites)]


def terminal_lines(suites: dict[str, Any]) -> list[str]:
    """``moved SUITE: topic grew: refund, chargeback 2.0% -> 30.1% (+28.1% [...]); ...``, one line
    per compared suite naming its largest grown and shrunk topic."""
    out = []
    for suite, metrics in _compared_suites(suites):
        parts = [f"{r['what']} {r['reference']} -> {r['current']} ({r['change']})" for r in _topic_rows(suite, metrics)]
        # the rows list grown topics first, largest first, then shrunk ones: the first of each
        firsts = [next((p for p in parts if p.startswith(prefix)), None) for prefix in ("topic grew", "topic shrank")]
        if any(firsts):
            out.append(f"moved {suite}: " + "; ".join(p for p in firsts if p))
    return out
