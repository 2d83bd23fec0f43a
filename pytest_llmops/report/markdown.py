"""Compact Markdown from the canonical JSON report, for PR comments and job summaries.

:func:`render_markdown` gives the gate decision and its checks, one row per suite, then
the failed and error cases. The result is never longer than ``limit`` characters: rows
are dropped whole at the end (never mid-row, mid-span or mid-fence) and a note says how
many were left out. Every string that comes from a report is neutralized with
:mod:`pytest_llmops.report.safe_text`.

The small helpers here (formatting rates, ordering cases, the character budget) are
shared with the HTML report and the diff.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator

from pytest_llmops.report.agreement import markdown_agreement_items
from pytest_llmops.report.human_review import REVIEW_TABLE_HEAD, markdown_review_rows
from pytest_llmops.report.comparison_table import COMPARISON_TABLE_HEAD, comparison_rows
from pytest_llmops.report.ab_table import AB_TABLE_HEAD, markdown_rows as ab_rows
from pytest_llmops.report.slices_table import SLICES_TABLE_HEAD, markdown_rows as slice_rows
from pytest_llmops.report.shift_table import SHIFT_TABLE_HEAD, markdown_rows as shift_rows
from pytest_llmops.report.faces import headline_text, is_number
from pytest_llmops.report.safe_text import md_cell, md_code, md_text, to_text
from pytest_llmops.report.usage_text import USAGE_TABLE_HEAD, run_usage, usage_line, usage_rows

DEFAULT_LIMIT = 65000
PROBLEM_OUTCOMES = ("failed", "error")

STATUS_ICONS = {
    "pass": "\u2705", "passed": "\u2705", "ok": "\u2705", "allow": "\u2705",
    "fail": "\u274c", "failed": "\u274c", "block": "\u274c",
    "warn": "\u26a0\ufe0f", "warning": "\u26a0\ufe0f",
    "inconclusive": "\u26a0\ufe0f", "error": "\U0001f4a5", "skip": "\u2796", "skipped": "\u2796",
    "missing": "\u2753",
}
BAD_STATUSES = ("fail", "failed", "block", "error")
OUTCOME_ICONS = {"passed": "\u2705", "failed": "\u274c", "error": "\U0001f4a5", "skipped": "\u2796"}


# -- shared helpers -------------------------------------------------------------------------

def interval(metric: Any) -> tuple[float, float] | None:
    """The ``ci95`` of a metric dict as two floats, or ``None``."""
    if not isinstance(metric, dict):
        return None
    ci = metric.get("ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and is_number(ci[0]) and is_number(ci[1]):
        return (float(ci[0]), float(ci[1]))
    return None


def fmt_number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 10 ** 5 or abs(value) < 10 ** -3):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if abs(value) >= 100 else f"{value:.{digits}f}"
    return to_text(value)


def fmt_metric(metric: Any, digits: int = 2) -> str:
    """``0.94 [0.81, 0.98]`` for a ``{value, ci95}`` dict; ``n/a`` without a value."""
    if not isinstance(metric, dict) or not is_number(metric.get("value")):
        return "n/a"
    text = fmt_number(float(metric["value"]), digits)
    ci = interval(metric)
    if ci is not None:
        text += f" [{fmt_number(ci[0], digits)}, {fmt_number(ci[1], digits)}]"
    return text


def value_metrics(metrics: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(name, metric)`` for every metric dict that carries a ``value``."""
    if not isinstance(metrics, dict):
        return
    for name, metric in metrics.items():
        if isinstance(metric, dict) and "value" in metric:
            yield str(name), metric
    slices = metrics.get("slices")
    # each bias slice's largest gap (lower is better), so diffs and the HTML list it like any metric
    for name, entry in (slices.items() if isinstance(slices, dict) else ()):
        gap = entry.get("max_gap") if isinstance(entry, dict) else None
        if isinstance(gap, dict) and "value" in gap:
            yield f"slices.{name}.max_gap", gap


def suite_key_of(case: dict[str, Any], suites: dict[str, Any]) -> str:
    """The report key of a case's suite (``name[model]`` when the run has several models)."""
    name, model = to_text(case.get("suite")), to_text(case.get("model"))
    keyed = f"{name}[{model}]"
    return keyed if keyed in suites else name


