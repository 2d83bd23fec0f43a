"""The ``drift`` suite kind: one case per suite file, comparing two windows of a log.

Nothing is generated: the answers are the logged ones. The comparison runs in ``measure``
(setup) and its verdict in ``evaluate``: the case passes when no comparison drifted at the
file's ``alpha`` (Holm-adjusted over all of them), and otherwise fails as a measurement
(xfail, like a successful attack): drift is a finding, not a broken test, and the gates on
the suite's metrics decide. See ``docs/drift.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmops.providers.base import Generation, GenerationRequest
from pytest_llmops.suites.drift.aggregate import DriftAggregator
from pytest_llmops.suites.drift.spec import KEYS, parse_drift
from pytest_llmops.suites.kinds import Aggregator, CaseRun, Evaluation, Fail, ReportFace, SuiteKind, metric_at
from pytest_llmops.suites.suite_file import CaseSpec

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import SuiteSpec


@dataclass(frozen=True)
class DriftFace(ReportFace):
    """A drift suite's face: the input shift's p-value and effect size, and what drifted."""

    def summary(self, metrics: dict[str, Any]) -> str:
        """``input shift p=0.001 (effect 0.031, n=2000/2000); drifted: input_shift, output.refusal_rate``."""
        shift = metric_at(metrics, self.headline)
        if not isinstance(shift, dict) or shift.get("p_value") is None:
            return "input shift n/a"
        text = (f"input shift p={shift['p_value']:.3g} (effect {shift['effect_size']:.3g}, "
                f"n={shift['n_reference']}/{shift['n_current']})")
        drifted = metric_at(metrics, "verdict.drifted") or []
        return f"{text}; drifted: {', '.join(drifted)}" if drifted else f"{text}; no drift"


class DriftKind(SuiteKind):
    """See ``docs/drift.md`` for the YAML format and the statistics."""

    name = "drift"
    keep_whole = True  # one comparison over the whole log
    model_free = True  # reads logged answers: one case per file whatever the --llm-model list
    extra_keys = KEYS
    measured_case_cost = 0.0
    face: ReportFace = DriftFace(headline="input_shift", label="input shift", direction="lower",
                                 lower_is_better=("effect_size", "mmd", "refusal_rate", "non_english_rate"))

    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        spec = parse_drift(data, suite.path, registry, fail, suite.slices)
        line = getattr(data, "line", 1)
        return [CaseSpec(id="drift", index=0, line=line, input=None, vars={}, system=None, checks=[],
                         params=suite.params, tags=["drift"], data={"drift": spec})]

    def plan(self, case: CaseRun) -> list[GenerationRequest]:
        return []  # the answers are the logged ones

    def shown_input(self, case: CaseRun) -> Any:
        spec = case.case.data["drift"]
        rel = case.run.relative_path
        return f"reference {spec.reference.describe(rel)} vs current {spec.current.describe(rel)}"

    def measure(self, case: CaseRun) -> dict[str, Any]:
        """Scan the log and run every comparison (see :mod:`pytest_llmops.suites.drift.measure`)."""
        from pytest_llmops.suites.drift.measure import run_drift  # numpy, and torch for the embeddings

        context = {"case": case.case, "suite": case.suite, "contexts": None, "request": None,
                   "cache_dir": case.run.cache_dir, "cache_mode": getattr(case.run, "cache_mode", "rw")}
        return run_drift(case.case.data["drift"], case.run.registry.checks, context, case.run.relative_path)

    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        result = measurement["drift"]
        verdict = result["verdict"]
        checks = [{"name": name, "passed": p >= verdict["alpha"], "score": p, "arg": verdict["alpha"],
                   "evidence": f"{'p' if name == 'input_shift' else 'Holm-adjusted p'}={p:.3g} "
                               f"({'<' if p < verdict['alpha'] else '>='} {verdict['alpha']})"}
                  for name, p in verdict["adjusted_p"].items()]
        fields = {"drift": result, "slice_counts": measurement["slice_counts"],
                  "failures": measurement["failures"], "output": None}
        if not verdict["drift"]:
            return Evaluation("passed", checks=checks, fields=fields)
        failure = "drift at alpha {}: {}".format(verdict["alpha"], ", ".join(
            f"{n} (p={verdict['adjusted_p'][n]:.3g})" for n in verdict["drifted"]))
        return Evaluation("failed", checks=checks, fields=fields, failure=failure, measured=failure)

    def aggregator(self) -> Aggregator:
        return DriftAggregator()
