"""One self-contained HTML file from the canonical JSON report.

No CDN, fonts, images or scripts from anywhere: inline CSS, inline SVG charts
(:mod:`pytest_llmops.report.charts`), and ``<details>`` elements for the per-case
drill-down, so the file works offline and as a CI artifact. The template is rendered with
autoescape on; model outputs only ever reach the page as escaped text.

Large reports stay usable: each suite shows at most ``max_cases_per_suite`` cases inline
(failures and errors first) and the page at most ``max_cases_total``; a note says how
many are left to the JSON report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmops.report import ab_table, charts, shift_table, slices_table
from pytest_llmops.report.agreement import agreement_block, agreement_line
from pytest_llmops.report.human_review import review_line
from pytest_llmops.report.comparison_table import compared_metrics
from pytest_llmops.report.faces import face_of, headline_metric, headline_text, lower_is_better
from pytest_llmops.report.usage_text import fmt_usd, run_usage, suite_usage_facts, usage_line
from pytest_llmops.report.markdown import (
    check_blocks, check_rank, fmt_metric, fmt_number, group_cases, interval, is_number, is_problem, problems_first,
    short_sha, totals, value_metrics,
)
from pytest_llmops.report.safe_text import strip_controls, to_text
from pytest_llmops.report.history import gated_trends, history_entry

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"
DEFAULT_CASES_PER_SUITE = 200
DEFAULT_CASES_TOTAL = 2000
MAX_OUTPUT_CHARS = 20000
MAX_INPUT_CHARS = 20000
MAX_EVIDENCE_CHARS = 4000
MAX_CONTEXTS = 10
# Plain text symbols (emoji need a colour-emoji font, which CI screenshots rarely have).
HTML_ICONS = {"pass": "\u2714", "passed": "\u2714", "ok": "\u2714", "fail": "\u2718", "failed": "\u2718",
              "block": "\u2718", "error": "\u2718", "inconclusive": "\u26a0", "warn": "\u26a0", "warning": "\u26a0",
              "missing": "?", "skip": "\u2013", "skipped": "\u2013"}
REPORT_FILE = "llmops-report.json"

_env: Any = None


def _environment() -> Any:
    """The jinja2 environment, created on first use (jinja2 is not imported at pytest start-up)."""
    global _env
    if _env is None:
        import jinja2  # jinja2: only when a template is rendered

        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
            autoescape=True,  # every {{ }} is escaped, whatever the file name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _env


def _text(value: Any, limit: int) -> str:
    text = strip_controls(to_text(value)) if isinstance(value, str) else (
        "" if value is None else json.dumps(value, ensure_ascii=False, default=str))
    if len(text) > limit:
        return text[:limit] + f"\u2026 ({len(text) - limit:,} more characters in {REPORT_FILE})"
    return text


def _messages(value: Any) -> list[dict[str, str]]:
    """A case input as ``[{role, content}]`` (chat messages, a prompt, or any JSON)."""
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return [{"role": to_text(m.get("role")) or "message", "content": _text(m.get("content"), MAX_INPUT_CHARS)}
                for m in value]
    if value is None:
        return []
    return [{"role": "input", "content": _text(value, MAX_INPUT_CHARS)}]


def _case_view(case: dict[str, Any]) -> dict[str, Any]:
    checks = []
    for check in case.get("checks") or []:
        if not isinstance(check, dict):
            continue
        checks.append({
            "name": to_text(check.get("name")),
            "passed": bool(check.get("passed")),
            "evidence": _text(check.get("evidence"), MAX_EVIDENCE_CHARS),
            "arg": _text(check.get("arg"), 500) if check.get("arg") is not None else "",
            "score": fmt_number(check.get("score")) if is_number(check.get("score")) else "",
        })
    outcome = to_text(case.get("outcome")) or "unknown"
    timings = case.get("timings") if isinstance(case.get("timings"), dict) else {}
    facts = []
    for key in ("model", "subject", "finish_reason", "input_tokens", "output_tokens", "prompt_version"):
        if case.get(key) not in (None, ""):
            facts.append((key, to_text(case.get(key))))
    if case.get("tokens_estimated"):
        facts.append(("tokens", "estimated from text"))
    cost = case.get("cost") if isinstance(case.get("cost"), dict) else None
    if cost is not None:
        facts.append(("cost", fmt_usd(cost.get("usd")) + (f" (saved {fmt_usd(cost.get('saved_usd'))})"
                                                         if cost.get("saved_usd") else "")))
    if case.get("cached") is not None:
        facts.append(("cached", "yes" if case.get("cached") else "no"))
    for key, value in timings.items():
        if is_number(value):
            facts.append((str(key), fmt_number(value)))
    contexts = case.get("contexts") if isinstance(case.get("contexts"), list) else []
    return {
        "id": to_text(case.get("id")),
        "outcome": outcome,
        "css": outcome if outcome in ("passed", "failed", "error", "skipped") else "unknown",
        "input": _messages(case.get("input")),
        "output": _text(case.get("output"), MAX_OUTPUT_CHARS) if case.get("output") is not None else None,
        "checks": checks,
        "failed_checks": sum(1 for c in checks if not c["passed"]),
        "error": _text(case.get("error"), MAX_EVIDENCE_CHARS) if case.get("error") else "",
        "contexts": [_text(c, 2000) for c in contexts[:MAX_CONTEXTS]],
        "contexts_more": max(0, len(contexts) - MAX_CONTEXTS),
        "facts": facts,
    }


def _select_cases(groups: dict[str, list[dict[str, Any]]], per_suite: int, total: int) -> dict[str, list[dict[str, Any]]]:
    """Per suite, the cases shown inline: problems first, within both caps (problems win the total)."""
    picked = {key: problems_first(cases)[:max(0, per_suite)] for key, cases in groups.items()}
    budget = max(0, total)
    chosen: dict[str, list[dict[str, Any]]] = {key: [] for key in picked}
    for wanted in (True, False):  # problems of every suite first, then passing cases
        for key, cases in picked.items():
            for case in cases:
                if budget <= 0:
                    break
                if is_problem(case) == wanted:
                    chosen[key].append(case)
                    budget -= 1
    return {key: problems_first(cases) for key, cases in chosen.items()}


def _gate_view(gate: Any) -> dict[str, Any] | None:
    if not isinstance(gate, dict):
        return None
    decision = to_text(gate.get("decision")).upper() or "UNKNOWN"
    checks = []
    for c in gate.get("checks") or []:
        if not isinstance(c, dict):
            continue
        status = to_text(c.get("status"))
        rank = check_rank(c)
        checks.append({
            "icon": HTML_ICONS.get(status.lower(), "\u2013"), "status": status or "?", "blocking": check_blocks(c), "rank": rank,
            "css": "bad" if rank == 0 else "warn" if rank == 1 else "",
            "check": to_text(c.get("check")), "suite": to_text(c.get("suite")), "metric": to_text(c.get("metric")),
            "condition": " ".join(x for x in (to_text(c.get("op")), fmt_number(c.get("threshold"))
                                                if c.get("threshold") is not None else "") if x),
            "value": fmt_number(c.get("value")), "bound": fmt_number(c.get("bound")),
            "reason": _text(c.get("reason"), 1000),
        })
    checks.sort(key=lambda c: c["rank"])
    return {
        "env": to_text(gate.get("env")) or "default",
        "decision": decision,
        "css": {"ALLOW": "allow", "BLOCK": "block"}.get(decision, "neutral"),
        "checks": checks,
        "blocking": sum(1 for c in checks if c["blocking"]),
        "warnings": [_text(w, 1000) for w in gate.get("warnings") or []],
    }


def _run_view(report: dict[str, Any]) -> dict[str, Any]:
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    models = [{"alias": to_text(m.get("alias")), "spec": to_text(m.get("spec")),
               "fingerprint": short_sha(m.get("fingerprint"))}
              for m in run.get("models") or [] if isinstance(m, dict)]
    env = run.get("env") if isinstance(run.get("env"), dict) else {}
    facts = [("started", to_text(run.get("started_at")) or "unknown"),
             ("git", short_sha(run.get("git_sha"))),
             ("pytest-llmops", to_text(run.get("plugin_version")) or "unknown")]
    if is_number(run.get("duration_s")):
        facts.append(("duration", f"{run['duration_s']:.1f} s"))
    for key in ("seed", "cache", "workers"):
        if run.get(key) not in (None, ""):
            facts.append((key, to_text(run.get(key))))
    usage = usage_line(run_usage(report))
    if usage:
        facts.append(("usage", usage))
    return {"models": models, "facts": facts,
            "env": [(str(k), to_text(v) if v is not None else "none") for k, v in env.items()]}


def _sample_series(suites: dict[str, Any]) -> dict[str, list[tuple[str, list[float]]]]:
    by_metric: dict[str, list[tuple[str, list[float]]]] = {}
    for name, suite in suites.items():
        for metric, data in ((suite.get("metrics") or {}).items() if isinstance(suite, dict) else ()):
            if isinstance(data, dict) and isinstance(data.get("samples"), list) and data["samples"]:
                by_metric.setdefault(str(metric), []).append((str(name), data["samples"]))
    return by_metric


def _history_points(report: dict[str, Any], history: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    entries = [h for h in history or [] if isinstance(h, dict) and isinstance(h.get("suites"), dict)]
    current = history_entry(report)
    if not entries or (entries[-1].get("started_at"), entries[-1].get("git_sha")) != (
            current.get("started_at"), current.get("git_sha")):
        entries.append(current)
    return entries


def _headline_rows(suites: dict[str, Any]) -> list[dict[str, Any]]:
    """One bar per suite: its kind's headline metric (rates in [0, 1] only; other headlines,
    such as latency percentiles, have charts of their own)."""
    rows = []
    for name, suite in suites.items():
        label, metric = headline_metric(suite)
        face = face_of(suite)
        if not isinstance(metric, dict) or face["unit"] or not ("ci95" in metric or metric.get("value") is None):
            continue
        value = metric.get("value") if is_number(metric.get("value")) else None
        rows.append({"label": f"{name} \u00b7 {label}", "value": value, "ci95": interval(metric),
                     "n": metric.get("n"), "lower_is_better": face["direction"] == "lower"})
    return rows


def _breakdown_charts(suites: dict[str, Any]) -> list[str]:
    """Per-group rates of a headline that has them (``by_category`` of an attack success rate, say)."""
    by_title: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for name, suite in suites.items():
        face = face_of(suite)
        label, metric = headline_metric(suite)
        groups = metric.get(face["breakdown"]) if face["breakdown"] and isinstance(metric, dict) else None
        if not isinstance(groups, dict):
            continue
        lower = face["direction"] == "lower"
        title = f"{label.capitalize()} per {face['breakdown'].removeprefix('by_')} (95% interval; " \
                f"{'lower' if lower else 'higher'} is better)"
        for group, data in groups.items():
            if isinstance(data, dict) and is_number(data.get("value")):
                by_title.setdefault((title, lower), []).append({"label": f"{name} \u00b7 {group}", "value": data["value"],
                                                       "ci95": interval(data), "n": data.get("n")})
    # Red bars where smaller is better (attack success), the default colour otherwise.
    return [charts.interval_bars(title, rows, color="#b91c1c" if lower else "#2563eb")
            for (title, lower), rows in by_title.items()]


def _number_at(point: dict[str, Any], suite: str, key: str) -> float | None:
    """A history entry's value of ``key`` for ``suite``, when it is a number."""
    entry = (point.get("suites") or {}).get(suite)
    value = entry.get(key) if isinstance(entry, dict) else None
    return float(value) if is_number(value) else None


