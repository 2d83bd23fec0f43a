"""``llmops diff BASE.json HEAD.json``: the Markdown eval diff of two JSON reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_llmops.report.diff import diff_reports
from pytest_llmops.report.load import load_report
from pytest_llmops.suites.faces import with_faces

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``llmops diff``."""
    parser.add_argument("base", type=Path)
    parser.add_argument("head", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown here instead of stdout")


def run(args: argparse.Namespace) -> int:
    """Print (or write) the diff; an unusable report raises
    :class:`~pytest_llmops.report.load.ReportLoadError`."""
    text = diff_reports(with_faces(load_report(args.base)), with_faces(load_report(args.head)))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0
