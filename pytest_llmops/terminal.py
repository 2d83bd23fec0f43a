"""The ``llmops`` section of pytest's terminal summary: one row per suite, engine counters,
the files written and the gate table.

Every suite shows its kind's headline through the report face its kind declared (written into
the report's suite entry), so a kind from a plugin reads exactly as well as a built-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmops.provenance import EngineCounters
from pytest_llmops.report.ab_table import terminal_lines as ab_lines
from pytest_llmops.report.shift_table import terminal_lines as shift_lines
from pytest_llmops.report.faces import headline_text
from pytest_llmops.report.slices_table import terminal_lines as slice_lines
from pytest_llmops.report.usage_text import model_lines, run_usage, usage_line


def write_summary(tr: Any, suites: dict[str, Any], counters: EngineCounters, published: Any,
                  baselines_written: list[Path], run_failures: list[str]) -> None:
    """Write the section to pytest's terminal reporter ``tr``."""
    tr.section("llmops")
    width = max(len(name) for name in suites)
    tr.write_line(f"{'suite'.ljust(width)}  {'model':<12} {'n':>5} {'pass':>5} {'fail':>5} {'err':>4}  "
                  f"key metric [95% CI]")
    for name, suite in suites.items():
        tr.write_line(f"{name.ljust(width)}  {suite['model']:<12} {suite['n']:>5} {suite['passed']:>5} "
                      f"{suite['failed']:>5} {suite['errors']:>4}  {headline_text(suite)}{_judge_text(suite)}")
    for line in ab_lines(suites):
        tr.write_line(line, red=" WORSE " in line, green=" BETTER " in line)
    for line in slice_lines(suites):
        tr.write_line(line)
    for line in shift_lines(suites):
        tr.write_line(line)
    for alias, values in counters.items():
        tr.write_line(f"model {alias}: {int(values['generated'])} generated, {int(values['cache_hits'])} "
                      f"from cache, {int(values['infra_errors'])} infra errors")
    if published is None:
        return
    usage = run_usage(published.header)
    line = usage_line(usage)
    if line:
        tr.write_line(f"usage: {line}")
        for model_line in model_lines(usage):
            tr.write_line(f"  {model_line}")
    for problem in published.problems:
        tr.write_line(f"warning: {problem}", yellow=True)
    tr.write_line(f"report: {published.report}")
    for path in baselines_written:
        tr.write_line(f"baseline written: {path}")
    for failure in run_failures:
        tr.write_line(f"REGRESSION {failure}", red=True, bold=True)
    for extra in (published.html, published.markdown, published.gate_file):
        if extra is not None:
            tr.write_line(f"        {extra}")
    if published.gate is not None:
        from pytest_llmops.gates import format_gate_table  # the gate modules load only when a gate ran

        tr.section(f"llmops gate ({published.gate.env})")
        lines = format_gate_table(published.gate).splitlines()
        for line in lines[:-1]:
            tr.write_line(line)
        allowed = published.gate.decision == "ALLOW"
        tr.write_line(lines[-1], green=allowed, red=not allowed, bold=True)


def _judge_text(suite: dict[str, Any]) -> str:
    """``; judge errors 1/40 (2.5%)`` for a suite graded by a judge model, else nothing."""
    judge = (suite.get("metrics") or {}).get("judge")
    if not isinstance(judge, dict) or not judge.get("cases"):
        return ""
    errors, cases = int(judge.get("errors") or 0), int(judge["cases"])
    text = f"; judge errors {errors}/{cases} ({errors / cases:.0%})"
    if judge.get("repeats", 1) and int(judge.get("repeats") or 1) > 1:
        text += f", self-agreement {judge.get('self_agreement') or 0:.2f}"
    return text