def _charts(report: dict[str, Any], history: list[dict[str, Any]] | None) -> list[Any]:
    from markupsafe import Markup  # markupsafe comes with jinja2: only when HTML is rendered

    suites = {k: v for k, v in (report.get("suites") or {}).items() if isinstance(v, dict)}
    out = [charts.headline_chart(_headline_rows(suites))]
    out += _breakdown_charts(suites)

    for metric, series in _sample_series(suites).items():
        unit = "ms" if metric.endswith("_ms") else ("s" if metric.endswith("_s") else "")
        out.append(charts.cdf_chart(f"{metric}: cumulative distribution", series, unit=unit))

    deltas = []
    for name, suite in suites.items():
        for metric, data in ((suite.get("metrics") or {}).items()):
            delta = data.get("delta") if isinstance(data, dict) else None
            if isinstance(delta, dict) and is_number(delta.get("value")):
                better = (delta["value"] < 0) if lower_is_better(str(metric), suite) else (delta["value"] > 0)
                color = "#6b7280" if delta["value"] == 0 else ("#16a34a" if better else "#dc2626")
                deltas.append({"label": f"{name} \u00b7 {metric}", "value": float(delta["value"]),
                               "ci95": interval(delta), "color": color})
    if deltas:
        out.append(charts.delta_chart("Deltas vs. baseline (95% interval; green is better)", deltas))

    if history:
        points = _history_points(report, history)
        runs = [to_text(p.get("started_at"))[5:16].replace("T", " ") or short_sha(p.get("git_sha"), 7) for p in points]
        names: list[str] = list(points[-1].get("suites") or {})
        for p in reversed(points):
            names += [n for n in p.get("suites") or {} if n not in names]
        series = []
        for name in names:
            values = []
            for p in points:
                s = (p.get("suites") or {}).get(name)
                v = s.get("pass_rate") if isinstance(s, dict) else None
                values.append(float(v) if is_number(v) else None)
            series.append((name, values))
        out.append(charts.trend_chart(f"Pass rate per suite over the last {len(points)} runs", runs, series))
        out += [charts.trend_chart(f"{title} over the last {len(points)} runs ({why})", runs, series, low=low,
                                   high=high) for title, why, series, low, high in gated_trends(report, points)]
        gaps = [(f"{name} \u00b7 {key}", [_number_at(p, name, key) for p in points])
                for name in names for key in sorted({k for p in points for k in ((p.get("suites") or {}).get(name) or {})
                                                     if str(k).startswith("slices.")})]
        if gaps:  # bias slices (docs/slices.md): the largest gap between groups, run by run
            out.append(charts.trend_chart(f"Largest slice gap over the last {len(points)} runs", runs, gaps))
    return [Markup(svg) for svg in out]



