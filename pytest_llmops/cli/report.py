"""``llmops report REPORT.json``: render llmops-report.html and .md from a JSON report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_llmops.report.load import load_report
from pytest_llmops.suites.faces import with_faces
from pytest_llmops.report.history import read_history

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``llmops report``."""
    parser.add_argument("report", type=Path)
    parser.add_argument("--out-dir", type=Path, default=None, help="where to write (default: beside the report)")
    parser.add_argument("--history", type=Path, default=None, help="history.jsonl to chart the trend from")


def run(args: argparse.Namespace) -> int:
    """Render the files and print their paths; an unusable report raises
    :class:`~pytest_llmops.report.load.ReportLoadError`."""
    # Rendering pulls in the HTML templates and charts: imported here so `llmops report --help` stays quick.
    from pytest_llmops.publish import render_files

    history = read_history(args.history) if args.history else None
    for line in getattr(history, "warnings", []):
        print(f"llmops: warning: {line}", file=sys.stderr)
    paths = render_files(with_faces(load_report(args.report)), args.out_dir or args.report.parent, history or None)
    print("\n".join(str(p) for p in paths))
    return 0
