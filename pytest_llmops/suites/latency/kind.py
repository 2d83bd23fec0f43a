"""The ``latency`` suite kind: one case per prompt set, timed outside the engine.

A case is measured in its setup (``measure``), where a failure is recorded as an error:
the model is loaded first (load time is not latency), a few warm-up requests are
discarded, then ``requests`` measured requests run at each concurrency level. Nothing goes
through the response cache or the batcher. The case fails only when its own samples show
a budget clearly exceeded (the lower 95% bound of the percentile above the budget); the
suite's pooled metrics and the gate decide promotion. See ``docs/latency.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmops.core.baseline import BaselineError
from pytest_llmops.providers.base import Generation, GenerationRequest
from pytest_llmops.suites.kinds import (
    Aggregator,
    CaseRun,
    Evaluation,
    Fail,
    ReportFace,
    SuiteKind,
    metric_at,
    rate_summary,
)
from pytest_llmops.suites.latency.aggregate import LatencyAggregator
from pytest_llmops.suites.latency.summary import (
    budget_checks,
    overall_verdict,
    percentile_summary,
)
from pytest_llmops.suites.latency.workload import DEFAULT_ENV, parse_workload
from pytest_llmops.suites.suite_file import CaseSpec

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import SuiteSpec

_SUMMARIZED = ("ttft_ms", "tpot_ms", "e2e_ms")


def active_env(case: CaseRun) -> str:
    """The environment whose budgets apply: ``--llm-gate-env``, else dev."""
    return case.run.gate_env or DEFAULT_ENV


@dataclass(frozen=True)
class LatencyFace(ReportFace):
    """A latency suite's face: its p95 TTFT with the order-statistic upper bound."""

    def summary(self, metrics: dict[str, Any]) -> str:
        """``TTFT p95 707 ms (ub95 732, n=60)``; the pass rate when nothing was measured."""
        p95 = metric_at(metrics, self.headline)
        if isinstance(p95, dict) and isinstance(p95.get("value"), (int, float)):
            bound = p95.get("ub95")
            # ub95 is the string "inconclusive" below the samples a 95% bound needs.
            shown = f"{bound:.0f}" if isinstance(bound, (int, float)) else str(bound)
            samples = metric_at(metrics, self.headline.rsplit(".", 1)[0] + ".n")  # ttft_ms.n
            return f"{self.label} {p95['value']:.0f} {self.unit} (ub95 {shown}, n={samples})"
        return rate_summary("pass rate", metrics.get("pass_rate"))


