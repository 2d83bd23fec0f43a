"""Bias slices for the terminal, Markdown (and the PR comment) and HTML.

Read from the ``slices`` entry that :mod:`pytest_llmops.report.slices` puts into a suite's
metrics: one terminal line per sliced suite, one table row per slice (the largest gap with
its simultaneous interval, the highest and lowest groups with their rates, the group count).
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.faces import is_number
from pytest_llmops.report.safe_text import md_cell, to_text

SLICES_TABLE_HEAD = ("| suite | slice (field) | largest gap [simultaneous 95% CI] | highest | lowest | groups |\n"
                     "| --- | --- | --- | --- | --- | ---: |")


def _num(value: Any) -> str:
    return f"{value:.2f}" if is_number(value) else "n/a"


def sliced(suites: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(suite key, slice name, slice)`` of every slice in the report, in report order."""
    out = []
    for key, suite in suites.items():
        metrics = suite.get("metrics") if isinstance(suite, dict) else None
        slices = metrics.get("slices") if isinstance(metrics, dict) else None
        if isinstance(slices, dict):
            out += [(str(key), str(name), s) for name, s in slices.items() if isinstance(s, dict)]
    return out


def _group_text(entry: dict[str, Any], group: Any) -> str:
    groups = entry.get("groups") if isinstance(entry.get("groups"), dict) else {}
    facts = groups.get(group) if isinstance(groups, dict) else None
    if not isinstance(facts, dict):
        return "n/a"
    return f"{to_text(group)} {_num(facts.get('rate'))} (n={facts.get('n', '?')})"


def row(suite: str, name: str, entry: dict[str, Any]) -> dict[str, str]:
    """One slice as display strings (``gap``, ``highest``, ``lowest``, ``groups``, ``flagged``)."""
    gap = entry.get("max_gap") if isinstance(entry.get("max_gap"), dict) else {}
    between = gap.get("between") if isinstance(gap.get("between"), list) else []
    counted = entry.get("n_groups", 0)
    missing = int(entry.get("missing") or 0)
    if is_number(gap.get("value")):
        gap_text = f"{_num(gap['value'])} [{_num(gap.get('lb95'))}, {_num(gap.get('ub95'))}]"
    else:
        gap_text = "n/a (fewer than two groups with cases)"
    return {"suite": suite, "slice": f"{name} ({to_text(entry.get('field'))})", "gap": gap_text,
            "highest": _group_text(entry, between[0]) if len(between) == 2 else "n/a",
            "lowest": _group_text(entry, between[1]) if len(between) == 2 else "n/a",
            "groups": f"{counted}" + (f" (+{missing} without a value)" if missing else ""),
            "flagged": "yes" if is_number(gap.get("lb95")) and gap["lb95"] > 0 else ""}


def rows(suites: dict[str, Any]) -> list[dict[str, str]]:
    """Every slice of the report as display rows (the HTML table's)."""
    return [row(suite, name, entry) for suite, name, entry in sliced(suites)]


def markdown_rows(suites: dict[str, Any]) -> list[str]:
    """The Markdown table's rows; a gap whose interval excludes 0 is marked."""
    out = []
    for r in rows(suites):
        mark = " \u26a0\ufe0f" if r["flagged"] else ""
        out.append(f"| {md_cell(r['suite'])} | {md_cell(r['slice'])} | {md_cell(r['gap'])}{mark} | "
                   f"{md_cell(r['highest'])} | {md_cell(r['lowest'])} | {md_cell(r['groups'])} |")
    return out


def terminal_lines(suites: dict[str, Any]) -> list[str]:
    """``slices SUITE: segment gap 0.20 [0.10, 0.30] (pro 0.95 vs free 0.75, 2 groups); tags ...``,
    one line per sliced suite, its slices by largest gap first."""
    by_suite: dict[str, list[tuple[float, str]]] = {}
    for suite, name, entry in sliced(suites):
        gap = entry.get("max_gap") if isinstance(entry.get("max_gap"), dict) else {}
        between = gap.get("between") if isinstance(gap.get("between"), list) else []
        groups = entry.get("groups") if isinstance(entry.get("groups"), dict) else {}
        if is_number(gap.get("value")) and len(between) == 2:
            hi, lo = (groups.get(g) or {} for g in between)
            text = (f"{name} gap {_num(gap['value'])} [{_num(gap.get('lb95'))}, {_num(gap.get('ub95'))}] "
                    f"({to_text(between[0])} {_num(hi.get('rate'))} vs {to_text(between[1])} {_num(lo.get('rate'))}, "
                    f"{entry.get('n_groups')} groups)")
            by_suite.setdefault(suite, []).append((-float(gap["value"]), text))
        else:
            count = entry.get("n_groups", 0)
            by_suite.setdefault(suite, []).append(
                (1.0, f"{name} n/a ({count} group{'' if count == 1 else 's'} with cases)"))
    return [f"slices {suite}: " + "; ".join(text for _, text in sorted(parts)) for suite, parts in by_suite.items()]
