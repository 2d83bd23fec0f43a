"""Reading a finished JSON report back: the one loader the ``llmops`` commands share.

Standard library only: every ``llmops`` command imports this before doing anything else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmops.report import SCHEMA_VERSION
from pytest_llmops.report.run_marker import unfinished_run

__all__ = ["ReportLoadError", "load_report", "read_report"]


class ReportLoadError(Exception):
    """A report file that cannot be used; the message starts with the file's path."""


def read_report(path: Path) -> tuple[dict[str, Any], bytes]:
    """The report at ``path`` and the exact bytes it was parsed from.

    The bytes are returned because a gate artifact records the report's SHA-256: hashing
    a second read could hash a file rewritten in between.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        report = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise ReportLoadError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(report, dict) or report.get("schema_version") != SCHEMA_VERSION \
            or not isinstance(report.get("suites"), dict):
        raise ReportLoadError(f"{path}: not an llmops report with schema_version {SCHEMA_VERSION}")
    stale = unfinished_run(path, report, data)
    if stale is not None:
        # A killed later run left this earlier report in place: read as incomplete, never ALLOWed.
        run = report["run"] if isinstance(report.get("run"), dict) else {}
        incomplete = run.get("incomplete") if isinstance(run.get("incomplete"), list) else []
        report["run"] = {**run, "complete": False, "incomplete": [*incomplete, stale]}
    return report, data


def load_report(path: Path) -> dict[str, Any]:
    """The canonical JSON report at ``path``, checked to be one of this schema version.

    Raises :class:`ReportLoadError` naming the file when it cannot be read, is not JSON, or
    is not an llmops report.
    """
    return read_report(path)[0]
