"""Tokens and cost as text: the lines and table rows the terminal, Markdown, HTML, diff and PR
comment show, read from the report's ``run.usage`` and suite metrics (see report/usage.py).

Everything here returns plain text; callers neutralize it for Markdown where a report string
could reach it (model names, suite names), through :mod:`pytest_llmops.report.safe_text`.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_llmops.report.faces import is_number, metric_at
from pytest_llmops.report.safe_text import md_cell

USAGE_TABLE_HEAD = ("| suite | model | input tokens (p95) | output tokens (p95) | cost | saved by cache | per case |\n"
                    "| --- | --- | ---: | ---: | ---: | ---: | ---: |")
USAGE_DIFF_HEAD = ("| scope | measure | base | head | \u0394 | change |\n| --- | --- | ---: | ---: | ---: | --- |")
BETTER, WORSE, SAME = "\u2b06\ufe0f", "\u2b07\ufe0f", "\u27a1\ufe0f"


def fmt_usd(value: Any) -> str:
    """``$1,234.56`` from a dollar upwards, else three significant digits (``$0.0123``,
    ``$0.0000221``); ``n/a`` for a non-number."""
    if not is_number(value):
        return "n/a"
    amount = float(value)
    size = abs(amount)
    if size == 0:
        return "$0"
    if size >= 1:
        return f"${amount:,.2f}"
    decimals = -math.floor(math.log10(size)) + 2
    return "$" + f"{amount:.{decimals}f}".rstrip("0").rstrip(".")


def fmt_tokens(value: Any) -> str:
    if not is_number(value):
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def run_usage(report: dict[str, Any]) -> dict[str, Any] | None:
    """The report's ``run.usage``, or None."""
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    usage = run.get("usage")
    return usage if isinstance(usage, dict) else None


def usage_line(usage: dict[str, Any] | None) -> str | None:
    """``tokens 1,204 in / 310 out · cost $0.0012 (saved $0.0030 by the response cache)``."""
    if not isinstance(usage, dict):
        return None
    text = f"tokens {fmt_tokens(usage.get('input_tokens'))} in / {fmt_tokens(usage.get('output_tokens'))} out"
    if is_number(usage.get("cached_input_tokens")) and usage["cached_input_tokens"]:
        text += f" ({fmt_tokens(usage['cached_input_tokens'])} input tokens from the provider's prompt cache)"
    cost = usage.get("cost")
    if isinstance(cost, dict):
        text += f" \u00b7 cost {fmt_usd(cost.get('total'))}"
        if is_number(cost.get("saved")) and cost["saved"]:
            text += f" (saved {fmt_usd(cost['saved'])} by the response cache)"
    if is_number(usage.get("estimated_cases")) and usage["estimated_cases"]:
        text += f" \u00b7 estimated from text for {fmt_tokens(usage['estimated_cases'])} cases"
    return text


def model_lines(usage: dict[str, Any] | None) -> list[str]:
    """One :func:`usage_line` per model, when the run had more than one."""
    by_model = usage.get("by_model") if isinstance(usage, dict) else None
    if not isinstance(by_model, dict) or len(by_model) < 2:
        return []
    return [f"{model}: {usage_line(entry)}" for model, entry in by_model.items() if isinstance(entry, dict)]


def suite_usage_facts(metrics: Any) -> list[tuple[str, str]]:
    """``[("tokens", "in 1,204 (p95 130) · out 310 (p95 40)"), ("cost", "$0.0012 ...")]`` for a suite."""
    facts = []
    parts = []
    for name, label in (("input_tokens", "in"), ("output_tokens", "out")):
        summary = metric_at(metrics, name)
        if isinstance(summary, dict) and "total" in summary:
            parts.append(f"{label} {fmt_tokens(summary.get('total'))} (p95 {fmt_tokens(summary.get('p95'))})")
    if parts:
        facts.append(("tokens", " \u00b7 ".join(parts)))
    cost = metric_at(metrics, "cost")
    if isinstance(cost, dict) and "total" in cost:
        text = f"{fmt_usd(cost.get('total'))}; {fmt_usd(cost.get('per_case'))} per case"
        if is_number(cost.get("saved")) and cost["saved"]:
            text += f"; saved {fmt_usd(cost['saved'])} by the response cache"
        if cost.get("estimated"):
            text += f"; {cost['estimated']} cases estimated"
        facts.append(("cost", text))
    return facts


