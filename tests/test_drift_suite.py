"""The drift kind end to end through pytester, on small generated logs and the real embedder."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from drift_logs import START, write_log
from llmops_testutils import LlmProject
from pytest_llmops.report.html import render_html
from pytest_llmops.report.markdown import render_markdown

GATES = """
environments:
  dev:
    on_inconclusive: block
    checks:
      - "drift/*: input_shift.p_value >= 0.01"
      - "drift/*: output.refusal_rate.ub95 <= 0.10"
"""


def _suite(project: LlmProject, extra: str = "", current: str = "{from: 2026-10-09T08:00:00Z}") -> None:
    project.suite("evalsuites/drift/traffic", f"""
        kind: drift
        log: ../../logs/traffic.jsonl
        reference: {{to: 2026-10-09T08:00:00Z}}
        current: {current}
        checks: [{{refusal: false}}, not-empty]
        slices: [metadata.segment]
        sample: 150
        permutations: 300
        topics: 4
        {extra}
        """)
    project.write("llmops.yaml", GATES)


def test_a_planted_topic_shift_is_detected_and_blocks_the_gate(project: LlmProject) -> None:
    # 200 lines per window (one an hour: the split at hour 200); refund questions 2% -> 35%.
    write_log(project.path / "logs/traffic.jsonl", 400, seed=3, shift_after=200, refusal_after=0.25)
    _suite(project)
    result = project.run("--llm-model=echo:e", "--llm-gate-env=dev")
    result.assert_outcomes(xfailed=1)  # drift is a measurement, not a broken test
    assert result.ret == 1  # the gate blocks
    suite = project.report()["suites"]["drift/traffic"]
    metrics = suite["metrics"]
    shift = metrics["input_shift"]
    assert shift["p_value"] < 0.01 and shift["n_reference"] == 150 and shift["n_current"] == 150
    assert shift["effect_size"] > 0
    grown = metrics["topics"]["grown"][0]
    assert grown["share_current"] - grown["share_reference"] > 0.15
    assert sum("refund" in e.lower() or "charge" in e.lower() for e in grown["examples"]) >= 2
    refusals = metrics["output"]["refusal_rate"]
    assert refusals["value"] > 0 and refusals["ci95"][0] > 0 and refusals["p_value"] < 0.01
    assert metrics["windows"]["reference"]["n"] == 200 and metrics["windows"]["current"]["n"] == 200
    assert set(metrics["verdict"]["drifted"]) >= {"input_shift", "output.refusal_rate"}
    segments = metrics["slices"]["segment"]
    assert set(segments["groups"]) == {"free", "pro"}
    assert sum(g["n"] for g in segments["groups"].values()) == 200
    gate = json.loads((project.path / "reports" / "gate-dev.json").read_text())
    rows = {row["metric"]: row for row in gate["checks"]}
    assert gate["decision"] == "BLOCK"
    assert rows["input_shift.p_value"]["status"] == "FAIL"
    assert rows["output.refusal_rate.ub95"]["status"] == "FAIL"  # the increase's upper bound, 0.25 - 0.05

    # What moved is shown, not only stored: the terminal, Markdown (the PR comment) and HTML.
    assert any(line.startswith("moved drift/traffic: topic grew: ") for line in result.outlines)
    markdown = render_markdown(project.report())
    table = markdown.split("### What moved between the windows", 1)[1].split("\n### ", 1)[0]
    refusal_row = next(line for line in table.splitlines() if "output.refusal\\_rate" in line)  # Markdown-escaped
    assert "\u26a0" in refusal_row and "+" in refusal_row  # flagged, with its rise
    grew = next(line for line in table.splitlines() if "topic grew" in line)
    cells = [c.strip() for c in grew.split("|")]
    assert float(cells[4].rstrip("%")) > float(cells[3].rstrip("%")) + 15  # share current > reference
    assert any(word in grew.lower() for word in ("refund", "charge"))
    html = render_html(project.report())
    assert '<table id="shift">' in html and "output.refusal_rate" in html and "topic grew" in html


def test_the_same_traffic_in_both_windows_passes(project: LlmProject) -> None:
    write_log(project.path / "logs/traffic.jsonl", 400, seed=4)  # no shift anywhere
    _suite(project)
    result = project.run("--llm-model=echo:e", "--llm-model=echo:f", "--llm-gate-env=dev")
    result.assert_outcomes(passed=1)  # one item, whatever the number of models
    assert result.ret == 0
    metrics = project.report()["suites"]["drift/traffic"]["metrics"]
    assert metrics["input_shift"]["p_value"] >= 0.01
    assert metrics["verdict"]["drift"] is False


def test_windows_by_file_and_bad_lines_are_counted_not_fatal(project: LlmProject) -> None:
    write_log(project.path / "logs/old.jsonl", 120, seed=5)
    new = write_log(project.path / "logs/new.jsonl", 120, seed=6, shift_after=0, new_share=0.5)
    with new.open("a", encoding="utf-8") as handle:
        handle.write('{"timestamp": "2026-10-01", "messages": [], "answer": "x"}\n not json\n')
    project.suite("evalsuites/drift/files", """
        kind: drift
        reference: {file: ../../logs/old.jsonl}
        current: {file: ../../logs/new.jsonl}
        sample: 100
        permutations: 200
        topics: 3
        """)
    result = project.run("--llm-model=echo:e")
    result.assert_outcomes(xfailed=1)
    metrics = project.report()["suites"]["drift/files"]["metrics"]
    assert metrics["windows"]["current"]["n"] == 120 and metrics["windows"]["reference"]["n"] == 120
    assert metrics["log"]["bad_lines"] == 2
    assert any("new.jsonl:121: field 'timestamp': expected ISO 8601" in e for e in metrics["log"]["errors"])
    assert any("new.jsonl:122: not valid JSON" in e for e in metrics["log"]["errors"])
    assert metrics["input_shift"]["p_value"] < 0.01


def test_slices_are_parsed_as_in_every_suite_with_names_and_llm_slice(project: LlmProject) -> None:
    # The mapping form names a slice; --llm-slice adds one to every suite, this one included.
    write_log(project.path / "logs/traffic.jsonl", 400, seed=8, shift_after=200, refusal_after=0.3)
    _suite(project)
    suite = project.path / "evalsuites/drift/traffic.eval.yaml"
    suite.write_text(suite.read_text().replace("slices: [metadata.segment]", "slices: {tier: metadata.segment}"))
    result = project.run("--llm-model=echo:e", "--llm-slice=subject=metadata.topic")
    result.assert_outcomes(xfailed=1)
    slices = project.report()["suites"]["drift/traffic"]["metrics"]["slices"]
    assert set(slices) == {"tier", "subject"}
    assert slices["tier"]["field"] == "metadata.segment" and set(slices["tier"]["groups"]) == {"free", "pro"}
    assert slices["subject"]["field"] == "metadata.topic" and slices["subject"]["window"] == "current"
    assert sum(g["n"] for g in slices["subject"]["groups"].values()) == 200  # every current-window line
    bad = project.run("--llm-model=echo:e", "--llm-slice=tier=metadata.topic")
    bad.assert_outcomes(errors=1)  # one name on two paths: the file's error, named
    assert "slices" in bad.stdout.str() and "tier" in bad.stdout.str()


@pytest.mark.parametrize("body, expected", [
    ("reference: {to: 2026-10-09}\ncurrent: {from: 2026-10-09}\n", "field 'reference': no log to read"),
    ("log: logs/traffic.jsonl\nreference: {to: 2026-10-09}\n", "field 'current': required"),
    ("log: logs/traffic.jsonl\nreference: {to: yesterday}\ncurrent: {from: 2026-10-09}\n", "field 'reference.to'"),
    ("log: logs/traffic.jsonl\nreference: {to: 2026-10-09}\ncurrent: {last: soon}\n", "field 'current.last'"),
    ("log: logs/nothere.jsonl\nreference: {to: 2026-10-09}\ncurrent: {from: 2026-10-09}\n", "does not exist"),
    ("log: logs/traffic.jsonl\nreference: {to: 2026-10-09}\ncurrent: {from: 2026-10-09}\nchecks: [nope]\n",
     "unknown check"),
])
def test_suite_file_mistakes_name_the_field(project: LlmProject, body: str, expected: str) -> None:
    write_log(project.path / "evalsuites/logs/traffic.jsonl", 10)
    project.write("evalsuites/bad.eval.yaml", "kind: drift\n" + body)
    result = project.run("--llm-model=echo:e", "evalsuites/bad.eval.yaml")
    result.assert_outcomes(errors=1)
    assert expected in result.stdout.str()


def test_last_window_is_the_newest_day(project: LlmProject) -> None:
    write_log(project.path / "logs/traffic.jsonl", 240, seed=7, hours=0.5)  # 5 days, 48 lines a day
    _suite(project, current="{last: 1d}")
    project.run("--llm-model=echo:e")
    metrics = project.report()["suites"]["drift/traffic"]["metrics"]
    current = metrics["windows"]["current"]
    assert current["n"] == 48
    assert current["last"] == (START + timedelta(hours=239 * 0.5)).isoformat()
