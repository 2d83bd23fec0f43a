"""The prompt A/B table, for the terminal, Markdown (and the PR comment) and HTML.

One row per candidate variant and compared metric, read from the ``ab`` entry that
:mod:`pytest_llmops.report.ab` puts into each variant suite's metrics: reference -> candidate,
the delta with its 95% interval, the p-value (Holm-adjusted), the verdict and the flipped
cases. Where the variant suites have cost or token metrics, the candidate's first row shows
them next to the reference's, so quality and price are read together.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.report.faces import is_number, metric_at
from pytest_llmops.report.safe_text import md_cell, to_text

AB_TABLE_HEAD = ("| suite | variant vs reference | metric | reference \u2192 candidate | \u0394 [95% CI] | p (Holm) "
                 "| verdict | flipped cases | cost \u00b7 output tokens |\n"
                 "| --- | --- | --- | --- | --- | ---: | --- | --- | --- |")
VERDICT_ICONS = {"better": "\u2b06\ufe0f", "worse": "\u2b07\ufe0f", "inconclusive": "\u26a0\ufe0f"}
SHOWN_FLIPS = 5


def _num(value: Any, digits: int = 3) -> str:
    if not is_number(value):
        return "n/a"
    return f"{value:.{digits}g}" if value != 0 and abs(value) < 10 ** -digits else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    return f"{value:.3g}" if is_number(value) else "n/a"


def candidates(suites: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(suite key, ab entry)`` of every candidate variant (not the references), in report order."""
    out = []
    for key, suite in suites.items():
        ab = metric_at(suite.get("metrics") if isinstance(suite, dict) else None, "ab")
        if isinstance(ab, dict) and ab.get("decision") != "reference" and isinstance(ab.get("metrics"), dict):
            out.append((str(key), ab))
    return out


def flips_text(ab: dict[str, Any], shown: int = SHOWN_FLIPS) -> str:
    """``c3 \u2193, c7 \u2191 (+4 more)``: passed\u2192failed is \u2193, failed\u2192passed is \u2191."""
    listed = [f for f in ab.get("flipped") or [] if isinstance(f, dict)]
    flips = ab.get("flips") if isinstance(ab.get("flips"), dict) else {}
    total = int(flips.get("better") or 0) + int(flips.get("worse") or 0)
    if not total:
        return "none"
    parts = [f"{to_text(f.get('id'))} {chr(0x2193) if f.get('to') == 'failed' else chr(0x2191)}" for f in listed[:shown]]
    more = total - len(parts)
    return ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def usage_text(suites: dict[str, Any], key: str, ab: dict[str, Any]) -> str:
    """Reference \u2192 candidate cost and mean output tokens, where the variant suites have them."""
    def metrics_of(name: Any) -> Any:
        suite = suites.get(name) if isinstance(name, str) else None
        return suite.get("metrics") if isinstance(suite, dict) else None

    ref, cand = metrics_of(ab.get("reference_suite")), metrics_of(key)
    parts = []
    # Per case at list price (paid + saved): what a variant costs whether or not this run
    # had its answers cached or shared with another variant (an identical copy pays nothing).
    for path, label, prefix in (("cost.per_case", "cost per case", "$"), ("output_tokens.mean", "output tokens", "")):
        r, c = metric_at(ref, path), metric_at(cand, path)
        if is_number(r) or is_number(c):
            shown = [f"{prefix}{_num(v, 4)}" if is_number(v) else "n/a" for v in (r, c)]
            parts.append(f"{label} {shown[0]} \u2192 {shown[1]}")
    return "; ".join(parts)


