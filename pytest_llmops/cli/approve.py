"""``llmops approve REPORT.json --env ENV --by NAME``: sign a manual approval of one report.

``llmops approve --keygen PATH --by NAME`` makes an approver's key and prints the line to add
to the approvers file. Exit status: 0 approved (or key made); 1 the gate blocks this report for
ENV, so there is nothing to approve; 2 a usage error, an unusable report, gate file or key.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Sequence

from pytest_llmops.gates.approval import ApprovalError, generate_key, load_signing_key, sign_approval, write_approval
from pytest_llmops.gates.config import BLOCK, GATE_FILE, GateConfigError, load_gate_config
from pytest_llmops.gates.evaluate import evaluate_gate
from pytest_llmops.report.load import ReportLoadError, read_report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmops approve",
        description="Sign a manual approval of a report for an environment. The approval names the SHA-256 of "
                    "the report and of the gate file; `llmops gate --require-approval` accepts only a matching "
                    "one signed by a listed approver.")
    parser.add_argument("report", type=Path, nargs="?", help="the JSON report you reviewed")
    parser.add_argument("--env", help="the environment you approve promotion to (prod, ...)")
    parser.add_argument("--by", required=True, help="your name, as the approvers file lists it")
    parser.add_argument("--note", default="", help="what you checked, or conditions of the approval")
    parser.add_argument("--config", type=Path, default=None,
                        help=f"gate file (default: ./{GATE_FILE}, else [tool.llmops] in ./pyproject.toml)")
    parser.add_argument("--key", type=Path, default=None,
                        help="your private key file (default: the key text in $LLMOPS_APPROVAL_KEY)")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="approval file (default: approval-ENV-SHA12.json beside the report)")
    parser.add_argument("--keygen", type=Path, default=None, metavar="PATH",
                        help="instead: write a new private key to PATH and print its approvers-file line")
    return parser


def approve_main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmops approve``; see the module docstring for the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    try:
        if args.keygen is not None:
            public = generate_key(args.keygen)
            print(f"llmops approve: private key written to {args.keygen} (keep it secret); add this line to the "
                  f"approvers file:\n{args.by} {public}")
            return 0
        if args.report is None or not args.env:
            print("llmops approve: give the report and --env (or --keygen PATH)", file=sys.stderr)
            return 2
        report, data = read_report(args.report)
        config = load_gate_config(Path.cwd(), args.config)
        result = evaluate_gate(report, config, args.env)
        if result.decision == BLOCK:
            print(f"llmops approve: the {args.env} gate ({config.source}) blocks {args.report}; nothing to approve "
                  f"(see `llmops gate {args.report} --env {args.env}`)", file=sys.stderr)
            return 1
        sha = hashlib.sha256(data).hexdigest()
        record = sign_approval(report, sha, config.source, config.sha256, args.env, result.decision, args.by,
                               args.note, load_signing_key(args.key))
        out = args.out or args.report.with_name(f"approval-{args.env}-{sha[:12]}.json")
        write_approval(out, record)
    except (ReportLoadError, GateConfigError, ApprovalError) as exc:
        print(f"llmops approve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"llmops approve: cannot write {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"llmops approve: {args.by} approved {args.report} (sha256 {sha[:12]}) for {args.env}, "
          f"gate file {config.source} ({config.sha256[:12]}), key {record['signature']['key']} -> {out}")
    return 0
