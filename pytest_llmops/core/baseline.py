"""Stored baselines: ``<folder>/<suite>.json`` files that regression and latency suites compare against.

A baseline file holds one suite's per-case results (outputs, scores, latency samples; what
each kind stores is up to the kind) and the provenance needed to refuse a comparison that
would be meaningless: the model fingerprint, the dataset hash, the prompt hash and the
generation parameters.

``--llm-update-baseline`` writes them on the controller at the end of the run. When only
part of a suite ran (``-k``, node ids), the selected cases are merged into the existing
file instead of replacing it, so a partial run never drops the rest of a baseline.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmops.core.atomic import write_atomic

BASELINE_SCHEMA = 1


class BaselineError(Exception):
    """A baseline file that is missing, unreadable or does not match the suite."""


def baseline_path(folder: Path, suite: str) -> Path:
    """Where the baseline of ``suite`` lives (``regression/qa`` -> ``folder/regression/qa.json``)."""
    return folder / f"{suite}.json"


def load_baseline(folder: Path, suite: str) -> dict[str, Any]:
    """Read the baseline of ``suite`` from ``folder``; :class:`BaselineError` names the file and the fix."""
    path = baseline_path(folder, suite)
    if not path.is_file():
        raise BaselineError(f"no baseline for suite {suite!r}: {path} does not exist; write one with "
                            f"--llm-update-baseline (it goes to <report-dir>/baseline/)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: not a readable baseline JSON file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), dict):
        raise BaselineError(f"{path}: expected an object with a 'cases' mapping (a file written by "
                            f"--llm-update-baseline)")
    if data.get("schema") != BASELINE_SCHEMA:
        raise BaselineError(f"{path}: baseline schema {data.get('schema')!r}, this plugin reads "
                            f"{BASELINE_SCHEMA}; rewrite it with --llm-update-baseline")
    return data


@dataclass
class _PendingSuite:
    header: dict[str, Any]
    complete: bool
    cases: dict[str, Any] = field(default_factory=dict)


class BaselineWriter:
    """Gathers baseline entries from records on the controller and writes one file per suite."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._suites: dict[str, _PendingSuite] = {}

    def add(self, suite: str, header: dict[str, Any], case_id: str, entry: dict[str, Any],
            complete: bool) -> None:
        """One case of ``suite``; ``complete`` says whether every case of the suite was selected."""
        pending = self._suites.get(suite)
        if pending is None:
            pending = self._suites[suite] = _PendingSuite(header=header, complete=complete)
        pending.complete = pending.complete and complete
        pending.cases[case_id] = entry

    def write(self) -> list[Path]:
        """Write every gathered suite; returns the files written."""
        written = []
        for suite, pending in sorted(self._suites.items()):
            path = baseline_path(self.folder, suite)
            cases = dict(pending.cases)
            if not pending.complete and path.is_file():
                try:
                    old = load_baseline(self.folder, suite)
                except BaselineError:
                    old = {}
                # A partial run updates only what it ran, and only on the same dataset.
                if old and old.get("provenance", {}).get("dataset_sha256") == \
                        pending.header.get("dataset_sha256"):
                    cases = {**old["cases"], **cases}
            data = {"schema": BASELINE_SCHEMA, "suite": suite,
                    "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "provenance": pending.header, "cases": dict(sorted(cases.items()))}
            # A crash mid-write must not leave half a baseline that the next run compares against.
            write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
            written.append(path)
        return written

    def __bool__(self) -> bool:
        return bool(self._suites)


class BaselineStore:
    """The run's stored baselines (``--llm-baseline DIR``), each suite's file read once.

    An unreadable or missing file is remembered as its error, so every case of the suite
    errors with the same message instead of re-reading the file.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._loaded: dict[str, dict[str, Any] | BaselineError] = {}

    def for_suite(self, suite: str) -> dict[str, Any]:
        """The stored baseline of ``suite``; :class:`BaselineError` when missing or unreadable."""
        if self.directory is None:
            raise BaselineError("no --llm-baseline folder was given")
        if suite not in self._loaded:
            try:
                self._loaded[suite] = load_baseline(self.directory, suite)
            except BaselineError as exc:
                self._loaded[suite] = exc
        found = self._loaded[suite]
        if isinstance(found, BaselineError):
            raise found
        return found