def rows(suites: dict[str, Any], only: set[str] | None = None) -> list[dict[str, str]]:
    """The table as plain-text cells, one dict per (candidate, metric); ``only`` limits the candidates."""
    out = []
    for key, ab in candidates(suites):
        if only is not None and key not in only:
            continue
        metrics = [(str(n), m) for n, m in ab["metrics"].items() if isinstance(m, dict)]
        first = True
        if not metrics:  # nothing could be paired: still one row that says so
            metrics = [("-", {"verdict": ab.get("decision"), "reason": ab.get("decision_reason")})]
        for name, m in metrics:
            delta = m.get("delta") if isinstance(m.get("delta"), dict) else {}
            ci = delta.get("ci95") if isinstance(delta.get("ci95"), list) and len(delta["ci95"]) == 2 else [None, None]
            out.append({
                "suite": key, "variant": to_text(ab.get("variant")), "reference": to_text(ab.get("reference")),
                "decision": to_text(ab.get("decision")), "metric": name,
                "values": f"{_num(m.get('reference'))} \u2192 {_num(m.get('candidate'))}" if "reference" in m
                else to_text(m.get("reason")),
                "delta": f"{_num(delta.get('value'))} [{_num(ci[0])}, {_num(ci[1])}]" if delta else "n/a",
                "p": f"{_p(m.get('p_value'))} ({_p(m.get('p_holm'))})" if "p_value" in m else "n/a",
                "verdict": to_text(m.get("verdict")),
                "flipped": flips_text(ab) if first else "",
                "usage": usage_text(suites, key, ab) if first else "",
            })
            first = False
    return out


def markdown_rows(suites: dict[str, Any], only: set[str] | None = None) -> list[str]:
    """Rows of :data:`AB_TABLE_HEAD`, every report string neutralized."""
    return [f"| {md_cell(r['suite'], 100)} | {md_cell(r['variant'], 40)} vs {md_cell(r['reference'], 40)} "
            f"(**{md_cell(r['decision'], 20)}**) | {md_cell(r['metric'], 60)} | {md_cell(r['values'], 200)} | "
            f"{md_cell(r['delta'], 60)} | {md_cell(r['p'], 40)} | {VERDICT_ICONS.get(r['verdict'], '')} "
            f"{md_cell(r['verdict'], 20)} | {md_cell(r['flipped'], 300) or ' '} | {md_cell(r['usage'], 200) or ' '} |"
            for r in rows(suites, only)]


def terminal_lines(suites: dict[str, Any]) -> list[str]:
    """One short line per candidate for the terminal summary."""
    lines = []
    for key, ab in candidates(suites):
        parts = []
        for name, m in ab["metrics"].items():
            if isinstance(m, dict) and "p_value" in m:
                delta = m.get("delta") or {}
                ci = delta.get("ci95") or [None, None]
                parts.append(f"{name} {_num(m.get('reference'))} \u2192 {_num(m.get('candidate'))}, "
                             f"\u0394 {_num(delta.get('value'))} [{_num(ci[0])}, {_num(ci[1])}], "
                             f"p {_p(m.get('p_value'))} (Holm {_p(m.get('p_holm'))})")
        flips = ab.get("flips") if isinstance(ab.get("flips"), dict) else {}
        detail = "; ".join(parts) or to_text(ab.get("decision_reason"))
        lines.append(f"A/B {key} vs {to_text(ab.get('reference'))}: {to_text(ab.get('decision')).upper()} \u2014 "
                     f"{detail}; flips {int(flips.get('worse') or 0)} worse, {int(flips.get('better') or 0)} better"
                     + (f"; {usage}" if (usage := usage_text(suites, key, ab)) else ""))
    return lines


def _versions(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``(compared suite, model) -> {variant: prompt version}`` of a report's A/B suites."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for suite in (report.get("suites") or {}).values():
        ab = metric_at(suite.get("metrics") if isinstance(suite, dict) else None, "ab")
        if isinstance(ab, dict):
            group = (to_text(ab.get("suite")), to_text(suite.get("model")))
            out.setdefault(group, {})[to_text(ab.get("variant"))] = ab.get("prompt_version")
    return out


def changed_candidates(base: dict[str, Any], head: dict[str, Any]) -> set[str]:
    """Candidate suite keys of ``head`` whose comparison changed since ``base``: a variant's template
    (its ``prompt_version``) differs, a variant came or went, or the comparison is new."""
    before, after = _versions(base), _versions(head)
    changed = {group for group, versions in after.items() if before.get(group) != versions}
    suites = head.get("suites") or {}
    return {key for key, ab in candidates(suites)
            if (to_text(ab.get("suite")), to_text((suites.get(key) or {}).get("model"))) in changed}
