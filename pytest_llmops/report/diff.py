"""Markdown diff of two canonical JSON reports (base → head), for PR comments.

Per-suite metric deltas with both 95% intervals and a direction arrow (⬆️ better, ⬇️ worse,
➡️ unchanged; lower is better for attack success, error and violation rates and ``*_ms``
metrics), marked *inconclusive* where the intervals overlap; cases whose outcome flipped,
regressions first; new and removed suites and cases; and the gate decision of each side.
Cost and tokens (:mod:`~pytest_llmops.report.usage_text`): the run's cost paid and at list
prices and its tokens, and each suite's cost and tokens per case where they changed.
A suite with a candidate-vs-baseline agreement block gets its line
(:mod:`~pytest_llmops.report.agreement`), with the change of its same-output rate when the
base has one too.
Suites and cases pair as :mod:`~pytest_llmops.report.pairing` says: by name when each side
ran one model (a swapped model is a change to show, not a new set of cases), else by name
and model. The text stays under the same character limit as
:func:`~pytest_llmops.report.markdown.render_markdown`, and every report string in it is
neutralized.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.markdown import (
    DEFAULT_LIMIT, Budget, case_evidence, fmt_metric, interval, is_number,
    note_reserve, totals, truncation_note, value_metrics,
)
from pytest_llmops.report.agreement import markdown_agreement_items
from pytest_llmops.report.human_review import REVIEW_TABLE_HEAD, markdown_review_rows
from pytest_llmops.report.faces import lower_is_better
from pytest_llmops.report.pairing import Pairing
from pytest_llmops.report.safe_text import md_cell, md_code, md_text, to_text
from pytest_llmops.report.usage_text import USAGE_DIFF_HEAD, usage_diff_rows

BETTER, WORSE, SAME = "\u2b06\ufe0f", "\u2b07\ufe0f", "\u27a1\ufe0f"
NOTE_ORDER = ("metric changes", "cost and token changes", "agreement lines", "human review", "regressions", "improvements", "other outcome changes",
              "new suites", "removed suites", "new cases", "removed cases")
EPSILON = 1e-12


def metric_change(name: str, base: dict[str, Any], head: dict[str, Any], suite: Any = None) -> dict[str, Any] | None:
    """Delta, direction and significance of one metric, or ``None`` without two values.

    Which direction is better comes from the report face of ``suite`` (the suite entry)."""
    b, h = base.get("value"), head.get("value")
    if not (is_number(b) and is_number(h)):
        return None
    delta = float(h) - float(b)
    bci, hci = interval(base), interval(head)
    overlap = None if (bci is None or hci is None) else (bci[0] <= hci[1] and hci[0] <= bci[1])
    if abs(delta) <= EPSILON:
        direction = "unchanged"
    else:
        improved = delta < 0 if lower_is_better(name, suite) else delta > 0
        direction = "better" if improved else "worse"
    return {"delta": delta, "direction": direction, "inconclusive": bool(overlap) and direction != "unchanged",
            "no_interval": overlap is None}


def _change_label(change: dict[str, Any]) -> str:
    arrow = {"better": BETTER, "worse": WORSE, "unchanged": SAME}[change["direction"]]
    label = f"{arrow} {change['direction']}"
    if change["direction"] != "unchanged":
        if change["inconclusive"]:
            label += " (inconclusive)"
        elif change["no_interval"]:
            label += " (no interval)"
    return label


def _rank(change: dict[str, Any]) -> int:
    if change["direction"] == "unchanged":
        return 4
    significant = not change["inconclusive"]
    if change["direction"] == "worse":
        return 0 if significant else 2
    return 1 if significant else 3


def _metric_rows(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    ranked = []
    position = 0
    for name, hsuite in head.items():
        bsuite = base.get(name)
        if not isinstance(bsuite, dict) or not isinstance(hsuite, dict):
            continue
        bmetrics = dict(value_metrics(bsuite.get("metrics")))
        hmetrics = dict(value_metrics(hsuite.get("metrics")))
        names = [m for m in hmetrics if m in bmetrics]
        names.sort(key=lambda m: m != "pass_rate")
        for metric in names:
            change = metric_change(metric, bmetrics[metric], hmetrics[metric], hsuite)
            if change is None:
                label, delta, rank = "n/a", "n/a", 5
            else:
                label, delta, rank = _change_label(change), f"{change['delta']:+.3g}", _rank(change)
            row = (f"| {md_cell(name, 100)} | {md_cell(metric, 60)} | {md_cell(fmt_metric(bmetrics[metric], 3), 60)} | "
                   f"{md_cell(fmt_metric(hmetrics[metric], 3), 60)} | {md_cell(delta, 20)} | {label} |")
            ranked.append((rank, position, row))
            position += 1
    return [row for _, _, row in sorted(ranked)]


def _gate_line(base: dict[str, Any], head: dict[str, Any]) -> str | None:
    bg = base.get("gate") if isinstance(base.get("gate"), dict) else None
    hg = head.get("gate") if isinstance(head.get("gate"), dict) else None
    if bg is None and hg is None:
        return None

    def decision(g: dict[str, Any] | None) -> str:
        return md_text(to_text(g.get("decision")).upper() or "UNKNOWN", 20) if g else "none"

    benv = to_text(bg.get("env")) if bg else ""
    henv = to_text(hg.get("env")) if hg else ""
    if not benv or not henv or benv == henv:
        env = md_text(henv or benv or "default", 80)
        line = f"**Gate ({env}): {decision(bg)} \u2192 {decision(hg)}**"
    else:
        line = (f"**Gate: {decision(bg)} ({md_text(benv, 80)}) \u2192 {decision(hg)} ({md_text(henv, 80)})**")
    if bg and hg and decision(bg) == decision(hg):
        line += " (unchanged)"
    return line


def _flip_row(case: dict[str, Any], base_case: dict[str, Any]) -> str:
    b, h = to_text(base_case.get("outcome")), to_text(case.get("outcome"))
    shown = case if h in ("failed", "error") else base_case
    return (f"| {md_cell(case.get('suite'), 80)} | {md_cell(case.get('id'), 80)} | {md_cell(case.get('model'), 40)} | "
            f"{md_cell(b, 10)} \u2192 {md_cell(h, 10)} | {md_code(case.get('output'), 120, table=True)} | "
            f"{case_evidence(shown)} |")


FLIP_HEAD = ("| suite | case | model | outcome | head output | evidence |\n"
             "| --- | --- | --- | --- | --- | --- |")
CASE_HEAD = ("| suite | case | model | outcome |\n| --- | --- | --- | --- |")
SUITE_HEAD = ("| suite | kind | model | n | pass rate [95% CI] |\n| --- | --- | --- | ---: | --- |")
METRIC_HEAD = ("| suite | metric | base [95% CI] | head [95% CI] | \u0394 | change |\n"
               "| --- | --- | --- | --- | ---: | --- |")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def diff_reports(base: dict[str, Any], head: dict[str, Any], limit: int = DEFAULT_LIMIT) -> str:
    """Markdown describing what changed from ``base`` to ``head``, in at most ``limit`` characters."""
    pairing = Pairing.of(base, head)
    bsuites, hsuites = pairing.suites(base), pairing.suites(head)
    new_suites = [k for k in hsuites if k not in bsuites]
    removed_suites = [k for k in bsuites if k not in hsuites]

    bindex, hindex = pairing.index(base), pairing.index(head)
    newly_failed, newly_passed, others, new_cases, removed_cases = [], [], [], [], []
    for key, case in hindex.items():
        base_case = bindex.get(key)
        if base_case is None:
            if pairing.case_suite(case) not in new_suites:
                new_cases.append(case)
            continue
        b, h = base_case.get("outcome"), case.get("outcome")
        if b == h:
            continue
        if (b, h) == ("passed", "failed"):
            newly_failed.append(_flip_row(case, base_case))
        elif (b, h) == ("failed", "passed"):
            newly_passed.append(_flip_row(case, base_case))
        else:
            others.append(_flip_row(case, base_case))
    for key, case in bindex.items():
        if key not in hindex and pairing.case_suite(case) not in removed_suites:
            removed_cases.append(case)

    metric_rows = _metric_rows(bsuites, hsuites)
    usage_rows = usage_diff_rows(base, head, bsuites, hsuites)
    agreement = markdown_agreement_items(hsuites, bsuites)

    def suite_rows(names: list[str], suites: dict[str, Any]) -> list[str]:
        return [f"| {md_cell(n, 120)} | {md_cell(suites[n].get('kind'), 20)} | {md_cell(suites[n].get('model'), 40)} | "
                f"{md_cell(suites[n].get('n'), 10)} | {md_cell(fmt_metric((suites[n].get('metrics') or {}).get('pass_rate')), 40)} |"
                for n in names]

    def case_rows(cases: list[dict[str, Any]]) -> list[str]:
        return [f"| {md_cell(c.get('suite'), 80)} | {md_cell(c.get('id'), 80)} | {md_cell(c.get('model'), 40)} | "
                f"{md_cell(c.get('outcome'), 10)} |" for c in cases]

    sections = [
        ("metric changes", "### Metrics\n\n" + METRIC_HEAD, metric_rows),
        ("cost and token changes", "\n### Cost and tokens\n\n" + USAGE_DIFF_HEAD, usage_rows),
        ("agreement lines", "\n### Candidate vs baseline agreement\n", agreement),
        ("human review", "\n### Human review (head)\n\n" + REVIEW_TABLE_HEAD, markdown_review_rows(hsuites)),
        ("regressions", f"\n### Regressions: passed \u2192 failed ({len(newly_failed):,})\n\n" + FLIP_HEAD, newly_failed),
        ("improvements", f"\n### Improvements: failed \u2192 passed ({len(newly_passed):,})\n\n" + FLIP_HEAD, newly_passed),
        ("other outcome changes", f"\n### Other outcome changes ({len(others):,})\n\n" + FLIP_HEAD, others),
        ("new suites", f"\n### New suites ({len(new_suites):,})\n\n" + SUITE_HEAD, suite_rows(new_suites, hsuites)),
        ("removed suites", f"\n### Removed suites ({len(removed_suites):,})\n\n" + SUITE_HEAD,
         suite_rows(removed_suites, bsuites)),
        ("new cases", f"\n### New cases ({len(new_cases):,})\n\n" + CASE_HEAD, case_rows(new_cases)),
        ("removed cases", f"\n### Removed cases ({len(removed_cases):,})\n\n" + CASE_HEAD, case_rows(removed_cases)),
    ]
    where = "see the full reports"
    counts = {cat: len(rows) for cat, _, rows in sections}
    doc = Budget(limit, note_reserve(counts, NOTE_ORDER, limit, where))

    doc.add("## LLM eval diff")
    brun, hrun = base.get("run") or {}, head.get("run") or {}
    doc.add(f"base {md_code(to_text(brun.get('git_sha'))[:12] or 'unknown')} \u2192 head "
            f"{md_code(to_text(hrun.get('git_sha'))[:12] or 'unknown')}\n")
    models = pairing.models_line()
    if models:
        doc.add(models + "\n")
    gate = _gate_line(base, head)
    if gate:
        doc.add(gate + "\n")
    bt, ht = totals(base), totals(head)
    doc.add(f"Cases: {ht['passed']:,} passed, {ht['failed']:,} failed, {ht['errors']:,} errors "
            f"(base: {bt['passed']:,}, {bt['failed']:,}, {bt['errors']:,}). "
            f"{_plural(len(newly_failed), 'regressed case')}, {_plural(len(newly_passed), 'improved case')}, "
            f"{_plural(len(others), 'other outcome change')}; {len(new_cases):,} new and {len(removed_cases):,} removed cases; "
            f"{len(new_suites):,} new and {len(removed_suites):,} removed suites.\n")
    for category, header, rows in sections:
        doc.section(header, rows, category)
    if metric_rows and not doc.truncated:
        doc.add("\n_inconclusive: the two 95% intervals overlap. Better and worse follow each suite's kind: "
                "lower is better for the error rate and the metrics the kind names; higher otherwise._")
    return doc.text(truncation_note(doc.omitted, NOTE_ORDER, limit, where))


__all__ = ["diff_reports", "metric_change"]
