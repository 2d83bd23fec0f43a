"""Reviewers' label files: JSON Lines from the review page, or the CSV export filled in a spreadsheet.

A label line names its case by content (``cases.KEY_FIELDS``), the reviewer, and ``label``:
``pass``, ``fail`` or ``unsure``, with an optional ``note``. A bad line is reported with its
file and line number and what was expected; the other lines (and files) are still read. A CSV
row whose label cell is empty is a case the reviewer has not got to yet, not an error.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmops.review.cases import KEY_FIELDS

LABELS = ("pass", "fail", "unsure")
MAX_NOTE = 2000


@dataclass(frozen=True)
class Label:
    """One reviewer's verdict on one case's output."""

    key: tuple[str, ...]  # in cases.KEY_FIELDS order
    label: str
    reviewer: str
    note: str = ""
    labelled_at: str = ""
    source: str = ""  # "file:line", for messages

    def as_dict(self) -> dict[str, Any]:
        return {**dict(zip(KEY_FIELDS, self.key)), "label": self.label, "reviewer": self.reviewer,
                "note": self.note, "labelled_at": self.labelled_at}


@dataclass
class LabelFile:
    """What one file gave: its labels, and one message per line that could not be read."""

    path: Path
    labels: list[Label] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped_blank: int = 0


def parse_label(raw: Any, where: str, default_reviewer: str = "") -> Label:
    """A :class:`Label` from one decoded line; ``ValueError`` says what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object with {', '.join(KEY_FIELDS)}, label and reviewer, "
                         f"got {type(raw).__name__}")
    missing = [name for name in KEY_FIELDS if not isinstance(raw.get(name), str) or not raw.get(name)]
    if missing:
        raise ValueError(f"missing or empty key field(s) {', '.join(missing)} (a label names its case by "
                         "suite, case, model, fingerprint and output_sha256, as the export writes them)")
    label = str(raw.get("label", "")).strip().lower()
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {raw.get('label')!r}")
    reviewer = str(raw.get("reviewer") or default_reviewer).strip()
    if not reviewer:
        raise ValueError("no reviewer: each label names who gave it (or pass --reviewer for a file without)")
    note = str(raw.get("note") or "")[:MAX_NOTE]
    return Label(key=tuple(raw[name] for name in KEY_FIELDS), label=label, reviewer=reviewer, note=note,
                 labelled_at=str(raw.get("labelled_at") or ""), source=where)


def read_label_file(path: Path, default_reviewer: str = "") -> LabelFile:
    """Read one label file (``.csv`` as CSV, anything else as JSON Lines)."""
    result = LabelFile(path=Path(path))
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        result.errors.append(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
        return result
    if Path(path).suffix.lower() == ".csv":
        _read_csv(text, result, default_reviewer)
    else:
        _read_jsonl(text, result, default_reviewer)
    return result


def _read_jsonl(text: str, result: LabelFile, default_reviewer: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{result.path}:{number}"
        try:
            raw = json.loads(line)
        except ValueError as exc:
            result.errors.append(f"{where}: not valid JSON ({exc}); expected one label object per line")
            continue
        try:
            result.labels.append(parse_label(raw, where, default_reviewer))
        except ValueError as exc:
            result.errors.append(f"{where}: {exc}")


def _read_csv(text: str, result: LabelFile, default_reviewer: str) -> None:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in (*KEY_FIELDS, "label") if name not in header]
    if missing:
        result.errors.append(f"{result.path}:1: the header lacks column(s) {', '.join(missing)} "
                             "(start from the CSV that `llmops review export --format csv` writes)")
        return
    for row in reader:
        where = f"{result.path}:{reader.line_num}"
        if not (row.get("label") or "").strip():
            result.skipped_blank += 1
            continue
        try:
            result.labels.append(parse_label(row, where, default_reviewer))
        except ValueError as exc:
            result.errors.append(f"{where}: {exc}")


def latest_per_reviewer(labels: list[Label]) -> dict[tuple[str, ...], dict[str, Label]]:
    """Case key -> reviewer -> that reviewer's last label (a reviewer may change their mind)."""
    found: dict[tuple[str, ...], dict[str, Label]] = {}
    for label in labels:
        found.setdefault(label.key, {})[label.reviewer] = label
    return found
