"""Suite metrics of the drift kind, folded from records alone (so a report refolds).

A drift suite has one case (the comparison); its record carries the whole result under
``drift`` and the per-group pass counts of every logged interaction under ``slice_counts``
(``{field: {window: {group: [passed, n]}}}``). The metrics are the result itself, so gates
read ``input_shift.p_value``, ``output.refusal_rate.ub95`` and the like, plus ``slices``:
per sliced field (named by its last part: ``metadata.segment`` -> ``segment``), the current
window's groups.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.suites.kinds import Aggregator

from pytest_llmops.core.slices import slice_summary  # groups' intervals, the largest gap, its bounds


def summarize_slices(counts: dict[str, dict[str, dict[str, list[int]]]], window: str = "current",
                     names: dict[str, str] | None = None) -> dict[str, Any]:
    """``{name: summary}`` of each sliced field's groups in ``window``; ``names`` maps a slice's
    name to its path (the record's ``slice_by``), else a slice is named by its path's last part."""
    name_of = {path: name for name, path in (names or {}).items()}
    out: dict[str, Any] = {}
    for path, windows in sorted(counts.items()):
        groups = {g: (int(c[0]), int(c[1])) for g, c in (windows.get(window) or {}).items()}
        name = name_of.get(path) or path.rsplit(".", 1)[-1]
        out[name] = {**slice_summary(groups), "field": path, "window": window}
    return out


class DriftAggregator(Aggregator):
    """Keeps the first measured record's result (a drift suite has one case per model, all alike)."""

    def __init__(self) -> None:
        self.result: dict[str, Any] | None = None
        self.counts: dict[str, Any] = {}
        self.names: dict[str, str] = {}

    def add(self, record: dict[str, Any]) -> None:
        drift = record.get("drift")
        if self.result is None and isinstance(drift, dict):
            self.result = drift
            self.counts = record.get("slice_counts") or {}
            self.names = record.get("slice_by") or {}

    def metrics(self) -> dict[str, Any]:
        if self.result is None:
            return {}
        out = dict(self.result)
        if self.counts:
            out["slices"] = summarize_slices(self.counts, names=self.names)
        return out
