"""Suite metrics of the latency kind, folded from records on the controller (xdist-safe).

``ttft_ms``, ``tpot_ms``, ``e2e_ms``, ``itl_ms``   pooled over the suite's prompt sets at the
                                                 lowest concurrency level (summary.percentile_summary)
``throughput``      requests/s and output tokens/s at that level
``goodput``         share of requests meeting every budget of the active environment
``budget``          the environment's budgets: met / exceeded / inconclusive per percentile
``concurrency``     the sweep: per level requests/s, output tokens/s, goodput, percentiles
``by_set``          p50/p95 per prompt set (short, medium, long...)
``baseline_ratio``  candidate/baseline median ratios with bootstrap CIs, when compared
``device``, ``workload``   what was measured where
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.suites.kinds import Aggregator
from pytest_llmops.suites.latency.summary import (
    INCONCLUSIVE,
    budget_checks,
    goodput,
    overall_verdict,
    ratio_of_medians,
    percentile_summary,
)

_METRICS = ("ttft_ms", "tpot_ms", "e2e_ms")


class _Level:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.wall_s = 0.0
        self.tokens = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.requests.extend(entry.get("requests") or [])
        self.wall_s += float(entry.get("wall_s") or 0.0)
        self.tokens += sum(int(r.get("output_tokens") or 0) for r in entry.get("requests") or [])

    def throughput(self, concurrency: int) -> dict[str, Any]:
        wall = self.wall_s
        return {"concurrency": concurrency, "requests": len(self.requests), "wall_s": round(wall, 4),
                "requests_per_s": round(len(self.requests) / wall, 4) if wall > 0 else None,
                "output_tokens_per_s": round(self.tokens / wall, 4) if wall > 0 else None}


class LatencyAggregator(Aggregator):
    def __init__(self) -> None:
        self.levels: dict[int, _Level] = {}
        self.by_set: dict[str, list[dict[str, Any]]] = {}
        self.baseline: list[dict[str, Any]] = []
        self.candidate_paired: list[dict[str, Any]] = []
        self.baseline_info: dict[str, Any] = {}
        self.paired = True
        self.budgets: dict[str, dict[str, float]] = {}
        self.env: str | None = None
        self.tolerance = 0.10
        self.device: dict[str, Any] | None = None
        self.workload: dict[str, Any] = {}
        self.notes: set[str] = set()

    def add(self, record: dict[str, Any]) -> None:
        latency = record.get("latency")
        if record.get("outcome") not in ("passed", "failed") or not isinstance(latency, dict):
            return  # infra errors and skips are not measurements
        levels = {int(k): v for k, v in (latency.get("levels") or {}).items()}
        if not levels:
            return
        for level, entry in levels.items():
            self.levels.setdefault(level, _Level()).add(entry)
        primary = levels[min(levels)]
        self.by_set.setdefault(str(latency.get("set")), []).extend(primary.get("requests") or [])
        self.budgets = latency.get("budgets") or self.budgets
        self.env = latency.get("budget_env") or self.env
        self.tolerance = float(latency.get("tolerance", self.tolerance))
        self.device = self.device or latency.get("device")
        if latency.get("note"):
            self.notes.add(latency["note"])
        self.workload.setdefault("sets", []).append(latency.get("set"))
        for key in ("output_tokens", "fixed_output", "warmup", "xdist_workers"):
            self.workload[key] = latency.get(key)
        self.workload["requests_per_set"] = len(primary.get("requests") or [])
        baseline = latency.get("baseline")
        if isinstance(baseline, dict) and baseline.get("requests"):
            ours = primary.get("requests") or []
            theirs = baseline["requests"]
            self.paired = self.paired and bool(baseline.get("paired")) and len(ours) == len(theirs)
            self.candidate_paired.extend(ours)
            self.baseline.extend(theirs)
            self.baseline_info = {"source": baseline.get("source"), "device": baseline.get("device")}

    def metrics(self) -> dict[str, Any]:
        if not self.levels:
            return {}
        lowest = min(self.levels)
        primary = self.levels[lowest]
        out: dict[str, Any] = {}
        for metric in _METRICS:
            out[metric] = percentile_summary([r.get(metric) for r in primary.requests])
        out["itl_ms"] = percentile_summary([gap for r in primary.requests for gap in r.get("itl_ms") or []])
        out["output_tokens"] = percentile_summary([r.get("output_tokens") for r in primary.requests],
                                                  keep_samples=False)
        out["throughput"] = primary.throughput(lowest)
        out["goodput"] = {**goodput(primary.requests, self.budgets, primary.wall_s), "env": self.env}
        rows = budget_checks(out, self.budgets)
        out["budget"] = {"env": self.env, "verdict": overall_verdict(rows) or "none", "checks": rows}
        out["concurrency"] = {}
        for level, data in sorted(self.levels.items()):
            entry = data.throughput(level)
            entry["goodput"] = goodput(data.requests, self.budgets, data.wall_s)
            for metric in _METRICS:
                summary = percentile_summary([r.get(metric) for r in data.requests], keep_samples=False)
                entry[metric] = {k: summary[k] for k in ("n", "mean", "p50", "p90", "p95", "p99")}
            out["concurrency"][str(level)] = entry
        out["by_set"] = {name: {m: {p: percentile_summary([r.get(m) for r in reqs], keep_samples=False)[p]["value"]
                                    for p in ("p50", "p95")} for m in _METRICS}
                         for name, reqs in sorted(self.by_set.items())}
        if self.baseline:
            out["baseline_ratio"] = self._ratios()
        out["device"] = self.device
        out["workload"] = {**self.workload, "sets": sorted(s for s in self.workload.get("sets", []) if s),
                           "levels": sorted(self.levels), "notes": sorted(self.notes)}
        return out

    def _ratios(self) -> dict[str, Any]:
        ratios: dict[str, Any] = {**self.baseline_info, "paired": self.paired}
        decisions = []
        for metric in _METRICS:
            entry = ratio_of_medians([r.get(metric) for r in self.candidate_paired],
                                     [r.get(metric) for r in self.baseline], self.paired, self.tolerance)
            ratios[metric] = entry
            decisions.append(entry["decision"])
        if "regressed" in decisions:
            ratios["decision"] = "regressed"
        elif INCONCLUSIVE in decisions:
            ratios["decision"] = INCONCLUSIVE
        else:
            ratios["decision"] = "non-inferior"
        return ratios
