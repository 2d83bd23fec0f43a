"""``llmops review import``: reviewers' label files into the report's ``human_review`` sections.

Labels already in the report (from an earlier import) are kept and the new files are added to
them, so reviewers can hand in their files one by one; ``replace`` starts afresh. The report is
rewritten atomically; a report that a run in progress (or a killed one) has superseded is
refused, since its sections would describe the wrong run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmops.core.atomic import write_atomic
from pytest_llmops.report.load import ReportLoadError, read_report
from pytest_llmops.report.run_marker import unfinished_run
from pytest_llmops.review.labels import Label, parse_label, read_label_file
from pytest_llmops.review.section import apply_review


@dataclass
class ImportResult:
    """What an import did: where it wrote, which lines it could not read, what it applied."""

    out: Path
    errors: list[str] = field(default_factory=list)
    block: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)


def _earlier_labels(report: dict[str, Any], where: str) -> list[Label]:
    block = report.get("human_review") if isinstance(report.get("human_review"), dict) else {}
    labels = []
    for number, raw in enumerate(block.get("labels") or [], start=1):
        try:
            labels.append(parse_label(raw, f"{where}: human_review.labels[{number}]"))
        except ValueError:
            continue  # the report's own copy was written by us; a damaged entry is dropped, not fatal
    return labels


def import_labels(report_path: Path, label_paths: list[Path], out: Path | None = None,
                  default_reviewer: str = "", replace: bool = False) -> ImportResult:
    """Read the label files, recompute every suite's ``human_review`` and write the report.

    Raises :class:`ReportLoadError` for a report that cannot be used; bad label lines are
    collected in ``errors`` while every good line is applied.
    """
    report, data = read_report(report_path)
    if unfinished_run(Path(report_path), json.loads(data.decode("utf-8")), data) is not None:
        raise ReportLoadError(f"{report_path}: a later run started in this folder and did not finish; "
                              "its labels would describe the wrong run (rerun, then import)")
    result = ImportResult(out=Path(out or report_path))
    labels = [] if replace else _earlier_labels(report, str(report_path))
    files = [] if replace else list((report.get("human_review") or {}).get("files") or [])
    for path in label_paths:
        found = read_label_file(path, default_reviewer)
        result.errors.extend(found.errors)
        labels.extend(found.labels)
        try:
            sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            sha = None
        files.append({"path": str(path), "sha256": sha, "labels": len(found.labels),
                      "errors": len(found.errors), "blank": found.skipped_blank})
    result.block = apply_review(report, labels, files)
    result.sections = {name: suite["human_review"] for name, suite in report["suites"].items()
                       if isinstance(suite, dict) and "human_review" in suite}
    write_atomic(result.out, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return result
