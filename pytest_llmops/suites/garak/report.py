"""Reading garak's report JSONL: per (probe, detector) counts and the judged attempts.

garak writes one JSON object per line. The entries used here (garak 0.17.x):

- ``{"entry_type": "eval", "probe", "detector", "passed", "fails", "nones", "total_evaluated"}``:
  one per probe and detector. ``passed`` counts outputs on which the detector did not fire
  (the subject resisted), ``fails`` those on which it fired, ``nones`` outputs the generator
  did not return.
- ``{"entry_type": "attempt", "status": 2, "seq", "probe_classname", "prompt", "outputs",
  "detector_results"}``: one per prompt once judged (status 1 is the same attempt before
  judging); ``detector_results`` maps a detector to one score per output, a hit being a
  score at or above the run's ``eval_threshold`` (0.5 unless configured).
- ``{"entry_type": "init", "garak_version"}`` and ``"start_run setup"`` (``run.eval_threshold``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_TEXT = 2000  # characters of a prompt or output kept in a record


class GarakReportError(ValueError):
    """The report file is missing, unreadable or holds no evaluation."""


@dataclass
class DetectorCounts:
    """garak's tally for one probe and detector."""

    detector: str
    passed: int
    fails: int
    nones: int
    total: int  # garak's total_evaluated: passed + fails

    def as_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "passed": self.passed, "fails": self.fails, "nones": self.nones,
                "total": self.total}


@dataclass
class ProbeResult:
    """Everything garak reported about one probe."""

    probe: str
    garak_version: str | None
    eval_threshold: float
    detectors: list[DetectorCounts] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(d.passed for d in self.detectors)

    @property
    def total(self) -> int:
        return sum(d.total for d in self.detectors)

    @property
    def nones(self) -> int:
        return sum(d.nones for d in self.detectors)


def _text(value: Any) -> str:
    """The text of a garak Message / Turn / Conversation as serialised in the report."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "turns" in value:
            return "\n".join(f"{t.get('role', '?')}: {_text(t.get('content'))}" for t in value["turns"])
        if "text" in value:
            return str(value.get("text") or "")
    return str(value)


def _attempt(entry: dict[str, Any], threshold: float) -> dict[str, Any]:
    outputs = [None if o is None else _text(o)[:MAX_TEXT] for o in entry.get("outputs") or []]
    results = entry.get("detector_results") or {}
    hits = {name: [s is not None and float(s) >= threshold for s in scores] for name, scores in results.items()}
    return {
        "seq": entry.get("seq"),
        "prompt": _text(entry.get("prompt"))[:MAX_TEXT],
        "outputs": outputs,
        "detector_results": results,
        "attack_succeeded": any(any(h) for h in hits.values()),
        "goal": entry.get("goal"),
    }


def parse_report_lines(lines: Iterable[str]) -> dict[str, ProbeResult]:
    """Probe name -> :class:`ProbeResult`, from the lines of a ``*.report.jsonl`` file."""
    version: str | None = None
    threshold = 0.5
    probes: dict[str, ProbeResult] = {}
    attempts: list[dict[str, Any]] = []

    def probe(name: str) -> ProbeResult:
        if name not in probes:
            probes[name] = ProbeResult(probe=name, garak_version=version, eval_threshold=threshold)
        return probes[name]

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GarakReportError(f"line {number} is not JSON: {exc}") from None
        kind = entry.get("entry_type")
        if kind == "init":
            version = entry.get("garak_version") or version
        elif kind == "start_run setup":
            version = entry.get("_config.version") or version
            threshold = float(entry.get("run.eval_threshold") or threshold)
        elif kind == "attempt" and str(entry.get("status")) == "2":
            attempts.append(entry)
        elif kind == "eval":
            probe(entry["probe"]).detectors.append(DetectorCounts(
                detector=entry["detector"], passed=int(entry.get("passed", 0)), fails=int(entry.get("fails", 0)),
                nones=int(entry.get("nones", 0)),
                total=int(entry.get("total_evaluated", entry.get("passed", 0) + entry.get("fails", 0)))))
    for entry in attempts:
        name = entry.get("probe_classname")
        if name in probes:
            probes[name].attempts.append(_attempt(entry, probes[name].eval_threshold))
    for result in probes.values():
        result.garak_version = result.garak_version or version
        result.attempts.sort(key=lambda a: int(a["seq"]) if str(a.get("seq", "")).isdigit() else 0)
    return probes


def parse_report(path: Path) -> dict[str, ProbeResult]:
    """Probe name -> :class:`ProbeResult`; raises :class:`GarakReportError` when unusable."""
    try:
        with path.open(encoding="utf-8") as handle:
            probes = parse_report_lines(handle)
    except OSError as exc:
        raise GarakReportError(f"cannot read garak's report {path}: {exc}") from None
    if not probes:
        raise GarakReportError(f"garak's report {path} has no evaluation (no 'eval' entry)")
    return probes
