"""The ``llmops`` command: work with reports without re-running pytest.

:func:`main` only dispatches; each command lives in its own module and is imported only
when it runs, so ``llmops gate`` never loads the HTML renderer and ``llmops show`` never
loads the GitHub integration:

- ``show``, ``report`` and ``diff`` (:mod:`.show`, :mod:`.report`, :mod:`.diff`) add their
  arguments to this parser's subcommand (``add_arguments``) and run on the parsed
  namespace (``run``);
- ``gate``, ``comment``, ``issue``, ``review`` and ``approve`` (:mod:`.gate`, :mod:`.comment`,
  :mod:`.issue`, :mod:`.review`, :mod:`.approve`) own their whole parser and exit
  status (2 on a usage error, returned rather than raised), so they get the raw arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from pytest_llmops import __version__
from pytest_llmops.report.load import ReportLoadError

__all__ = ["main"]


def _top_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``llmops`` parser, and its subcommand parsers by name (still without their arguments)."""
    parser = argparse.ArgumentParser(prog="llmops", description="Work with pytest-llmops reports.")
    parser.add_argument("--version", action="version", version=f"pytest-llmops {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    subparsers = {
        "show": commands.add_parser("show", help="print a summary of a JSON report"),
        "report": commands.add_parser("report", help="render llmops-report.html and .md from a JSON report"),
        "diff": commands.add_parser("diff", help="Markdown eval diff of two JSON reports"),
    }
    # Listed for `llmops --help` only: main() hands their arguments to the command before parsing.
    commands.add_parser("gate", help="apply a gate: llmops gate REPORT.json --env ENV (exit 0 allow, 1 block, "
                                     "2 usage error)", add_help=False)
    commands.add_parser("comment", help="publish a report in GitHub Actions: sticky PR comment, commit status, "
                                        "job summary (see llmops comment --help)", add_help=False)
    commands.add_parser("issue", help="open, update or close the one GitHub issue of a scheduled evaluation "
                                      "from its gate (see llmops issue --help)", add_help=False)
    commands.add_parser("review", help="human review: `llmops review export REPORT.json` writes a review page; "
                                       "`llmops review import LABELS... --report REPORT.json` adds the labels",
                        add_help=False)
    commands.add_parser("approve", help="sign a manual approval of a report for an environment "
                                        "(see llmops approve --help)", add_help=False)
    commands.add_parser("merge", help="join --llm-shard reports into one: llmops merge SHARD.json... -o MERGED.json",
                        add_help=False)
    return parser, subparsers


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmops COMMAND ...`` and return its exit status (0 done, 2 a usage error or an unusable report)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None
    if command == "gate":
        # Loads the gates package (and PyYAML): only when gating.
        from pytest_llmops.cli.gate import gate_main

        return gate_main(argv[1:])
    if command == "comment":
        # Loads the GitHub integration (PyGithub when it publishes): only in `llmops comment`.
        from pytest_llmops.cli.comment import main as comment_main

        return comment_main(argv[1:])
    if command == "issue":
        # The GitHub integration (PyGithub): only in `llmops issue`.
        from pytest_llmops.cli.issue import main as issue_main

        return issue_main(argv[1:])
    if command == "review":
        # The review sampler, page renderer and agreement statistics: only in `llmops review`.
        from pytest_llmops.cli.review import review_main

        return review_main(argv[1:])
    if command == "approve":
        # The signing library (cryptography): only when approving.
        from pytest_llmops.cli.approve import approve_main

        return approve_main(argv[1:])
    if command == "merge":
        # The suite kinds' aggregators refold the shards' records: only when merging.
        from pytest_llmops.cli.merge import merge_main

        return merge_main(argv[1:])
    parser, subparsers = _top_parser()
    # The first word that is not an option names the command ("llmops -- show X" included).
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command == "show":
        # Imported only for `llmops show`, like every command module: --help and the others skip it.
        from pytest_llmops.cli import show as chosen
    elif command == "report":
        # The HTML and Markdown renderers sit behind this one.
        from pytest_llmops.cli import report as chosen
    elif command == "diff":
        # The Markdown diff renderer: only when diffing.
        from pytest_llmops.cli import diff as chosen
    else:
        chosen = None
    if chosen is not None:
        chosen.add_arguments(subparsers[command])
    args = parser.parse_args(argv)  # exits on --help, --version and usage errors, as argparse does
    if chosen is None:  # "llmops -- gate" parses (gate and comment take no arguments here): nothing to run
        return 0
    try:
        return chosen.run(args)
    except ReportLoadError as exc:
        print(f"llmops: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a report whose parts have the wrong shape
        # read_report checks the envelope; a field deeper in (a metric that is not a mapping,
        # a case that is not an object) surfaces while rendering. Name the files, not a traceback.
        files = ", ".join(str(value) for value in vars(args).values() if isinstance(value, Path))
        print(f"llmops {command}: {files}: not a report this version can read ({type(exc).__name__}: {exc}); "
              "it may be damaged or written by another version", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
