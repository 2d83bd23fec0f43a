"""`llmops gate REPORT.json --env ENV`: exit 0 allow, 1 block, 2 usage error."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any, Sequence

from pytest_llmops.gates.config import (
    ALLOW, BLOCK, FAIL, GATE_FILE, PASS, PYPROJECT, GateConfigError, load_gate_config,
)
from pytest_llmops.gates.evaluate import evaluate_gate, format_gate_table, gate_artifact, write_gate_artifact
from pytest_llmops.gates.approval import ApprovalError, find_approval, load_approvers
from pytest_llmops.report.load import ReportLoadError, read_report


def _gate_parser() -> argparse.ArgumentParser:
    """The parser of ``llmops gate`` (prog ``llmops gate``: usage errors name the command)."""
    parser = argparse.ArgumentParser(
        prog="llmops gate",
        description="Apply an environment's promotion gate to a JSON report. "
                    "Exit 0: allow; 1: block; 2: usage or configuration error.")
    parser.add_argument("report", type=Path, help="the JSON report (reports/llmops-report.json)")
    parser.add_argument("--env", required=True, help="environment in the gate file (dev, qa, prod, ...)")
    parser.add_argument("--config", type=Path, default=None,
                        help=f"gate file (default: ./{GATE_FILE}, else [tool.llmops] in ./{PYPROJECT})")
    parser.add_argument("--out", type=Path, default=None, help="write the gate artifact (JSON) here")
    parser.add_argument("--every-row", action="store_true",
                        help="list every passing check per suite (by default a check passing on several "
                             "suites is one line; what blocks is always listed first)")
    parser.add_argument("--require-approval", type=Path, default=None, metavar="PATH",
                        help="also require a signed manual approval of this report for --env (an approval "
                             "file, or a folder of them, from `llmops approve`); without one: BLOCK")
    parser.add_argument("--approvers", type=Path, default=None, metavar="FILE",
                        help="with --require-approval: 'NAME ed25519 PUBLIC_KEY' lines of who may approve")
    return parser


def _approval_row(args: argparse.Namespace, report_sha256: str, config_sha256: str) -> dict[str, Any]:
    """The gate row of the manual approval: PASS with who approved, or a blocking FAIL saying why."""
    found = find_approval(args.require_approval, load_approvers(args.approvers), args.env, report_sha256,
                          config_sha256)
    by = found.record.get("by") if found.record else None
    return {"check": "manual approval", "suite": None, "metric": "approval", "op": "==", "threshold": "signed",
            "value": by, "bound": None, "status": PASS if found.accepted else FAIL, "reason": found.reason,
            "blocking": not found.accepted}


def gate_main(argv: Sequence[str] | None = None) -> int:
    """``llmops gate REPORT.json --env ENV [--config PATH] [--out PATH]``: 0 allow, 1 block, 2 error."""
    parser = _gate_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse prints its usage message; --help exits 0
        return 0 if exc.code in (0, None) else 2
    if (args.require_approval is None) != (args.approvers is None):
        print("llmops gate: --require-approval and --approvers go together (the approval, and who may sign one)",
              file=sys.stderr)
        return 2
    try:
        report, data = read_report(args.report)
    except ReportLoadError as exc:
        print(f"llmops gate: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_gate_config(Path.cwd(), args.config)
        result = evaluate_gate(report, config, args.env)
        if args.require_approval is not None:
            row = _approval_row(args, hashlib.sha256(data).hexdigest(), config.sha256)
            result.checks.insert(0, row)
            if row["blocking"]:
                result.decision = BLOCK
        table = format_gate_table(result, every_row=args.every_row)
        artifact = gate_artifact(result, report, hashlib.sha256(data).hexdigest())
    except (GateConfigError, ApprovalError) as exc:
        print(f"llmops gate: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a report whose parts have the wrong shape: never an ALLOW
        print(f"llmops gate: {args.report}: not a report this version can read ({type(exc).__name__}: {exc}); "
              "it may be damaged or written by another version", file=sys.stderr)
        return 2
    print(table)
    if args.out is not None:
        try:
            write_gate_artifact(args.out, artifact)
        except OSError as exc:
            print(f"llmops gate: {args.out}: cannot write gate artifact: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0 if result.decision == ALLOW else 1
