"""The text of the one issue a scheduled evaluation keeps: its hidden marker, its body and its comments.

The issue is found by the hidden first line of its body, ``<!-- llmops:issue key=nightly -->``
(the key is ``--key``, one issue per key), never by its title, which people may edit. The
marker line also carries a short digest of the failing checks, so a nightly run that fails
the same way edits the body quietly and one that fails differently says so in a comment.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping

from pytest_llmops.integrations.github.decision import blocking_count, decision_of
from pytest_llmops.report.markdown import check_blocks
from pytest_llmops.report.safe_text import md_code, md_text, to_text

__all__ = ["ISSUE_MARKER_PREFIX", "failing_digest", "failing_rows", "issue_body", "issue_marker",
           "marker_digest", "passing_comment", "still_failing_comment"]

ISSUE_MARKER_PREFIX = "<!-- llmops:issue key="
_KEY_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,80}")
_MARKER_RE = re.compile(r"<!-- llmops:issue key=(?P<key>\S+?)(?: failing=(?P<digest>[0-9a-f]{12}))? -->")
MAX_ROWS = 50


def valid_key(key: str) -> bool:
    """Whether ``key`` can stand in a marker (letters, digits and ``_.:/-``, at most 80)."""
    return bool(_KEY_RE.fullmatch(key))


def issue_marker(key: str, digest: str | None = None) -> str:
    """The hidden first line of the issue's body."""
    return f"{ISSUE_MARKER_PREFIX}{key}" + (f" failing={digest}" if digest else "") + " -->"


def marker_digest(body: Any, key: str) -> tuple[bool, str | None]:
    """``(marked, digest)``: whether ``body`` starts with the marker of ``key``, and the digest it carries."""
    if not isinstance(body, str):
        return False, None
    match = _MARKER_RE.match(body.lstrip())
    if match is None or match.group("key") != key:
        return False, None
    return True, match.group("digest")


def failing_rows(gate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The gate's blocking checks, in the gate's order."""
    return [c for c in gate.get("checks") or [] if isinstance(c, dict) and check_blocks(c)]


def failing_digest(gate: Mapping[str, Any]) -> str:
    """12 hex digits naming which checks block on which suites (not their values, which move nightly)."""
    names = sorted(f"{to_text(c.get('check'))}\x00{to_text(c.get('suite'))}" for c in failing_rows(gate))
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()[:12]


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return md_text(to_text(value) or "\u2013", 30)
    return f"{value:.4g}"


def _run_line(report: Mapping[str, Any], run_url: str | None) -> str:
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    parts = [f"report of {md_text(run.get('started_at') or 'an unknown time', 40)}"]
    if run.get("git_sha"):
        parts.append(f"commit {md_code(to_text(run.get('git_sha'))[:12])}")
    if run_url:
        parts.append(f"[workflow run]({run_url})")
    return ", ".join(parts)


def issue_body(key: str, gate: Mapping[str, Any], report: Mapping[str, Any], run_url: str | None) -> str:
    """The issue's body: the marker, the decision, and a table of the failing gate rows."""
    rows = failing_rows(gate)
    blocking, total = blocking_count(gate)
    env = md_text(to_text(gate.get("env")) or "default", 60)
    lines = [issue_marker(key, failing_digest(gate)),
             f"## \u274c llmops gate **{md_text(decision_of(gate) or 'UNKNOWN', 10)}** ({env})", "",
             f"{blocking} of {total} gate checks blocking; {_run_line(report, run_url)}.", "",
             "| check | suite | metric | value | compared | threshold | status | reason |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | --- |"]
    for c in rows[:MAX_ROWS]:
        lines.append(f"| {md_code(c.get('check'), 100, table=True)} | {md_code(c.get('suite') or '*', 80, table=True)} | "
                     f"{md_code(c.get('metric'), 60, table=True)} | {_number(c.get('value'))} | {_number(c.get('bound'))} | "
                     f"{md_text(to_text(c.get('op')), 4)} {_number(c.get('threshold'))} | "
                     f"{md_text(c.get('status'), 14)} | {md_text(c.get('reason'), 160)} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"\n\u2026 and {len(rows) - MAX_ROWS} more blocking rows (see the report).")
    lines += ["", "---",
              f"_Kept by `llmops issue --key {md_text(key, 80)}`: each failing run updates this body, a run that "
              "fails on other checks adds a comment, and a run that passes closes the issue._"]
    return "\n".join(lines) + "\n"


def still_failing_comment(gate: Mapping[str, Any], report: Mapping[str, Any], run_url: str | None) -> str:
    """The comment added when a run fails on a different set of checks than the body showed."""
    blocking, _ = blocking_count(gate)
    names = ", ".join(md_code(c.get("check"), 80) for c in failing_rows(gate)[:5])
    more = ", \u2026" if blocking > 5 else ""
    return (f"The gate still blocks, now on other checks ({blocking} blocking: {names}{more}); "
            f"{_run_line(report, run_url)}. The body above is updated.\n")


def passing_comment(gate: Mapping[str, Any], report: Mapping[str, Any], run_url: str | None) -> str:
    """The comment added when the gate passes again."""
    env = md_text(to_text(gate.get("env")) or "default", 60)
    return f"\u2705 The llmops gate ({env}) passes again: {_run_line(report, run_url)}.\n"
