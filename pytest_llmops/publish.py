"""What the controller leaves behind at the end of a run, all derived from the report JSON.

The report is written first, so a failure further down (a renderer, the gate file) never
loses what was computed. Then: the gate decision, HTML and Markdown renderings, the gate
artifact a deploy job checks, and the opt-in history line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmops.core.atomic import write_atomic
from pytest_llmops.report.html import render_html
from pytest_llmops.report.json_report import ReportBuilder
from pytest_llmops.report.markdown import render_markdown

REPORT_NAME = "llmops-report.json"
HTML_NAME = "llmops-report.html"
MARKDOWN_NAME = "llmops-report.md"
HISTORY_NAME = "history.jsonl"


@dataclass
class Published:
    """Paths written and the gate outcome, for the terminal summary and the exit status."""

    report: Path
    header: dict[str, Any] = field(default_factory=dict)  # the report without its cases
    html: Path | None = None
    markdown: Path | None = None
    gate_file: Path | None = None
    gate: Any = None  # a gates.GateResult
    problems: list[str] = field(default_factory=list)


def publish(builder: ReportBuilder, run: dict[str, Any], report_dir: Path, gate_config: Any = None,
            gate_env: str | None = None, history: bool = False) -> Published:
    """Write the report and everything rendered from it into ``report_dir``."""
    header = builder.header(run)
    gate = None
    if gate_config is not None and gate_env:
        from pytest_llmops.gates import evaluate_gate  # the gate modules: only when a gate is applied

        gate = evaluate_gate(header, gate_config, gate_env)
        header["gate"] = gate.to_dict()
    out = Published(report=builder.write(report_dir / REPORT_NAME, header), header=header, gate=gate)
    report_bytes = out.report.read_bytes()
    report = json.loads(report_bytes)
    if gate is not None:
        from pytest_llmops.gates import gate_artifact, write_gate_artifact  # as above: a gate was applied

        artifact = gate_artifact(gate, report, hashlib.sha256(report_bytes).hexdigest())
        out.gate_file = write_gate_artifact(report_dir / f"gate-{gate.env}.json", artifact)
    history_path = report_dir / HISTORY_NAME
    past: list[dict[str, Any]] = []
    if history:
        from pytest_llmops.report.history import append_history, read_history  # only with --llm-history

        append_history(history_path, report)
        past = read_history(history_path)
        out.problems.extend(past.warnings)
    try:
        out.html, out.markdown = render_files(report, report_dir, past or None)
    except Exception as exc:  # noqa: BLE001 - a renderer bug must not hide the JSON report or the gate
        # An earlier run's HTML or Markdown left beside this report would be read as this run's.
        stale = [path for path in (report_dir / HTML_NAME, report_dir / MARKDOWN_NAME) if path.exists()]
        for path in stale:
            path.unlink()
        out.html = out.markdown = None
        out.problems.append(f"rendering the HTML/Markdown report failed: {type(exc).__name__}: {exc}"
                            + (f" (the previous run's {', '.join(p.name for p in stale)} removed)" if stale else ""))
    return out


def render_files(report: dict[str, Any], directory: Path, history: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    """Write ``llmops-report.html`` and ``llmops-report.md`` for ``report`` into ``directory``."""
    # Both are rendered before either is written, so a renderer bug leaves neither file of this run.
    html, markdown = render_html(report, history=history), render_markdown(report)
    return write_atomic(directory / HTML_NAME, html), write_atomic(directory / MARKDOWN_NAME, markdown)




def junit_properties(report_header: dict[str, Any]) -> list[tuple[str, str]]:
    """Suite metrics (and the gate decision) as JUnit XML testsuite properties."""
    props: list[tuple[str, str]] = []
    for name, suite in report_header.get("suites", {}).items():
        for key in ("n", "passed", "failed", "errors"):
            props.append((f"llmops.{name}.{key}", str(suite.get(key))))
        for metric, value in suite.get("metrics", {}).items():
            if isinstance(value, dict) and "value" in value:
                props.append((f"llmops.{name}.{metric}", str(value["value"])))
                if isinstance(value.get("ci95"), list):
                    props.append((f"llmops.{name}.{metric}.ci95", f"{value['ci95'][0]},{value['ci95'][1]}"))
    gate = report_header.get("gate")
    if gate:
        props.append((f"llmops.gate.{gate['env']}", gate["decision"]))
    return props