def render_html(report: dict[str, Any], history: list[dict[str, Any]] | None = None, *,
                max_cases_per_suite: int = DEFAULT_CASES_PER_SUITE,
                max_cases_total: int = DEFAULT_CASES_TOTAL) -> str:
    """The whole HTML report as one string (write it with ``encoding="utf-8"``)."""
    suites = {str(k): v for k, v in (report.get("suites") or {}).items() if isinstance(v, dict)}
    groups = group_cases(report)
    shown = _select_cases(groups, max_cases_per_suite, max_cases_total)
    suite_views = []
    for index, name in enumerate(list(suites) + [k for k in groups if k not in suites]):
        suite = suites.get(name, {})
        cases = groups.get(name, [])
        metrics = suite.get("metrics") or {}
        problems = sum(1 for c in cases if is_problem(c))
        agreement = agreement_line(agreement_block(suite))  # autoescaped: plain text is safe here
        suite_views.append({
            "anchor": f"suite-{index}",
            "name": name,
            "kind": to_text(suite.get("kind")) or "?",
            "model": to_text(suite.get("model")) or (to_text(cases[0].get("model")) if cases else ""),
            "n": suite.get("n", len(cases)), "passed": suite.get("passed", "?"), "failed": suite.get("failed", "?"),
            "errors": suite.get("errors", "?"), "skipped": suite.get("skipped", 0),
            "pass_rate": fmt_metric(metrics.get("pass_rate")),
            "headline": headline_text(suite),
            "bad": bool(suite.get("failed") or suite.get("errors")),
            "metrics": [(m, fmt_metric(d, 3)) for m, d in value_metrics(metrics) if m != "pass_rate"]
            + [(m, f"{d['decision']}; \u0394 {fmt_metric(d['delta'], 3)}; McNemar p {fmt_number(d.get('p_value'))}")
               for m, d in compared_metrics(suite)]
            + suite_usage_facts(metrics)
            + ([("agreement", agreement)] if agreement else [])
            + ([("human review", reviewed)] if (reviewed := review_line(suite)) else []),
            "cases": [_case_view(c) for c in shown.get(name, [])],
            "case_count": len(cases),
            "problem_count": problems,
        })
    context = {
        "title": "LLM eval report",
        "gate": _gate_view(report.get("gate")),
        "totals": totals(report),
        "suite_count": len(suites),
        "run": _run_view(report),
        "charts": _charts(report, history),
        "suites": suite_views,
        "ab_rows": ab_table.rows(suites),
        "slice_rows": slices_table.rows(suites),
        "shift_rows": shift_table.rows(suites),
        "report_file": REPORT_FILE,
        "per_suite_cap": max_cases_per_suite,
    }
    return _environment().get_template(TEMPLATE_NAME).render(**context)


__all__ = ["render_html"]
