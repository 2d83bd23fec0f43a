"""The ``llmops`` command: work with reports without re-running pytest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from pytest_llmops import __version__
from pytest_llmops.report.load import ReportLoadError, load_report


def summarize(report: dict[str, Any]) -> str:
    """A plain-text table of the suites in ``report``."""
    lines = [f"llmops report (plugin {report['run'].get('plugin_version')}, "
             f"models: {', '.join(m['alias'] for m in report['run'].get('models', []))})"]
    for name, suite in report.get("suites", {}).items():
        rate = suite["metrics"]["pass_rate"]
        shown = "n/a" if rate["value"] is None else f"{rate['value']:.3f} [{rate['ci95'][0]:.3f}, {rate['ci95'][1]:.3f}]"
        lines.append(f"  {name} ({suite['kind']}, {suite['model']}): {suite['passed']}/{suite['n']} passed, "
                     f"{suite['failed']} failed, {suite['errors']} errors; pass rate {shown}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmops", description="Work with pytest-llmops reports.")
    parser.add_argument("--version", action="version", version=f"pytest-llmops {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print a summary of a JSON report")
    show.add_argument("report", type=Path)
    report = commands.add_parser("report", help="render llmops-report.html and .md from a JSON report")
    report.add_argument("report", type=Path)
    report.add_argument("--out-dir", type=Path, default=None, help="where to write (default: beside the report)")
    report.add_argument("--history", type=Path, default=None, help="history.jsonl to chart the trend from")
    diff = commands.add_parser("diff", help="Markdown eval diff of two JSON reports")
    diff.add_argument("base", type=Path)
    diff.add_argument("head", type=Path)
    diff.add_argument("--out", type=Path, default=None, help="write the Markdown here instead of stdout")
    commands.add_parser("gate", help="apply a gate: llmops gate REPORT.json --env ENV (exit 0 allow, 1 block, "
                                     "2 usage error)", add_help=False)
    commands.add_parser("comment", help="publish a report in GitHub Actions: sticky PR comment, commit status, "
                                        "job summary (see llmops comment --help)", add_help=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gate":
        from pytest_llmops.cli.gate import gate_main

        return gate_main(argv[1:])
    if argv and argv[0] == "comment":
        from pytest_llmops.integrations.github import comment_main

        return comment_main(argv[1:])
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            print(summarize(load_report(args.report)))
        elif args.command == "report":
            from pytest_llmops.publish import render_files
            from pytest_llmops.report.history import read_history

            history = read_history(args.history) if args.history else None
            for line in getattr(history, "warnings", []):
                print(f"llmops: warning: {line}", file=sys.stderr)
            paths = render_files(load_report(args.report), args.out_dir or args.report.parent, history or None)
            print("\n".join(str(p) for p in paths))
        elif args.command == "diff":
            from pytest_llmops.report.diff import diff_reports

            text = diff_reports(load_report(args.base), load_report(args.head))
            if args.out:
                args.out.write_text(text, encoding="utf-8")
            else:
                print(text)
    except ReportLoadError as exc:
        print(f"llmops: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
