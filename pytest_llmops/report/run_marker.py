"""A marker beside the report while a run is on, so a killed run's folder is not read as finished.

``kill -9``, an out-of-memory kill or a lost CI runner ends a run before it can write anything:
the report left in the folder is the previous run's, complete and possibly ALLOWed, and a
later ``llmops gate`` step would read it as this run's. So a run that finds a report already
in its folder first writes ``.llmops-run-in-progress.json`` there, naming the SHA-256 of the
report it found, and removes the marker once its own report is written. A report read while a
marker names it (or while the marker cannot be read) is treated as incomplete
(``report/load.py``), and no gate ALLOWs it. A report written after the marker has other
bytes, so it is read as it is: the marker matches the report it supersedes, not a time
(two runs can start in the same second).

Standard library only: the report loader imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from pytest_llmops.core.atomic import write_atomic

MARKER_NAME = ".llmops-run-in-progress.json"
_UNREADABLE = {"token": "?", "started_at": "?", "pid": "?", "supersedes": "?"}


def mark_run_started(report_dir: Path, started_at: str, report_name: str) -> str | None:
    """Write the marker when ``report_dir`` already holds a report; the run's token, or None.

    An unwritable folder is left to the end of the run, which reports it with the report itself.
    """
    try:
        found = (report_dir / report_name).read_bytes()
    except OSError:
        return None  # no report there (or none readable) to be mistaken for this run's
    token = uuid.uuid4().hex
    marker = report_dir / MARKER_NAME
    content = {"token": token, "started_at": started_at, "pid": os.getpid(),
               "supersedes": hashlib.sha256(found).hexdigest()}
    try:
        write_atomic(marker, json.dumps(content))
        return token
    except OSError:
        pass
    try:
        marker.touch()  # a full disk: an empty file needs no data block, and still marks the run
        return token
    except OSError:
        return None


def clear_run_marker(report_dir: Path, token: str | None, report_name: str) -> None:
    """Remove the marker once this run's report is written: this run's own, an unreadable one,
    or one that names a report no longer there. A later run's marker stays."""
    marker = read_marker(report_dir)
    if marker is None:
        return
    if marker.get("token") not in (token, "?") and marker.get("supersedes") == _sha256_of(report_dir / report_name):
        return  # a later run's marker, naming the report now in the folder
    try:
        (report_dir / MARKER_NAME).unlink()
    except OSError:
        pass


def _sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def read_marker(report_dir: Path) -> dict[str, Any] | None:
    """The marker in ``report_dir``; None when there is none (an unreadable one counts as present)."""
    path = report_dir / MARKER_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return dict(_UNREADABLE)
    return data if isinstance(data, dict) else dict(_UNREADABLE)


def unfinished_run(report_path: Path, report: dict[str, Any], report_bytes: bytes) -> str | None:
    """Why ``report`` (read from ``report_bytes``) is not the newest run's: a run found it when it
    started and did not finish writing its own. None when no such run is marked."""
    marker = read_marker(Path(report_path).parent)
    if marker is None:
        return None
    supersedes = marker.get("supersedes", "?")
    if supersedes != "?" and supersedes != hashlib.sha256(report_bytes).hexdigest():
        return None  # the marker's run (or a later one) wrote this report
    report_started = str((report.get("run") or {}).get("started_at", "")) or "at an unknown time"
    return (f"a later run (started {marker.get('started_at', '?')}, pid {marker.get('pid', '?')}) did not "
            f"finish: this report is from an earlier run (started {report_started}); "
            f"{MARKER_NAME} in {Path(report_path).parent} marks it")
