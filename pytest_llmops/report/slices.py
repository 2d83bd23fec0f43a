"""Bias slices of any suite, folded from its records alone (so refolds and shard merges agree).

A record names the fields its suite is sliced by in ``slice_by`` (``{"segment": "metadata.segment"}``:
the suite file's ``slices:`` and the run's ``--llm-slice``, put there when the record is made).
Each record is counted in the slice of every label it has at that path (a list such as ``tags``
puts it in several), as passed or failed by its kind's ``slice_outcome`` (outcome passed/failed
for most kinds; for metamorphic ones, whether the relation held); errors, skipped and undecided
cases take no part, and a counted case without a label at the path is counted as ``missing``.

The suite's metrics gain ``slices.<name>``: :func:`pytest_llmops.core.slices.slice_summary` of
the counts plus ``field`` (the path) and ``missing``, so a gate reads
``slices.segment.max_gap.ub95``.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.slices import slice_labels, slice_summary

Judge = Callable[[dict[str, Any]], "bool | None"]


def outcome_passed(record: dict[str, Any]) -> bool | None:
    """A case's pass (True) or fail (False) from its outcome; ``None`` for errors and skips."""
    outcome = record.get("outcome")
    return None if outcome not in ("passed", "failed") else outcome == "passed"


class SliceFold:
    """Per slice name: ``label -> [passed, n]`` over one suite's records, and the cases missing a label."""

    def __init__(self, judge: Judge | None = None) -> None:
        self.judge: Judge = judge or outcome_passed
        self.paths: dict[str, str] = {}
        self.counts: dict[str, dict[str, list[int]]] = {}
        self.missing: dict[str, int] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Count one record in the slices it names (a record naming none adds nothing)."""
        slice_by = record.get("slice_by")
        if not isinstance(slice_by, dict) or not slice_by:
            return
        passed = self.judge(record)
        for name, path in slice_by.items():
            name, path = str(name), str(path)
            self.paths.setdefault(name, path)
            counts = self.counts.setdefault(name, {})
            if passed is None:
                continue
            labels = slice_labels(record, path)
            if not labels:
                self.missing[name] = self.missing.get(name, 0) + 1
            for label in labels:
                cell = counts.setdefault(label, [0, 0])
                cell[0] += bool(passed)
                cell[1] += 1

    def metrics(self) -> dict[str, Any]:
        """``{"slices": {name: summary}}``, or nothing when no record named a slice."""
        if not self.paths:
            return {}
        out = {}
        for name in sorted(self.paths):
            summary = slice_summary({label: (p, n) for label, (p, n) in self.counts.get(name, {}).items()})
            out[name] = {"field": self.paths[name], "missing": self.missing.get(name, 0), **summary}
        return {"slices": out}