def group_cases(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Cases by suite key, in report order."""
    suites = report.get("suites") or {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for case in report.get("cases") or []:
        if isinstance(case, dict):
            groups.setdefault(suite_key_of(case, suites), []).append(case)
    return groups


def is_problem(case: dict[str, Any]) -> bool:
    return case.get("outcome") in PROBLEM_OUTCOMES


def problems_first(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed, then error, then the rest; report order within each."""
    rank = {"failed": 0, "error": 1}
    return sorted(cases, key=lambda c: rank.get(c.get("outcome"), 2))  # sorted() is stable


def failed_checks(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in case.get("checks") or [] if isinstance(c, dict) and not c.get("passed", True)]


def totals(report: dict[str, Any]) -> dict[str, int]:
    """Passed, failed, errors, skipped and n over all suites."""
    out = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "n": 0}
    for suite in (report.get("suites") or {}).values():
        if isinstance(suite, dict):
            for key in out:
                value = suite.get(key)
                out[key] += value if isinstance(value, int) else 0
    return out


def short_sha(sha: Any, length: int = 12) -> str:
    text = to_text(sha)
    return text[:length] if text else "unknown"


def status_icon(status: Any) -> str:
    return STATUS_ICONS.get(to_text(status).lower(), "\u2796")


def check_blocks(check: dict[str, Any]) -> bool:
    """Whether a gate check row blocks (its ``blocking`` flag, else a failing status)."""
    if "blocking" in check:
        return bool(check.get("blocking"))
    return to_text(check.get("status")).lower() in BAD_STATUSES


def check_rank(check: dict[str, Any]) -> int:
    """Blocking rows first, then anything that did not pass, then passes."""
    if check_blocks(check):
        return 0
    return 2 if to_text(check.get("status")).lower() in ("pass", "passed", "ok") else 1


class Budget:
    """Lines of Markdown under a character limit, cut only between whole rows.

    Sections are added with :meth:`section`; once one row does not fit, it and every
    later row are counted as omitted (per category) and :meth:`text` ends with a note
    naming what was left out. ``note_reserve`` must be at least the longest note.
    """

    def __init__(self, limit: int, note_reserve: int) -> None:
        self.limit = limit
        self.reserve = note_reserve
        self.lines: list[str] = []
        self.size = 0
        self.truncated = False
        self.omitted: dict[str, int] = {}

    def _fits(self, text: str) -> bool:
        return self.size + len(text) + 1 + self.reserve <= self.limit

    def add(self, text: str) -> bool:
        """Add a block (one or more lines) whole, or nothing once truncation started."""
        if self.truncated or not self._fits(text):
            self.truncated = True
            return False
        self.lines.append(text)
        self.size += len(text) + 1
        return True

    def section(self, header: str, rows: list[str], category: str) -> None:
        """A header (with the table head) and its rows; the header only with a first row."""
        if not rows:
            return
        if self.truncated or not self._fits(header + "\n" + rows[0]):
            self.truncated = True
            self.omitted[category] = self.omitted.get(category, 0) + len(rows)
            return
        self.add(header)
        for position, row in enumerate(rows):
            if not self.add(row):
                self.omitted[category] = self.omitted.get(category, 0) + len(rows) - position
                return

    def text(self, note: str) -> str:
        body = "\n".join(self.lines)
        if self.truncated:
            body = (body + "\n\n" + note) if body else note
        if len(body) > self.limit:  # a limit smaller than the note itself
            body = body[: self.limit]
        return body + ("\n" if len(body) < self.limit and not body.endswith("\n") else "")


def omitted_phrase(omitted: dict[str, int], order: Iterable[str]) -> str:
    """``3 more suites and 1,204 more failed cases`` from the omitted counts."""
    parts = [f"{omitted[cat]:,} more {cat}" for cat in order if omitted.get(cat)]
    if not parts:
        return "some rows"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def truncation_note(omitted: dict[str, int], order: Iterable[str], limit: int, where: str) -> str:
    return (f"_Truncated: {omitted_phrase(omitted, order)} not shown "
            f"(limit {limit:,} characters); {where}._")


def note_reserve(counts: dict[str, int], order: Iterable[str], limit: int, where: str) -> int:
    """The longest note the given row counts could produce."""
    return len(truncation_note({k: max(v, 1) for k, v in counts.items()}, order, limit, where)) + 4


# -- the Markdown report ----------------------------------------------------------------------

