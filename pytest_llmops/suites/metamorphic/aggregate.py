"""The metamorphic suite's metrics, folded from its records alone (the same under xdist)."""

from __future__ import annotations

from typing import Any

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.kinds import Aggregator
from pytest_llmops.suites.metamorphic.perturbations import POSITIONS


class MetamorphicAggregator(Aggregator):
    """``violation_rate`` over decided cases; no-op, undecided and per-perturbation counts;
    ``position_gap`` for context-order families."""

    def __init__(self) -> None:
        self.n = 0
        self.violations = 0
        self.noop = 0
        self.undecided = 0
        self.noop_followups = 0
        self.by_perturbation: dict[str, list[int]] = {}
        self.positions: dict[str, list[int]] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Count one record: no-op skips, undecided cases, and decided cases by perturbation and position."""
        if record.get("outcome") == "skipped" and record.get("noop"):
            self.noop += 1
            return
        if record.get("outcome") not in ("passed", "failed"):
            return
        self.noop_followups += int(record.get("noop_followups") or 0)
        violated = record.get("violated")
        if violated is None:
            self.undecided += 1
            return
        self.n += 1
        self.violations += bool(violated)
        for name in dict.fromkeys(record.get("perturbations") or []):
            counts = self.by_perturbation.setdefault(name, [0, 0])
            counts[1] += 1
            counts[0] += bool(violated)
        for entry in record.get("gold_positions") or []:
            if entry.get("position") in POSITIONS and entry.get("correct") is not None:
                counts = self.positions.setdefault(entry["position"], [0, 0])
                counts[1] += 1
                counts[0] += bool(entry["correct"])

    def metrics(self) -> dict[str, Any]:
        """``violation_rate`` and the counts; per perturbation when there are several; ``position_gap``."""
        out: dict[str, Any] = {"violation_rate": rate_metric(self.violations, self.n),
                               "noop_skipped": self.noop, "undecided": self.undecided,
                               "noop_followups": self.noop_followups}
        if len(self.by_perturbation) > 1:
            out["violation_rate_by_perturbation"] = {name: rate_metric(v, n)
                                                     for name, (v, n) in sorted(self.by_perturbation.items())}
        if self.positions:
            accuracy = {p: rate_metric(*self.positions[p]) for p in POSITIONS if p in self.positions}
            values = [a["value"] for a in accuracy.values() if a["value"] is not None]
            out["position_gap"] = {"value": round(max(values) - min(values), 6) if len(values) > 1 else None,
                                   "by_position": accuracy,
                                   "n": min(a["n"] for a in accuracy.values())}
        return out
