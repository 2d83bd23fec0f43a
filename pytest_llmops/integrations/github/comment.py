"""The sticky comment: its hidden marker and its Markdown body (also the job summary).

The body is the gate decision with its blocking checks, the run's cost and its change from
the base (when the run had a price table), the top regressions (cases that
went from passed to failed or error), the eval diff base -> head (or the report's summary
without a base) and a pointer to the HTML report, kept under GitHub's comment size limit.
Everything taken from a report goes through :mod:`pytest_llmops.report.safe_text`, so a
hostile case output cannot inject Markdown or HTML.
"""

from __future__ import annotations

import datetime as _dt
import re
import urllib.parse
from typing import Any, Mapping

from pytest_llmops.integrations.github.decision import blocking_count, decision_of
from pytest_llmops.report.ab_table import AB_TABLE_HEAD, changed_candidates, markdown_rows as ab_rows
from pytest_llmops.report.markdown import DEFAULT_LIMIT, check_blocks, failed_checks, status_icon
from pytest_llmops.report.safe_text import md_code, md_text, to_text
from pytest_llmops.report.diff import diff_reports
from pytest_llmops.report.pairing import Pairing
from pytest_llmops.report.markdown import render_markdown
from pytest_llmops.report.usage_text import cost_line

__all__ = [
    "BODY_LIMIT", "COMMENT_LIMIT", "DEFAULT_ARTIFACT", "DEFAULT_TOP", "MARKER_PREFIX", "build_comment_body",
    "has_marker", "pointer_line", "sticky_marker", "top_regressions",
]

MARKER_PREFIX = "<!-- llmops:sticky-comment"
COMMENT_LIMIT = 65536  # GitHub's limit on an issue comment body
BODY_LIMIT = DEFAULT_LIMIT  # what we aim for: a margin below COMMENT_LIMIT
DEFAULT_ARTIFACT = "llmops-report"
DEFAULT_TOP = 5
MAX_AB_ROWS = 20  # the A/B table in the comment; the HTML report has every row
_ENV_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def sticky_marker(env: str | None) -> str:
    """The hidden first line that identifies our comment (one per gate environment)."""
    if not env:
        return MARKER_PREFIX + " -->"
    safe = re.sub(r"-{2,}", "-", _ENV_UNSAFE.sub("_", env))[:64]
    return f"{MARKER_PREFIX} env={safe} -->"


def has_marker(body: Any, marker: str) -> bool:
    """Whether a comment ``body`` starts with ``marker`` (leading whitespace aside)."""
    return isinstance(body, str) and body.lstrip().startswith(marker)


def top_regressions(base: dict[str, Any], head: dict[str, Any], count: int = DEFAULT_TOP) -> tuple[list[str], int]:
    """Markdown list items for the first ``count`` cases that passed in ``base`` and fail
    (then: error) in ``head``, and how many such cases there are in all.

    Cases pair as in the diff below them (:class:`~pytest_llmops.report.pairing.Pairing`),
    so a pull request that swaps the model still lists what the new one got wrong."""
    pairing = Pairing.of(base, head)
    before = pairing.index(base)
    flipped: dict[str, list[dict[str, Any]]] = {"failed": [], "error": []}
    for case in head.get("cases") or []:
        if (isinstance(case, dict) and (before.get(pairing.case_key(case)) or {}).get("outcome") == "passed"
                and case.get("outcome") in flipped):
            flipped[case["outcome"]].append(case)
    ordered = flipped["failed"] + flipped["error"]
    lines = []
    for case in ordered[:max(0, count)]:
        outcome = to_text(case.get("outcome"))
        line = (f"- {status_icon(outcome)} **{md_text(case.get('suite'), 80)}** \u203a {md_code(case.get('id'), 80)} "
                f"({md_text(case.get('model'), 40)}): passed \u2192 {md_text(outcome, 10)}")
        details = []
        if case.get("output") not in (None, ""):
            details.append("output " + md_code(case.get("output"), 120))
        for check in failed_checks(case)[:2]:
            details.append(f"{md_text(check.get('name'), 40)}: {md_code(check.get('evidence'), 120)}")
        if case.get("error"):
            details.append("error: " + md_code(case.get("error"), 120))
        if details:
            line += " \u2014 " + "; ".join(details)
        lines.append(line)
    return lines, len(ordered)