NOTE_ORDER = ("gate checks", "suites", "cost and token rows", "regression metrics", "A/B rows", "slices",
              "window comparison rows", "agreement lines", "human review",
              "failed cases")
OUTPUT_EXCERPT = 160
EVIDENCE_EXCERPT = 160
MAX_FAILED_CHECKS = 3


def _gate_lines(gate: dict[str, Any]) -> tuple[str, str, list[str]]:
    decision = to_text(gate.get("decision")).upper() or "UNKNOWN"
    env = md_text(gate.get("env") or "default", 80)
    checks = [c for c in gate.get("checks") or [] if isinstance(c, dict)]
    blocking = sum(1 for c in checks if check_blocks(c))
    head = f"### {status_icon(decision)} Gate ({env}): **{md_text(decision, 20)}**"
    if checks:
        head += f" \u2014 {blocking} of {len(checks)} checks blocking"
    warnings = [f"- \u26a0\ufe0f {md_text(w, 300)}" for w in gate.get("warnings") or []]
    if warnings:
        head += "\n\n" + "\n".join(warnings)
    order = sorted(checks, key=check_rank)
    rows = []
    for c in order:
        condition = " ".join(x for x in (md_text(c.get("op"), 10), md_text(fmt_number(c.get("threshold")), 30)) if x)
        status = md_cell(c.get("status"), 20) + (" (blocking)" if check_blocks(c) else "")
        rows.append(f"| {status_icon(c.get('status'))} {status} | {md_cell(c.get('check'), 80)} | "
                    f"{md_cell(c.get('suite'), 80)} | {md_cell(c.get('metric'), 60)} | {condition or ' '} | "
                    f"{md_cell(fmt_number(c.get('value')), 30)} | {md_cell(fmt_number(c.get('bound')), 30)} | "
                    f"{md_cell(c.get('reason'), 300)} |")
    table_head = ("| status | check | suite | metric | condition | value | bound | reason |\n"
                  "| --- | --- | --- | --- | --- | --- | --- | --- |")
    return head, table_head, rows


def _run_line(report: dict[str, Any]) -> str:
    run = report.get("run") or {}
    models = ", ".join(f"{md_text(m.get('alias'), 60)} ({md_code(short_sha(m.get('fingerprint')))})"
                       for m in run.get("models") or [] if isinstance(m, dict))
    parts = [f"started {md_text(run.get('started_at') or 'unknown', 40)}",
             f"git {md_code(short_sha(run.get('git_sha')))}",
             f"models: {models or 'none'}"]
    env = run.get("env") or {}
    if isinstance(env, dict) and env.get("device"):
        parts.append(f"device {md_text(env.get('device'), 30)}"
                     + (f" ({md_text(env.get('gpu'), 60)})" if env.get("gpu") else ""))
    if run.get("plugin_version"):
        parts.append(f"pytest-llmops {md_text(run.get('plugin_version'), 20)}")
    return "Run: " + " \u00b7 ".join(parts)


def suite_row(name: str, suite: dict[str, Any]) -> str:
    metrics = suite.get("metrics") or {}
    return (f"| {md_cell(name, 120)} | {md_cell(suite.get('kind'), 20)} | {md_cell(suite.get('model'), 40)} | "
            f"{md_cell(suite.get('n'), 10)} | {md_cell(suite.get('passed'), 10)} | {md_cell(suite.get('failed'), 10)} | "
            f"{md_cell(suite.get('errors'), 10)} | {md_cell(fmt_metric(metrics.get('pass_rate')), 40)} | "
            f"{md_cell(headline_text(suite), 80)} |")


