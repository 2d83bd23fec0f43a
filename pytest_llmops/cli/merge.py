"""``llmops merge SHARD.json... -o MERGED.json``: join ``--llm-shard`` reports into one exact report.

Exit status: 0 merged (the JSON, HTML and Markdown reports written); 2 shards that cannot be
merged (the message names the files and what differs) or a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from pytest_llmops.merging import MergeError, merge_reports


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmops merge",
        description="Merge the reports of `pytest --llm-shard K/N` runs: every suite's metrics are folded again "
                    "from the pooled records, so the result equals one run of the whole selection.")
    parser.add_argument("shards", type=Path, nargs="+", help="the shards' llmops-report.json files, one per shard")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the merged report (JSON)")
    parser.add_argument("--no-render", action="store_true", help="write only the JSON, not the HTML and Markdown")
    return parser


def merge_main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmops merge``; see the module docstring for the exit status."""
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    # Kinds (from the built-ins and installed plugins) fold the records; loaded only when merging.
    from pytest_llmops.suites.builtins import default_registry
    from pytest_llmops.suites.kinds import kind_named

    registry = default_registry()
    try:
        header = merge_reports(list(args.shards), args.out, lambda name: kind_named(registry, name))
    except MergeError as exc:
        print(f"llmops merge: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"llmops merge: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    written = [args.out]
    if not args.no_render:
        from pytest_llmops.publish import render_files
        from pytest_llmops.report.load import load_report
        from pytest_llmops.suites.faces import with_faces

        written += render_files(with_faces(load_report(args.out)), args.out.parent, None)
    run = header["run"]
    print(f"llmops merge: {len(run['shards'])} shards, {len(header['suites'])} suites"
          + ("" if run["complete"] else " (INCOMPLETE: " + "; ".join(run["incomplete"]) + ")"))
    print("\n".join(str(path) for path in written))
    return 0