class LatencyKind(SuiteKind):
    """See ``docs/latency.md`` for the YAML format and the definitions."""

    name = "latency"
    keep_whole = True  # a workload is measured as a whole, under its own concurrency
    extra_keys = frozenset({"workload", "concurrency", "budgets", "baseline"})
    face: ReportFace = LatencyFace(headline="ttft_ms.p95", label="TTFT p95", direction="lower", unit="ms",
                                   lower_is_better=("_ms",))

    # -- collection ------------------------------------------------------------------------
    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        if "cases" in data:
            raise fail("cases", "a latency suite's cases are its prompt sets ('workload.sets'), not a cases list")
        if suite.subject != "model":
            raise fail("subject", "latency suites time a model subject ('subject: model')")
        workload = parse_workload(data, suite.path, fail)
        line = getattr(data, "line", 1)
        cases = []
        for index, (name, prompts) in enumerate(workload["sets"].items()):
            case_data = {k: v for k, v in workload.items() if k != "sets"}
            case_data.update(set=name, prompts=prompts)
            cases.append(CaseSpec(id=name, index=index, line=line, input=prompts[0], vars={}, system=suite.system,
                                  checks=[], params=suite.params, tags=["latency", name], data=case_data))
        return cases

    def plan(self, case: CaseRun) -> list[GenerationRequest]:
        # Nothing for the engine to prefetch: latency requests are timed one by one in measure().
        return []

    # -- measuring ---------------------------------------------------------------------------
    def measure(self, case: CaseRun) -> dict[str, Any]:
        """Load the model, warm up and time every concurrency level (and the baseline's, if any)."""
        # the timing machinery (and, through the timers, torch or openai): only when a case is timed
        from pytest_llmops.suites.latency.runner import run_case
        from pytest_llmops.suites.latency.timers import timer_for

        data = case.case.data
        run = case.run
        # Other suites' bulk generation for this model happens now, not while we time.
        run.ensure_prefetched(case.alias)
        timer = timer_for(run.provider(case.alias), data["output_tokens"], data["fixed_output"])
        timer.load()
        baseline, stored = self._baseline(case, timer)
        result = run_case(timer, data, case.case.system, case.case.params, baseline)
        result["device"] = timer.device()
        if baseline is not None:
            result["baseline"] = {"source": f"model {run.baseline_alias}", "paired": True,
                                  "device": baseline.device(), "requests": result.pop("baseline_requests")}
        elif stored is not None:
            result["baseline"] = stored
        return result

    def _baseline(self, case: CaseRun, timer: Any) -> tuple[Any, dict[str, Any] | None]:
        """The baseline model's timer (interleaved), or the stored samples of ``--llm-baseline``."""
        from pytest_llmops.suites.latency.timers import timer_for  # as in measure: only when timing

        run = case.run
        data = case.case.data
        if run.baseline_alias:
            other = timer_for(run.provider(run.baseline_alias), data["output_tokens"], data["fixed_output"])
            other.load()
            return other, None
        if run.baseline_dir is None:
            return None, None
        stored = run.baseline_for(case.suite_name)
        provenance = stored.get("provenance") or {}
        if provenance.get("workload_sha256") != data["sha256"]:
            raise BaselineError(f"the stored baseline of {case.suite_name} was measured on another workload "
                                "(prompt sets or output length changed); rewrite it with --llm-update-baseline")
        here = timer.device().get("label")
        if provenance.get("device_label") and provenance["device_label"] != here:
            raise BaselineError(f"the stored baseline of {case.suite_name} was measured on "
                                f"{provenance['device_label']}, this run is on {here}: not comparable")
        entry = stored["cases"].get(case.case.id)
        if not isinstance(entry, dict) or not entry.get("requests"):
            raise BaselineError(f"the stored baseline of {case.suite_name} has no samples for case {case.case.id!r}")
        return None, {"source": f"stored {stored.get('written_at', '')}".strip(), "paired": False,
                      "device": {"label": provenance.get("device_label")}, "requests": entry["requests"]}

    # -- judging -----------------------------------------------------------------------------
    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        """Budget checks on the case's own samples; the timed run's fields for the record."""
        result: dict[str, Any] = measurement
        data = case.case.data
        env = active_env(case)
        budgets = data["budgets"].get(env, {})
        levels = result["levels"]
        primary = levels[min(levels, key=int)]
        summaries = {m: percentile_summary([r[m] for r in primary["requests"]], keep_samples=False)
                     for m in _SUMMARIZED}
        rows = budget_checks(summaries, budgets)
        checks = [{"name": f"budget {r['metric']}.{r['percentile']}", "passed": r["verdict"] != "exceeded",
                   "score": None, "arg": r["budget_ms"],
                   "evidence": f"{r['verdict']}: value {r['value']}, 95% bounds [{r['lb95']}, {r['ub95']}] "
                               f"vs budget {r['budget_ms']} ms"} for r in rows]
        first = result.get("first")
        # The first measured answer stands for the case in records and failure reports.
        shown = None if first is None else Generation(text=first.text, output_tokens=first.output_tokens,
                                                      finish_reason=first.finish_reason, seconds=first.end)
        latency = {k: v for k, v in result.items() if k != "first"}
        latency.update(set=data["set"], prompts=len(data["prompts"]), output_tokens=data["output_tokens"],
                       fixed_output=data["fixed_output"], warmup=data["warmup"], budget_env=env, budgets=budgets,
                       tolerance=data["tolerance"], workload_sha256=data["sha256"],
                       xdist_workers=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1),
                       case_budget=overall_verdict(rows))
        fields: dict[str, Any] = {
            "latency": latency, "output": first.text if first else None,
            "output_tokens": first.output_tokens if first else None,
            "finish_reason": first.finish_reason if first else None,
            "suite_complete": case.suite_complete,  # a partial run merges into a stored baseline
        }
        exceeded = [r for r in rows if r["verdict"] == "exceeded"]
        failure = "\n".join(f"{r['metric']} {r['percentile']}: lower 95% bound {r['lb95']} ms > budget "
                            f"{r['budget_ms']} ms ({env})" for r in exceeded)
        return Evaluation("failed" if exceeded else "passed", checks=checks, fields=fields, failure=failure,
                          shown=shown)

    def aggregator(self) -> Aggregator:
        return LatencyAggregator()

    # -- baselines ---------------------------------------------------------------------------
    def baseline_entry(self, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        latency = record.get("latency")
        if record.get("outcome") not in ("passed", "failed") or not isinstance(latency, dict):
            return None
        levels = latency.get("levels") or {}
        if not levels:
            return None
        primary = levels[min(levels, key=int)]
        device = latency.get("device") or {}
        header = {"kind": "latency", "model": record.get("model"), "workload_sha256": latency.get("workload_sha256"),
                  "dataset_sha256": latency.get("workload_sha256"), "device_label": device.get("label"),
                  "device": device, "output_tokens": latency.get("output_tokens"),
                  "concurrency": primary.get("concurrency")}
        return header, {"requests": [{k: r.get(k) for k in _SUMMARIZED} for r in primary["requests"]]}