# The key metric is the suite kind's own headline (its report face), as in the terminal table.
SUITE_TABLE_HEAD = ("| suite | kind | model | n | pass | fail | err | pass rate [95% CI] | key metric [95% CI] |\n"
                    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |")


def case_evidence(case: dict[str, Any]) -> str:
    """Failed checks (``name``: evidence) or the error, as table-safe Markdown."""
    parts = []
    checks = failed_checks(case)
    for check in checks[:MAX_FAILED_CHECKS]:
        evidence = md_code(check.get("evidence"), EVIDENCE_EXCERPT, table=True)
        parts.append(f"{md_text(check.get('name'), 40)}: {evidence}")
    if len(checks) > MAX_FAILED_CHECKS:
        parts.append(f"+{len(checks) - MAX_FAILED_CHECKS} more")
    if case.get("error"):
        parts.append("error: " + md_code(case.get("error"), EVIDENCE_EXCERPT, table=True))
    return "; ".join(parts) or " "


def case_row(case: dict[str, Any]) -> str:
    outcome = to_text(case.get("outcome"))
    return (f"| {md_cell(case.get('suite'), 80)} | {md_cell(case.get('id'), 80)} | {md_cell(case.get('model'), 40)} | "
            f"{OUTCOME_ICONS.get(outcome, '')} {md_cell(outcome, 10)} | "
            f"{md_code(case.get('output'), OUTPUT_EXCERPT, table=True)} | {case_evidence(case)} |")


CASE_TABLE_HEAD = ("| suite | case | model | outcome | output | evidence |\n"
                   "| --- | --- | --- | --- | --- | --- |")


def render_markdown(report: dict[str, Any], limit: int = DEFAULT_LIMIT) -> str:
    """Markdown summary of ``report`` in at most ``limit`` characters."""
    suites = report.get("suites") or {}
    gate = report.get("gate") if isinstance(report.get("gate"), dict) else None
    problems = [c for c in report.get("cases") or [] if isinstance(c, dict) and is_problem(c)]
    suite_rows = [suite_row(str(name), s) for name, s in suites.items() if isinstance(s, dict)]
    agreement = markdown_agreement_items(suites)
    reviewed = markdown_review_rows(suites)

    gate_head, gate_table, gate_rows = _gate_lines(gate) if gate else ("", "", [])
    usage = usage_rows(suites)
    counts = {"gate checks": len(gate_rows), "suites": len(suite_rows), "failed cases": len(problems),
              "cost and token rows": len(usage),
              "regression metrics": len(comparison_rows(suites)), "A/B rows": len(ab_rows(suites)),
              "slices": len(slice_rows(suites)), "window comparison rows": len(shift_rows(suites)),
              "agreement lines": len(agreement), "human review": len(reviewed)}
    where = "see the HTML report"
    doc = Budget(limit, note_reserve(counts, NOTE_ORDER, limit, where))

    doc.add("## LLM eval report")
    t = totals(report)
    summary = (f"{t['passed']:,} passed, {t['failed']:,} failed, {t['errors']:,} errors"
               + (f", {t['skipped']:,} skipped" if t["skipped"] else "") + f" in {len(suite_rows):,} suites")
    if gate:
        doc.add(gate_head + "\n")
        doc.section(gate_table, gate_rows, "gate checks")
        doc.add("\n" + summary + ".")
    else:
        doc.add(f"### \u2796 No gate applied \u2014 {summary}")
    doc.add("\n" + _run_line(report) + "\n")
    line = usage_line(run_usage(report))
    if line:
        doc.add(f"Usage: {line}\n")
    doc.section("### Suites\n\n" + SUITE_TABLE_HEAD, suite_rows, "suites")
    doc.section("\n### Tokens and cost\n\n" + USAGE_TABLE_HEAD, usage, "cost and token rows")
    compared = comparison_rows(suites)
    doc.section("\n### Regression: candidate vs baseline\n\n" + COMPARISON_TABLE_HEAD, compared,
                "regression metrics")
    doc.section("\n### Prompt A/B: variants vs reference\n\n" + AB_TABLE_HEAD, ab_rows(suites), "A/B rows")
    doc.section("\n### Bias slices: the largest gap between groups\n\n" + SLICES_TABLE_HEAD, slice_rows(suites),
                "slices")
    doc.section("\n### What moved between the windows\n\n" + SHIFT_TABLE_HEAD, shift_rows(suites),
                "window comparison rows")
    doc.section("\n### Candidate vs baseline agreement\n", agreement, "agreement lines")
    doc.section("\n### Human review\n\n" + REVIEW_TABLE_HEAD, reviewed, "human review")
    if problems:
        failed = sum(1 for c in problems if c.get("outcome") == "failed")
        doc.add(f"\n### Failed and error cases ({failed:,} failed, {len(problems) - failed:,} errors)\n")
        doc.section(CASE_TABLE_HEAD, [case_row(c) for c in problems], "failed cases")
    elif suite_rows:
        doc.add("\nNo failed or error cases.")
    return doc.text(truncation_note(doc.omitted, NOTE_ORDER, limit, where))


__all__ = ["render_markdown", "DEFAULT_LIMIT", "fmt_metric"]
