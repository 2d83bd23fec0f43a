"""Case records: put on the test report where a test ends, gathered on the controller.

A YAML case's record is built by its item (``suites/items.py``); a Python test that used the
``llm`` fixture gets one here from its subject's log. Either travels to the controller as a
JSON string attribute of the test report, so plain and xdist runs gather the same records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_llmops.core.baseline import BaselineWriter
from pytest_llmops.core.pricing import usage_fields
from pytest_llmops.providers.base import InfraError
from pytest_llmops.subject_factory import SUBJECT_KEY
from pytest_llmops.suites.items import CaseItem
from pytest_llmops.worker_groups import plain_nodeid

REPORT_ATTRIBUTE = "llmops_record"
ERROR_ATTRIBUTE = "llmops_infra_error"


def attach_record(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
                  relative_path: Callable[[Any], str], price_for: Callable[[str], Any] = lambda alias: None) -> None:
    """Put the case record on the report that ends the test (call, or a failed setup)."""
    record = item.record if isinstance(item, CaseItem) else None
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if not final:
        return
    if record is None:
        subject = item.stash.get(SUBJECT_KEY, None)
        if subject is None:
            return
        record = python_test_record(item, subject, call, report, relative_path, price_for)
    elif report.when == "call" and not report.passed and record.get("outcome") == "passed":
        # An exception after the checks passed (e.g. in a hook) still fails the case.
        record["outcome"] = "failed"
    if record.get("nodeid") == item.nodeid:
        # Not the ``@llm-<alias>`` xdist appends when models are grouped: the same report either way.
        record = {**record, "nodeid": plain_nodeid(item)}
    setattr(report, REPORT_ATTRIBUTE, json.dumps(record, ensure_ascii=False))
    if report.when == "call" and report.failed and record.get("outcome") == "error" \
            and record.get("subject") == "python":
        # An infra failure in a Python test's llm call: pytest shows it as ERROR (plugin.py's
        # pytest_report_teststatus), as the report does, never as a failed model answer.
        setattr(report, ERROR_ATTRIBUTE, True)


def record_of(report: pytest.TestReport) -> dict[str, Any] | None:
    """The record a test report carries, if any (on the controller, from any worker)."""
    data = getattr(report, REPORT_ATTRIBUTE, None)
    return json.loads(data) if data else None


def python_test_record(item: pytest.Item, subject: Any, call: pytest.CallInfo[None], report: pytest.TestReport,
                       relative_path: Callable[[Any], str],
                       price_for: Callable[[str], Any] = lambda alias: None) -> dict[str, Any]:
    """The record of a Python test that used the ``llm`` fixture, from its subject's log.

    Its tokens (and cost, at ``price_for(alias)``) are summed over every call the test made."""
    excinfo = call.excinfo
    if report.skipped:
        outcome = "skipped"
    elif excinfo is not None and isinstance(excinfo.value, InfraError):
        outcome = "error"
    else:
        outcome = "passed" if report.passed else ("error" if report.when == "setup" else "failed")
    rel = Path(relative_path(item.path))
    last = subject.log[-1] if subject.log else {}
    record: dict[str, Any] = {
        "id": item.name, "nodeid": item.nodeid, "suite": str(rel.with_suffix("")), "kind": "functional",
        "subject": "python", "model": subject.alias, "index": _line_of(item),
        "input": last.get("input"), "output": last.get("output"), "checks": [], "outcome": outcome,
        "cached": bool(subject.log) and all(g.get("cached") for g in subject.log),
        "generations": subject.log[-20:], "timings": {"total_s": round(report.duration, 6)},
        **usage_fields(subject.log, price_for(subject.alias)),
    }
    if excinfo is not None and outcome in ("failed", "error"):
        record["error"] = f"{excinfo.typename}: {str(excinfo.value)[:500]}"
    return record


def _line_of(item: pytest.Item) -> int:
    location = getattr(item, "location", None)
    return int(location[1] or 0) if location else 0


class BaselineCollector:
    """Hands records to the baseline writer under ``--llm-update-baseline`` (controller only)."""

    def __init__(self, directory: Path, kind_of: Callable[[str], Any]) -> None:
        self.directory = directory
        self._kind_of = kind_of
        self._writer: BaselineWriter | None = None

    def add(self, record: dict[str, Any]) -> None:
        """Store the record's entry when its kind keeps baselines."""
        entry = self._kind_of(record.get("kind", "")).baseline_entry(record)
        if entry is None:
            return
        if self._writer is None:
            self._writer = BaselineWriter(self.directory)
        header, case_entry = entry
        self._writer.add(record["suite"], header, record["id"], case_entry, bool(record.get("suite_complete")))

    def write(self) -> list[Path]:
        """Write every baseline gathered; the paths written."""
        return self._writer.write() if self._writer is not None else []