def usage_rows(suites: dict[str, Any]) -> list[str]:
    """Markdown rows (under :data:`USAGE_TABLE_HEAD`) for suites with tokens or a cost."""
    rows = []
    for name, suite in suites.items():
        metrics = suite.get("metrics") if isinstance(suite, dict) else None
        tokens = {key: metric_at(metrics, key) for key in ("input_tokens", "output_tokens")}
        tokens = {key: value for key, value in tokens.items() if isinstance(value, dict) and "total" in value}
        cost = metric_at(metrics, "cost")
        cost = cost if isinstance(cost, dict) and "total" in cost else None
        if not tokens and cost is None:
            continue
        cells = [f"{fmt_tokens(t.get('total'))} ({fmt_tokens(t.get('p95'))})" if t else "n/a"
                 for t in (tokens.get("input_tokens"), tokens.get("output_tokens"))]
        money = [fmt_usd(cost.get(k)) if cost else "n/a" for k in ("total", "saved", "per_case")]
        rows.append(f"| {md_cell(name, 120)} | {md_cell(suite.get('model'), 40)} | {cells[0]} | {cells[1]} | "
                    f"{' | '.join(money)} |")
    return rows


def _change(base: Any, head: Any, fmt: Any = fmt_tokens) -> tuple[str, str] | None:
    """``(delta, label)`` of a lower-is-better figure (the delta written with ``fmt``), or None
    without two numbers."""
    if not (is_number(base) and is_number(head)):
        return None
    delta = float(head) - float(base)
    if abs(delta) <= 1e-12:
        return "0", f"{SAME} unchanged"
    return ("+" if delta > 0 else "-") + fmt(abs(delta)), (f"{BETTER} better" if delta < 0 else f"{WORSE} worse")


def _row(scope: str, measure: str, base: Any, head: Any, fmt: Any, changed_only: bool = False) -> str | None:
    change = _change(base, head, fmt)
    if change is None or (changed_only and change[0] == "0"):
        return None
    return f"| {md_cell(scope, 120)} | {measure} | {fmt(base)} | {fmt(head)} | {change[0]} | {change[1]} |"


def _full_cost(cost: Any) -> Any:
    if isinstance(cost, dict) and is_number(cost.get("total")) and is_number(cost.get("saved")):
        return float(cost["total"]) + float(cost["saved"])
    return None


def usage_diff_rows(base: dict[str, Any], head: dict[str, Any], bsuites: dict[str, Any],
                    hsuites: dict[str, Any]) -> list[str]:
    """Rows (under :data:`USAGE_DIFF_HEAD`) of how cost and tokens changed from ``base`` to ``head``:
    the run's cost paid and at list prices (paid + saved by the cache, comparable whatever the
    cache held), its tokens, then each suite's cost per case and mean tokens per case where
    they changed."""
    bu, hu = run_usage(base) or {}, run_usage(head) or {}
    bcost, hcost = bu.get("cost"), hu.get("cost")
    candidates = [
        ("run", "cost paid", (bcost or {}).get("total"), (hcost or {}).get("total"), fmt_usd),
        ("run", "cost at list prices", _full_cost(bcost), _full_cost(hcost), fmt_usd),
        ("run", "input tokens", bu.get("input_tokens"), hu.get("input_tokens"), fmt_tokens),
        ("run", "output tokens", bu.get("output_tokens"), hu.get("output_tokens"), fmt_tokens),
    ]
    suite_rows: list[tuple[Any, ...]] = []
    for name, hsuite in hsuites.items():
        bsuite = bsuites.get(name)
        if not isinstance(bsuite, dict) or not isinstance(hsuite, dict):
            continue
        bm, hm = bsuite.get("metrics"), hsuite.get("metrics")
        suite_rows += [
            (name, "cost per case", metric_at(bm, "cost.per_case"), metric_at(hm, "cost.per_case"), fmt_usd),
            (name, "input tokens per case", metric_at(bm, "input_tokens.mean"), metric_at(hm, "input_tokens.mean"),
             fmt_tokens),
            (name, "output tokens per case", metric_at(bm, "output_tokens.mean"),
             metric_at(hm, "output_tokens.mean"), fmt_tokens),
        ]
    rows = [_row(*candidate) for candidate in candidates]
    rows += [_row(*candidate, changed_only=True) for candidate in suite_rows]
    return [row for row in rows if row is not None]


def cost_line(head: dict[str, Any], base: dict[str, Any] | None = None) -> str | None:
    """``💵 Cost: $0.0120 this run ($0.0300 at list prices); base $0.0100 (+0.002)`` for a PR comment."""
    hcost = (run_usage(head) or {}).get("cost")
    if not isinstance(hcost, dict):
        return None
    line = (f"\U0001f4b5 **Cost:** {fmt_usd(hcost.get('total'))} this run "
            f"({fmt_usd(_full_cost(hcost))} at list prices, {fmt_usd(hcost.get('saved'))} saved by the response cache)")
    bcost = (run_usage(base) or {}).get("cost") if base is not None else None
    if isinstance(bcost, dict):
        before, after = _full_cost(bcost), _full_cost(hcost)
        change = _change(before, after, fmt_usd)
        if change is not None:
            line += (f"; at list prices base {fmt_usd(before)} \u2192 head {fmt_usd(after)} "
                     f"({change[0]}, {change[1]})")
    return line
