"""A marker beside the report while a run is on, so a killed run's folder is not read as finished.

``kill -9``, an out-of-memory kill or a lost CI runner ends a run before it can write anything:
the report left in the folder is the previous run's, complete and possibly ALLOWed, and a
later ``llmops gate`` step would read it as this run's. So a run that finds a report already
in its folder first writes ``.llmops-run-in-progress.json`` (its start time and pid) there and
removes it once its own report is written. A report read while a later run's marker is
present is treated as incomplete (``report/load.py``), and no gate ALLOWs it.

Standard library only: the report loader imports it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pytest_llmops.core.atomic import write_atomic

MARKER_NAME = ".llmops-run-in-progress.json"


def mark_run_started(report_dir: Path, started_at: str, report_name: str) -> Path | None:
    """Write the marker when ``report_dir`` already holds a report; the marker's path, or None.

    An unwritable folder is left to the end of the run, which reports it with the report itself.
    """
    if not (report_dir / report_name).exists():
        return None  # nothing there could be mistaken for this run's report
    marker = report_dir / MARKER_NAME
    try:
        return write_atomic(marker, json.dumps({"started_at": started_at, "pid": os.getpid()}))
    except OSError:
        pass
    try:
        marker.touch()  # a full disk: an empty file needs no data block, and still marks the run
        return marker
    except OSError:
        return None


def clear_run_marker(report_dir: Path, started_at: str) -> None:
    """Remove the marker once this run's report is written, unless a later run wrote it since."""
    marker = read_marker(report_dir)
    marked = str((marker or {}).get("started_at", "?"))
    if marker is not None and (marked == "?" or marked <= started_at):  # "?": unreadable, e.g. left empty
        try:
            (report_dir / MARKER_NAME).unlink()
        except OSError:
            pass


def read_marker(report_dir: Path) -> dict[str, Any] | None:
    """The marker in ``report_dir``; None when there is none (an unreadable one counts as present)."""
    path = report_dir / MARKER_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"started_at": "?", "pid": "?"}
    return data if isinstance(data, dict) else {"started_at": "?", "pid": "?"}


def unfinished_run(report_path: Path, report: dict[str, Any]) -> str | None:
    """Why ``report`` is not the newest run's: a run started after it (or at an unknown time)
    and did not finish writing its own report. None when no such run is marked."""
    marker = read_marker(Path(report_path).parent)
    if marker is None:
        return None
    report_started = str((report.get("run") or {}).get("started_at", ""))
    marker_started = str(marker.get("started_at", "?"))
    if marker_started != "?" and marker_started <= report_started:
        return None  # the marker is this report's own run (killed after writing it) or older
    return (f"a later run (started {marker_started}, pid {marker.get('pid', '?')}) did not finish: this report "
            f"is from an earlier run (started {report_started or 'at an unknown time'}); "
            f"{MARKER_NAME} in {Path(report_path).parent} marks it")
