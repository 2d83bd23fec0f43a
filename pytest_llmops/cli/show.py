"""``llmops show REPORT.json``: print a plain-text summary of a JSON report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_llmops.report.ab_table import terminal_lines as ab_lines
from pytest_llmops.report.agreement import agreement_block, agreement_line
from pytest_llmops.report.shift_table import terminal_lines as shift_lines
from pytest_llmops.report.faces import face_of, headline_text
from pytest_llmops.report.load import load_report
from pytest_llmops.report.slices_table import terminal_lines as slice_lines
from pytest_llmops.suites.faces import with_faces

__all__ = ["add_arguments", "run", "summary_table"]


def summary_table(report: dict[str, Any]) -> str:
    """A plain-text table of the suites in ``report``: one header line, then one line per suite
    (and under a suite with a candidate-vs-baseline agreement block, its line), then one line per
    prompt A/B candidate, then one line per suite with bias slices."""
    lines = [f"llmops report (plugin {report['run'].get('plugin_version')}, "
             f"models: {', '.join(m['alias'] for m in report['run'].get('models', []))})"]
    for name, suite in report.get("suites", {}).items():
        rate = suite["metrics"]["pass_rate"]
        shown = "n/a" if rate["value"] is None else f"{rate['value']:.3f} [{rate['ci95'][0]:.3f}, {rate['ci95'][1]:.3f}]"
        lines.append(f"  {name} ({suite['kind']}, {suite['model']}): {suite['passed']}/{suite['n']} passed, "
                     f"{suite['failed']} failed, {suite['errors']} errors; pass rate {shown}"
                     + (f"; {headline_text(suite)}" if face_of(suite)["headline"] != "pass_rate" else ""))
        agreement = agreement_line(agreement_block(suite))
        if agreement:
            lines.append("    " + agreement)
    lines.extend("  " + line for line in ab_lines(report.get("suites") or {}))
    lines.extend("  " + line for line in slice_lines(report.get("suites") or {}))
    lines.extend("  " + line for line in shift_lines(report.get("suites") or {}))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``llmops show``."""
    parser.add_argument("report", type=Path)


def run(args: argparse.Namespace) -> int:
    """Print the summary; an unusable report raises :class:`~pytest_llmops.report.load.ReportLoadError`."""
    print(summary_table(with_faces(load_report(args.report))))
    return 0
