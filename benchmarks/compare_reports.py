"""Compare two main-job reports case by case: the check that a refactor changed no behaviour.

    python benchmarks/compare_reports.py BEFORE.json AFTER.json

Compares the cases (matched by suite, model and id), their outcomes, outputs and every
record field except timings and run-dependent ones, then every suite's metrics. Greedy
decoding on CPU is exact, so everything compared must be equal. Also refolds AFTER's
metrics from its records alone (``pytest_llmops.report.refold``) and compares them with the
metrics the run wrote. Prints what differs and exits 1 if anything does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Fields that legitimately differ between two runs of the same code: wall-clock measurements,
# what the cache happened to hold, where the report was written, and how long a garak probe took.
VOLATILE_CASE_FIELDS = {"timings", "cached", "generations", "nodeid", "seconds"}
VOLATILE_METRIC_KEYS = {"samples"}  # latency samples are wall-clock
TIMED_KINDS = {"latency"}  # measured in wall-clock time: compared by shape only


def _strip(value: Any, volatile: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, volatile) for k, v in value.items() if k not in volatile}
    if isinstance(value, list):
        return [_strip(v, volatile) for v in value]
    return value


def _shape(value: Any) -> Any:
    """Keys and types only: for timed records and metrics, whose numbers are wall-clock."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Every difference between the two reports' cases and suite metrics, as lines."""
    problems: list[str] = []
    index = {(c["suite"], c["model"], c["id"]): c for c in before["cases"]}
    seen = set()
    for case in after["cases"]:
        key = (case["suite"], case["model"], case["id"])
        seen.add(key)
        old = index.get(key)
        if old is None:
            problems.append(f"new case {key}")
            continue
        if case.get("kind") in TIMED_KINDS:
            # A timed case's outcome depends on the machine's load (its budgets); its answer does not.
            for field in ("output",):
                if case.get(field) != old.get(field):
                    problems.append(f"{key}: {field} {old.get(field)!r} -> {case.get(field)!r}")
            if _shape(case) != _shape(old):
                problems.append(f"{key}: record fields changed")
            continue
        a, b = _strip(old, VOLATILE_CASE_FIELDS), _strip(case, VOLATILE_CASE_FIELDS)
        for field in sorted(set(a) | set(b)):
            if a.get(field) != b.get(field):
                problems.append(f"{key}: {field} {str(a.get(field))[:200]!r} -> {str(b.get(field))[:200]!r}")
    problems += [f"missing case {key}" for key in index if key not in seen]
    for name in sorted(set(before["suites"]) | set(after["suites"])):
        old, new = before["suites"].get(name), after["suites"].get(name)
        if old is None or new is None:
            problems.append(f"suite {name} only in {'after' if old is None else 'before'}")
            continue
        # A timed suite's pass/fail split follows its budgets, so the machine's load: only n is fixed.
        fields = ("kind", "model", "n") if old.get("kind") in TIMED_KINDS else \
            ("kind", "model", "n", "passed", "failed", "errors", "skipped")
        for field in fields:
            if old.get(field) != new.get(field):
                problems.append(f"suite {name}: {field} {old.get(field)!r} -> {new.get(field)!r}")
        if old.get("kind") in TIMED_KINDS:
            same = _shape(old["metrics"]) == _shape(new["metrics"])
        else:
            same = _strip(old["metrics"], VOLATILE_METRIC_KEYS) == _strip(new["metrics"], VOLATILE_METRIC_KEYS)
        if not same:
            problems.append(f"suite {name}: metrics differ")
    return problems


def refold_problems(report: dict[str, Any]) -> list[str]:
    """Suites whose metrics, folded again from the report's records, differ from the report's."""
    from pytest_llmops.report.refold import refold_suites
    from pytest_llmops.suites.builtins import default_registry
    from pytest_llmops.suites.kinds import kind_named

    registry = default_registry()
    refolded = refold_suites(report["cases"], lambda kind: kind_named(registry, kind))
    return [f"suite {name}: refolded metrics differ" for name, suite in report["suites"].items()
            if refolded.get(name, {}).get("metrics") != suite["metrics"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text(encoding="utf-8"))
    after = json.loads(args.after.read_text(encoding="utf-8"))
    problems = compare(before, after)
    refold = refold_problems(after)
    timed = sum(1 for c in after["cases"] if c.get("kind") in TIMED_KINDS)
    print(f"cases: {len(before['cases'])} before, {len(after['cases'])} after ({timed} timed, compared by shape); "
          f"suites: {len(before['suites'])} before, {len(after['suites'])} after")
    print(f"differences: {len(problems)}; suites whose refolded metrics differ: {len(refold)}")
    for line in problems + refold:
        print("  " + line)
    return 1 if problems or refold else 0


if __name__ == "__main__":
    sys.exit(main())
