"""Run history: one compact JSON line per run; reading skips broken lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmops.report.history import append_history, history_entry, read_history
from pytest_llmops.core.stats import rate_metric


def report(started: str = "2026-01-01T00:00:00+00:00", passed: int = 9, gate: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "run": {"started_at": started, "git_sha": "abc123", "plugin_version": "0.1.0",
                "models": [{"alias": "m1", "spec": "echo:m1", "fingerprint": "f" * 64},
                           {"alias": "m2", "spec": "echo:m2", "fingerprint": "e" * 64}]},
        "suites": {
            "functional/qa": {"kind": "functional", "model": "m1", "n": 10, "passed": passed, "failed": 10 - passed,
                              "errors": 0, "metrics": {"pass_rate": rate_metric(passed, 10), "error_rate": rate_metric(0, 10)}},
            "adversarial/inj": {"kind": "adversarial", "model": "m1", "n": 20, "passed": 18, "failed": 1, "errors": 1,
                                "metrics": {"pass_rate": rate_metric(18, 19), "attack_success_rate": rate_metric(2, 20),
                                            "ttft_ms": {"value": 120.5, "samples": [1.0, 2.0]},
                                            "label": {"value": "not a number"}, "broken": {"value": float("nan")}}},
        },
        "cases": [{"id": "x", "suite": "functional/qa", "model": "m1", "outcome": "passed", "output": "big " * 1000}],
    }
    if gate is not None:
        data["gate"] = gate
    return data


def test_append_and_read(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "history" / "llmops-history.jsonl"  # the folder is created
    append_history(path, report(gate={"env": "prod", "decision": "BLOCK", "checks": [{"check": "x"}], "warnings": []}))
    append_history(path, report(started="2026-01-02T00:00:00+00:00", passed=10))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert all(" " not in line for line in lines)  # compact
    assert all(len(line) < 1000 for line in lines)  # no cases, no samples
    entries = read_history(path)
    assert entries.warnings == []
    assert [e["started_at"] for e in entries] == ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"]
    first = entries[0]
    assert first["git_sha"] == "abc123"
    assert first["models"] == ["m1", "m2"]
    assert first["gate"] == {"env": "prod", "decision": "BLOCK"}
    assert entries[1]["gate"] is None
    assert first["suites"]["functional/qa"] == {"pass_rate": 0.9, "n": 10, "errors": 0, "error_rate": 0.0}
    inj = first["suites"]["adversarial/inj"]
    assert inj["attack_success_rate"] == 0.1 and inj["ttft_ms"] == 120.5
    assert inj["pass_rate"] == round(18 / 19, 6) and inj["errors"] == 1
    assert "label" not in inj and "broken" not in inj  # non-numbers and NaN are left out
    assert entries[1]["suites"]["functional/qa"]["pass_rate"] == 1.0


def test_history_entry_matches_the_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    append_history(path, report())
    assert json.loads(path.read_text()) == json.loads(json.dumps(history_entry(report())))


def test_limit_keeps_the_last_entries(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    for day in range(60):
        append_history(path, report(started=f"run-{day:02d}"))
    entries = read_history(path)
    assert len(entries) == 50 and entries[0]["started_at"] == "run-10" and entries[-1]["started_at"] == "run-59"
    assert [e["started_at"] for e in read_history(path, limit=3)] == ["run-57", "run-58", "run-59"]
    assert read_history(path, limit=0) == []


def test_malformed_lines_are_skipped_with_warnings(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    append_history(path, report(started="one"))
    with open(path, "ab") as fh:
        fh.write(b"not json at all\n")
        fh.write(b"[1, 2, 3]\n")
        fh.write(b'{"started_at": "no suites"}\n')
        fh.write(b'{"suites": {"a": 1}}\n')
        fh.write(b"\xff\xfe broken utf-8\n")
        fh.write(b"\n   \n")  # blank lines are not warnings
        fh.write(b'{"started_at": "cut off mid-wri')  # a writer died here: no newline
    append_history(path, report(started="two"))  # starts on a fresh line
    entries = read_history(path)
    assert [e["started_at"] for e in entries] == ["one", "two"]
    assert len(entries.warnings) == 6
    assert all(str(path) in w and "skipped" in w for w in entries.warnings)
    assert any(":2: skipped, not valid JSON" in w for w in entries.warnings)
    assert any(":3: skipped, not a JSON object" in w for w in entries.warnings)
    assert any(":4: skipped, no 'suites' object" in w for w in entries.warnings)


def test_missing_file_is_an_empty_history(tmp_path: Path) -> None:
    entries = read_history(tmp_path / "nope.jsonl")
    assert entries == [] and entries.warnings == []


def test_history_feeds_the_trend_chart(tmp_path: Path) -> None:
    from pytest_llmops.report.html import render_html

    path = tmp_path / "h.jsonl"
    for day in range(1, 5):
        append_history(path, report(started=f"2026-01-0{day}T00:00:00+00:00", passed=5 + day))
    current = report(started="2026-01-05T00:00:00+00:00", passed=10)
    html = render_html(current, read_history(path))
    assert "Pass rate per suite over the last 5 runs" in html


def drift_report(day: int, p_value: float, unsupported: int) -> dict[str, Any]:
    """A nightly report of a drift suite whose gate looks at nested metrics."""
    share = rate_metric(unsupported, 100)
    gate_rows = [
        {"check": "drift/*: input_shift.p_value >= 0.01", "suite": "drift/traffic", "metric": "input_shift.p_value",
         "op": ">=", "threshold": 0.01, "value": p_value, "bound": p_value,
         "status": "PASS" if p_value >= 0.01 else "FAIL"},
        {"check": "drift/*: grounding.unsupported_share.ub95 <= 0.3", "suite": "drift/traffic",
         "metric": "grounding.unsupported_share.ub95", "op": "<=", "threshold": 0.3, "value": share["value"],
         "bound": share["ci95"][1], "status": "PASS" if share["ci95"][1] <= 0.3 else "FAIL"},
        {"check": "drift/*: pass_rate.lb95 >= 0.5", "suite": "drift/traffic", "metric": "pass_rate.lb95",
         "op": ">=", "threshold": 0.5, "value": 0.9, "bound": 0.8, "status": "PASS"},
    ]
    return {"schema_version": 1, "cases": [],
            "run": {"started_at": f"2026-10-{day:02d}T03:00:00+00:00", "git_sha": "abc123", "models": []},
            "suites": {"drift/traffic": {"kind": "drift", "n": 1, "passed": 1, "failed": 0, "errors": 0, "metrics": {
                "pass_rate": rate_metric(1, 1),
                "input_shift": {"p_value": p_value, "mmd2": 0.01, "n_reference": 1000},
                "grounding": {"unsupported_share": share}}}},
            "gate": {"env": "nightly", "decision": "ALLOW", "checks": gate_rows}}


def test_gated_nested_metrics_are_kept_and_charted(tmp_path: Path) -> None:
    import re

    from pytest_llmops.report.html import render_html

    entry = history_entry(drift_report(20, 0.0004, 12))["suites"]["drift/traffic"]
    assert entry["input_shift.p_value"] == 0.0004
    assert entry["grounding.unsupported_share.ub95"] == rate_metric(12, 100)["ci95"][1]  # what the gate compared
    assert entry["pass_rate.lb95"] == 0.8 and entry["pass_rate"] == 1.0
    assert "input_shift" not in entry  # a mapping without 'value' stays out, as before

    path = tmp_path / "history.jsonl"
    nights = [(20, 0.41, 8), (21, 0.2, 10), (22, 0.003, 20)]
    for day, p_value, bad in nights:
        append_history(path, drift_report(day, p_value, bad))
    html = render_html(drift_report(23, 0.0001, 30), read_history(path))
    title = "input_shift.p_value over the last 4 runs (gated: drift/*: input_shift.p_value &gt;= 0.01)"
    assert title in html
    assert "grounding.unsupported_share.ub95 over the last 4 runs" in html
    assert "pass_rate.lb95 over the last" not in html  # the pass rate has its own trend
    for day, p_value, _ in [*nights, (23, 0.0001, 0)]:
        assert re.search(rf"drift/traffic @ 10-{day} 03:00: {p_value:.3f}", html), day
