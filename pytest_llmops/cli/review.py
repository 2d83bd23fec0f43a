"""``llmops review export`` and ``llmops review import``: people's verdicts on sampled cases.

Exit status: 0 done; 1 import applied what it could but some label lines were bad; 2 a usage
error or an unusable report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from pytest_llmops.report.load import ReportLoadError, read_report
from pytest_llmops.review.export import FORMATS, export_id, review_items, write_export
from pytest_llmops.review.importing import import_labels
from pytest_llmops.review.sample import SampleSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmops review", description="Human review of a report's cases.")
    commands = parser.add_subparsers(dest="action", required=True)
    export = commands.add_parser(
        "export", help="write a review page (or JSONL / CSV) for a stratified sample of cases",
        description="Every failure and every regression flip, plus a seeded share of each suite's passes.")
    export.add_argument("report", type=Path, help="the JSON report (reports/llmops-report.json)")
    export.add_argument("--format", choices=FORMATS, default="html",
                        help="html: the self-contained review page (default); jsonl / csv: for spreadsheets")
    export.add_argument("-o", "--out", type=Path, default=None,
                        help="output file (default: llmops-review.FORMAT beside the report)")
    export.add_argument("--pass-share", type=float, default=0.2,
                        help="share of each suite's passing cases to include (0..1, default 0.2)")
    export.add_argument("--max-passes", type=int, default=None, help="at most this many passes per suite")
    export.add_argument("--seed", type=int, default=0, help="seed of the pass sample (default 0)")
    export.add_argument("--kinds", default=None,
                        help="comma-separated suite kinds to include (default: every kind but latency)")
    imp = commands.add_parser(
        "import", help="add reviewers' labels to the report as a human_review section per suite",
        description="Labels are matched by case content; labels for another output are reported as stale.")
    imp.add_argument("labels", type=Path, nargs="+", help="label files (JSON Lines from the page, or CSV)")
    imp.add_argument("--report", type=Path, required=True, help="the JSON report the labels are for")
    imp.add_argument("-o", "--out", type=Path, default=None, help="write the report here (default: in place)")
    imp.add_argument("--reviewer", default="", help="reviewer name for label lines that carry none")
    imp.add_argument("--replace", action="store_true", help="drop labels from earlier imports")
    return parser


def _run_export(args: argparse.Namespace) -> int:
    try:
        settings = SampleSettings(pass_share=args.pass_share, max_passes_per_suite=args.max_passes, seed=args.seed,
                                  kinds=frozenset(k.strip() for k in args.kinds.split(",") if k.strip())
                                  if args.kinds else None)
    except ValueError as exc:
        print(f"llmops review export: {exc}", file=sys.stderr)
        return 2
    report, data = read_report(args.report)
    items = review_items(report, settings)
    out = args.out or args.report.with_name(f"llmops-review.{args.format}")
    write_export(items, args.format, out, title=str(args.report), page_id=export_id(data, settings))
    reasons = {reason: sum(i["reason"] == reason for i in items) for reason in {i["reason"] for i in items}}
    shown = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items())) or "no reviewable case"
    print(f"llmops review export: {len(items)} cases ({shown}) -> {out}")
    return 0


def _describe(name: str, section: dict[str, Any]) -> str:
    coverage = section["coverage"]
    line = f"{name}: {coverage['labelled']}/{coverage['cases']} labelled"
    rate = section["human_pass_rate"]
    if rate["value"] is not None:
        line += f", human pass rate {rate['value']:.2f} [{rate['ci95'][0]:.2f}, {rate['ci95'][1]:.2f}]"
    kappa = section["kappa"]
    if kappa["value"] is not None:
        line += f", outcome kappa {kappa['value']:.2f}"
    fpr = section["false_pass_rate"]
    if fpr["value"] is not None:
        line += f", false-pass {fpr['value']:.2f} (n={fpr['n']})"
    return line


def _run_import(args: argparse.Namespace) -> int:
    result = import_labels(args.report, list(args.labels), args.out, args.reviewer, args.replace)
    for message in result.errors:
        print(f"llmops review import: {message}", file=sys.stderr)
    for name, section in result.sections.items():
        if section["coverage"]["labelled"]:
            print(_describe(name, section))
    block = result.block
    print(f"llmops review import: {block['applied']} labels applied, {block['stale']} stale "
          f"(listed under human_review.stale_listed) -> {result.out}")
    return 1 if result.errors else 0


def review_main(argv: Sequence[str] | None = None) -> int:
    """``llmops review export|import ...``; see the module docstring for the exit status."""
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    try:
        return _run_export(args) if args.action == "export" else _run_import(args)
    except ReportLoadError as exc:
        print(f"llmops review {args.action}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"llmops review {args.action}: cannot write {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a report whose parts have the wrong shape
        # read_report checks the envelope; a case that is not shaped like one surfaces here.
        # Name the file, not a traceback, and write nothing half-done (writes are atomic).
        print(f"llmops review {args.action}: {args.report}: not a report this version can read "
              f"({type(exc).__name__}: {exc}); it may be damaged or written by another version", file=sys.stderr)
        return 2
