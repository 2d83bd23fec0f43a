"""Suite metrics of the garak kind, folded from records on the controller (xdist-safe).

``garak_pass_rate``  {value, ci95 (Wilson, ours), n, passed, nones, source, note, by_detector}
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.kinds import Aggregator

NOTE = ("garak's own verdicts: share of garak's (attempt, detector) evaluations on which garak's detector "
        "did not fire; missing outputs ('nones') are left out")


class GarakAggregator(Aggregator):
    """``garak_pass_rate``: garak's passed / evaluated over a suite's records, per detector too."""

    def __init__(self) -> None:
        self.source: str | None = None
        self.by_detector: dict[str, list[int]] = {}  # detector -> [passed, total, nones]

    def add(self, record: dict[str, Any]) -> None:
        if record.get("outcome") not in ("passed", "failed") or "garak" not in record:
            return
        self.source = record.get("source") or self.source
        for row in record["garak"].get("detectors", []):
            cell = self.by_detector.setdefault(row["detector"], [0, 0, 0])
            cell[0] += int(row["passed"])
            cell[1] += int(row["total"])
            cell[2] += int(row.get("nones", 0))

    def metrics(self) -> dict[str, Any]:
        if not self.by_detector:
            return {}
        passed = sum(c[0] for c in self.by_detector.values())
        total = sum(c[1] for c in self.by_detector.values())
        return {"garak_pass_rate": {
            **rate_metric(passed, total), "passed": passed, "nones": sum(c[2] for c in self.by_detector.values()),
            "source": self.source, "note": NOTE,
            "by_detector": {name: {**rate_metric(p, t), "nones": n}
                            for name, (p, t, n) in sorted(self.by_detector.items())},
        }}
