"""Latency statistics for the report: summaries with order-statistic bounds, budgets, goodput, ratios.

A summary of one metric (``ttft_ms``...)::

    {"n", "mean", "std", "min", "max", "value" (the median), "ci95" (its 95% interval),
     "p50": {"value", "ub95", "lb95", "needs_n"}, "p90": ..., "p95": ..., "p99": ...,
     "samples": [...]}

``ub95`` is the distribution-free upper 95% bound of that percentile (an order statistic,
see :func:`pytest_llmops.core.stats.upper_bound_rank`); with fewer samples than ``needs_n`` it
is the string ``"inconclusive"`` and the percentile carries ``"inconclusive": true``, which
gates read as INCONCLUSIVE, never as a pass.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from pytest_llmops.core import stats
from pytest_llmops.suites.latency.workload import PERCENTILES, request_budget

INCONCLUSIVE = "inconclusive"


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def percentile_entry(values: Sequence[float], q: float) -> dict[str, Any]:
    """``{"value", "ub95", "lb95", "needs_n"}`` for the ``q``-quantile of ``values``."""
    needs = stats.min_samples_for_upper_bound(q)
    entry: dict[str, Any] = {"value": _r(stats.percentile(values, q)) if values else None, "needs_n": needs}
    upper = stats.quantile_upper_bound(values, q)
    lower = stats.quantile_lower_bound(values, q)
    entry["ub95"] = _r(upper) if upper is not None else INCONCLUSIVE
    entry["lb95"] = _r(lower) if lower is not None else INCONCLUSIVE
    if upper is None:
        entry["inconclusive"] = True
    return entry


def percentile_summary(values: Sequence[float], keep_samples: bool = True) -> dict[str, Any]:
    """n, mean, std, min, max, p50/p90/p95/p99 with bounds, and the raw samples."""
    values = [float(v) for v in values if v is not None]
    out: dict[str, Any] = {"n": len(values)}
    if values:
        out.update(mean=_r(statistics.fmean(values)), std=_r(statistics.stdev(values)) if len(values) > 1 else 0.0,
                   min=_r(min(values)), max=_r(max(values)))
    else:
        out.update(mean=None, std=None, min=None, max=None)
    # ``value``/``ci95``: the median with a distribution-free two-sided 95% interval (order
    # statistics at 97.5% each side), so diffs and PR comments show latency like other metrics.
    low = stats.quantile_lower_bound(values, 0.5, 0.975) if values else None
    high = stats.quantile_upper_bound(values, 0.5, 0.975) if values else None
    out["value"] = _r(stats.percentile(values, 0.5)) if values else None
    out["ci95"] = [_r(low), _r(high)] if low is not None and high is not None else None
    for name, q in PERCENTILES.items():
        out[name] = percentile_entry(values, q) if values else {"value": None, "ub95": INCONCLUSIVE,
                                                                "inconclusive": True}
    if keep_samples:
        out["samples"] = [_r(v) for v in values]
    return out


def meets(sample: dict[str, Any], limits: dict[str, float]) -> bool:
    """Whether one request is within every per-request limit (ITL: its largest gap)."""
    for metric, limit in limits.items():
        value = sample.get(metric)
        if metric == "itl_ms":
            value = max(value) if value else None
        if value is not None and value > limit:
            return False
    return True


def budget_checks(summaries: dict[str, dict[str, Any]], budgets: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """One row per budgeted percentile: met (ub95 within), exceeded (lb95 above) or inconclusive."""
    rows = []
    for metric, levels in sorted(budgets.items()):
        for name, limit in sorted(levels.items(), key=lambda kv: PERCENTILES[kv[0]]):
            entry = (summaries.get(metric) or {}).get(name) or {}
            upper, lower = entry.get("ub95"), entry.get("lb95")
            if isinstance(lower, (int, float)) and lower > limit:
                verdict = "exceeded"
            elif isinstance(upper, (int, float)) and upper <= limit:
                verdict = "met"
            else:
                verdict = INCONCLUSIVE
            rows.append({"metric": metric, "percentile": name, "budget_ms": limit, "value": entry.get("value"),
                         "ub95": upper, "lb95": lower, "verdict": verdict})
    return rows


def overall_verdict(rows: list[dict[str, Any]]) -> str | None:
    verdicts = {row["verdict"] for row in rows}
    if not verdicts:
        return None
    if "exceeded" in verdicts:
        return "exceeded"
    return INCONCLUSIVE if INCONCLUSIVE in verdicts else "met"


def goodput(samples: list[dict[str, Any]], budgets: dict[str, dict[str, float]], wall_s: float | None) -> dict[str, Any]:
    """The share of requests meeting every budget (Wilson CI), and good requests per second."""
    limits = request_budget(budgets)
    good = sum(meets(s, limits) for s in samples)
    out = stats.rate_metric(good, len(samples))
    out.update(good=good, limits_ms=limits)
    if wall_s:
        out["good_requests_per_s"] = _r(good / wall_s)
    return out


def ratio_of_medians(candidate: list[float], baseline: list[float], paired: bool, tolerance: float,
                     seed: int = 0) -> dict[str, Any]:
    """Candidate/baseline median ratio with a bootstrap 95% CI and a three-way decision.

    ``regressed`` when the whole CI is above ``1 + tolerance``; ``non-inferior`` when the
    whole CI is at or below it; ``inconclusive`` otherwise (never a pass).
    """
    candidate = [v for v in candidate if v is not None]
    baseline = [v for v in baseline if v is not None]
    if paired and len(candidate) != len(baseline):
        paired = False
    if len(candidate) < 2 or len(baseline) < 2:
        return {"value": None, "ci95": [None, None], "n": min(len(candidate), len(baseline)),
                "decision": INCONCLUSIVE, "note": "too few samples for a ratio"}
    ratio, low, high = stats.bootstrap_ratio_of_medians(candidate, baseline, paired=paired, seed=seed)
    limit = 1.0 + tolerance
    decision = "regressed" if low > limit else ("non-inferior" if high <= limit else INCONCLUSIVE)
    return {"value": _r(ratio), "ci95": [_r(low), _r(high)], "n": min(len(candidate), len(baseline)),
            "candidate_median": _r(statistics.median(candidate)), "baseline_median": _r(statistics.median(baseline)),
            "paired": paired, "tolerance": tolerance, "decision": decision}
