"""Run history: one compact JSON line per run, for trend charts.

Each line is ``{"started_at", "git_sha", "models": [alias, ...], "gate": {"env",
"decision"} | null, "suites": {name: {"pass_rate", "n", "errors", <metric>: value, ...}}}``.
Besides every metric with a top-level ``value``, a suite's entry keeps what the run's gate
compared, under the gate's own metric path (``input_shift.p_value``,
``slices.segment.max_gap.ub95``, ``grounding.unsupported_share.ub95``): whatever a gate
looks at, however deep in the metrics, has a trend.
Appending is one ``write`` to a file opened for append; reading keeps the last ``limit``
valid lines and skips broken ones (a crash mid-write, a merge conflict, a hand edit) with a
warning in the result's ``warnings`` instead of failing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List

class History(List[Dict[str, Any]]):
    """The entries read (oldest first), with ``warnings`` about the lines that were skipped."""

    def __init__(self, entries: Iterable[dict[str, Any]] = (), warnings: Iterable[str] | None = None) -> None:
        super().__init__(entries)
        self.warnings: list[str] = list(warnings or [])


def _number(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return None


def history_entry(report: dict[str, Any]) -> dict[str, Any]:
    """The history entry of ``report`` (a dict, not yet serialized)."""
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    gate = report.get("gate")
    suites: dict[str, dict[str, Any]] = {}
    for name, suite in (report.get("suites") or {}).items():
        if not isinstance(suite, dict):
            continue
        metrics = suite.get("metrics") if isinstance(suite.get("metrics"), dict) else {}
        rate = metrics.get("pass_rate") if isinstance(metrics.get("pass_rate"), dict) else {}
        entry: dict[str, Any] = {"pass_rate": _number(rate.get("value")), "n": suite.get("n"),
                                 "errors": suite.get("errors")}
        for metric, data in metrics.items():
            if metric != "pass_rate" and isinstance(data, dict) and "value" in data:
                value = _number(data.get("value"))
                if value is not None or data.get("value") is None:
                    entry[str(metric)] = value
        slices = metrics.get("slices") if isinstance(metrics.get("slices"), dict) else {}
        for slice_name, sliced in slices.items():  # each bias slice's largest gap, for its trend
            gap = sliced.get("max_gap") if isinstance(sliced, dict) else None
            if isinstance(gap, dict):
                entry[f"slices.{slice_name}.max_gap"] = _number(gap.get("value"))
        suites[str(name)] = entry
    for row in (gate.get("checks") or []) if isinstance(gate, dict) else []:
        if not isinstance(row, dict) or str(row.get("suite")) not in suites or not isinstance(row.get("metric"), str):
            continue
        value = _number(row.get("bound", row.get("value")))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            suites[str(row["suite"])].setdefault(row["metric"], value)
    return {
        "started_at": run.get("started_at"),
        "git_sha": run.get("git_sha"),
        "models": [m.get("alias") for m in run.get("models") or [] if isinstance(m, dict)],
        "gate": ({"env": gate.get("env"), "decision": gate.get("decision")} if isinstance(gate, dict) else None),
        "suites": suites,
    }


def append_history(path: Path, report: dict[str, Any]) -> None:
    """Append ``report``'s history entry to the JSON-lines file at ``path`` (created with its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(history_entry(report), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    with open(path, "a+b") as fh:
        # A previous writer that died mid-line left no newline: start on a fresh line so
        # only that broken line is lost, not this one too.
        fh.seek(0, 2)
        if fh.tell() > 0:
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                line = "\n" + line
        fh.write(line.encode("utf-8"))


def _valid(entry: Any) -> str | None:
    """Why ``entry`` is not a history entry, or ``None`` when it is."""
    if not isinstance(entry, dict):
        return "not a JSON object"
    if not isinstance(entry.get("suites"), dict):
        return "no 'suites' object"
    if not all(isinstance(s, dict) for s in entry["suites"].values()):
        return "a suite entry is not an object"
    return None


def read_history(path: Path, limit: int = 50) -> History:
    """The last ``limit`` valid entries of the history at ``path`` (oldest first).

    A missing file is an empty history. Lines that are not valid entries are skipped; the
    result's ``warnings`` lists each one (file and line number).
    """
    path = Path(path)
    warnings: list[str] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return History()
    except OSError as exc:
        return History([], [f"{path}: cannot read: {exc.strerror}"])
    entries: list[dict[str, Any]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            warnings.append(f"{path}:{number}: skipped, not valid JSON ({str(exc)[:80]})")
            continue
        problem = _valid(entry)
        if problem:
            warnings.append(f"{path}:{number}: skipped, {problem}")
            continue
        entries.append(entry)
    return History(entries[-limit:] if limit > 0 else [], warnings)


MAX_GATED_TRENDS = 12


def gated_trends(report: dict[str, Any], points: list[dict[str, Any]]
                 ) -> list[tuple[str, str, list[tuple[str, list[float | None]]], float, float]]:
    """``(metric, "gated: CHECK", series, low, high)`` for each metric the current gate compares
    (the pass rate aside, which has its own trend): ``input_shift.p_value``,
    ``slices.segment.max_gap.ub95``, ... as the history ``points`` kept them, one series per
    suite, on 0..1 when every value is a rate and on the values' range otherwise."""
    gate = report.get("gate") if isinstance(report.get("gate"), dict) else {}
    wanted: dict[str, dict[str, str]] = {}  # metric -> suite -> the check as written
    for row in gate.get("checks") or []:
        if isinstance(row, dict) and isinstance(row.get("metric"), str) and row.get("suite") is not None \
                and row["metric"] not in ("pass_rate", "pass_rate.lb95", "pass_rate.ub95"):
            wanted.setdefault(row["metric"], {}).setdefault(str(row["suite"]), str(row.get("check") or ""))
    out = []
    for metric, suites in list(wanted.items())[:MAX_GATED_TRENDS]:
        series = []
        for name in suites:
            values = [((p.get("suites") or {}).get(name) or {}).get(metric) for p in points]
            series.append((name, [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
                                  for v in values]))
        numbers = [v for _, values in series for v in values if v is not None]
        if not numbers:
            continue
        low, high = (0.0, 1.0) if all(0 <= v <= 1 for v in numbers) else (min(numbers), max(numbers))
        out.append((metric, "gated: " + "; ".join(dict.fromkeys(suites.values())), series, low,
                    high if high > low else low + 1.0))
    return out


__all__ = ["append_history", "gated_trends", "history_entry", "read_history", "History"]