def _safe_url(url: str) -> str:
    """``url`` with everything that could end a Markdown link destination percent-encoded."""
    return urllib.parse.quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def pointer_line(artifact: str, html_url: str | None, run_url: str | None) -> str:
    """Where the HTML report is: the artifact link, else the run page, else the artifact name."""
    name = md_code(artifact or DEFAULT_ARTIFACT, 100)
    if html_url:
        return (f"\U0001f4c4 **HTML report:** [{md_text(artifact or DEFAULT_ARTIFACT, 100)} artifact]"
                f"({_safe_url(html_url)}) (`llmops-report.html`)")
    if run_url:
        run_id = run_url.rstrip("/").rsplit("/", 1)[-1]
        return (f"\U0001f4c4 **HTML report:** `llmops-report.html` in the {name} artifact of "
                f"[workflow run {md_text(run_id, 30)}]({_safe_url(run_url)})")
    return f"\U0001f4c4 **HTML report:** `llmops-report.html` in the {name} artifact of this workflow run"


def _gate_heading(gate: Mapping[str, Any] | None, env: str | None) -> list[str]:
    """The decision heading, the blocking count and up to ten blocking checks."""
    decision = decision_of(gate)
    if gate is None or decision is None:
        return ["## \u2796 llmops: no gate applied"]
    shown_env = md_text(to_text(gate.get("env")) or env or "default", 80)
    blocking, total = blocking_count(gate)
    lines = [f"## {status_icon(decision)} llmops: PROMOTION: **{decision}** ({shown_env})"]
    if total:
        lines.append(f"{blocking} of {total} gate checks blocking.")
    rows = [c for c in gate.get("checks") or [] if isinstance(c, dict) and check_blocks(c)]
    if rows:
        lines.append("")
        lines.append("**Blocking checks**")
        lines.append("")
        for c in rows[:10]:
            where = f" on {md_code(c.get('suite'), 80)}" if c.get("suite") else ""
            lines.append(f"- {status_icon(c.get('status'))} {md_code(c.get('check'), 100)}{where}: "
                         f"{md_text(c.get('reason'), 200)}")
        if len(rows) > 10:
            lines.append(f"- \u2026 and {len(rows) - 10} more (see the report)")
    return lines


def ab_part(base: dict[str, Any], head: dict[str, Any], limit: int = MAX_AB_ROWS) -> list[str]:
    """The prompt A/B table of the comparisons a pull request changed (a template of one of
    their variants, or which variants there are), or nothing when none changed."""
    rows = ab_rows(head.get("suites") or {}, changed_candidates(base, head))
    if not rows:
        return []
    more = ["", f"_{len(rows) - limit:,} more A/B rows in the report._"] if len(rows) > limit else []
    return ["", "### Prompt A/B (templates changed in this PR)", "", AB_TABLE_HEAD, *rows[:limit], *more]


def build_comment_body(head: dict[str, Any], base: dict[str, Any] | None, gate: Mapping[str, Any] | None,
                       env: str | None, pointer: str, marker: str | None = None, top: int = DEFAULT_TOP,
                       limit: int = BODY_LIMIT, note: str | None = None) -> str:
    """The comment (and job summary) Markdown, at most ``limit`` characters.

    ``marker`` (the hidden first line) is left out for the job summary. ``head`` (and
    ``base``) should carry their gate under ``"gate"`` for the diff to show it.
    """
    top_part: list[str] = []
    if base is not None and top > 0:
        lines, total = top_regressions(base, head, top)
        if lines:
            shown = f"{len(lines):,} of {total:,}" if total > len(lines) else f"{total:,}"
            top_part = ["", f"### Top regressions ({shown})", "", *lines]
        else:
            top_part = ["", "No regressions: no case went from passed to failed or error."]
    cost = cost_line(head, base)
    cost_part = ["", cost] if cost else []
    if base is not None:
        # Without a base the report summary below already has the whole A/B table.
        top_part += ab_part(base, head)
    head_lines = ([marker] if marker else []) + _gate_heading(gate, env) + cost_part + top_part + [""]
    footer = ["", "---", pointer]
    run = head.get("run") if isinstance(head.get("run"), dict) else {}
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sha = to_text(run.get("git_sha"))[:12]
    footer.append(f"_pytest-llmops \u00b7 head {md_code(sha or 'unknown')} \u00b7 updated {stamp}_")
    if note:
        footer.insert(1, note)
    fixed = "\n".join(head_lines) + "\n" + "\n".join(footer) + "\n"
    room = limit - len(fixed) - 2
    if room < 500:  # only with a tiny limit: drop the extras rather than the report
        head_lines = ([marker] if marker else []) + _gate_heading(None if gate is None else gate, env)[:2] + [""]
        fixed = "\n".join(head_lines) + "\n" + "\n".join(footer[:3]) + "\n"
        room = max(0, limit - len(fixed) - 2)
    main = diff_reports(base, head, limit=room) if base is not None else render_markdown(head, limit=room)
    body = "\n".join(head_lines) + "\n" + main.rstrip("\n") + "\n" + "\n".join(footer) + "\n"
    return body if len(body) <= limit else body[:limit]
