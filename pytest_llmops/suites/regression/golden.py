"""Golden datasets: the rows a regression suite asks, with their references.

A dataset is a JSONL file (one object per line) or a YAML file (a list of rows, or a
mapping with a ``cases`` list), or rows written inline under the suite's ``cases:``. Each
row is::

    id: capital-france            # required: baselines pair cases by id
    input: What is the capital of France?   # or vars: {...} for 'subject: prompt' suites
    expected: Paris               # the reference answer
    accept: [Paris, paris, France's capital is Paris]   # more references (optional)
    pattern: "(?i)\\bparis\\b"    # for the regex metric (optional)
    expected_json: {city: Paris}  # for json_fields (optional)
    system: ...                   # overrides the suite's system prompt (optional)
    tags: [geo]                   # for -k (optional)

A row with a problem is reported with the dataset file and its line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROW_KEYS = frozenset({"id", "input", "vars", "system", "expected", "accept", "pattern", "expected_json", "tags",
                      "description"})
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


class GoldenError(ValueError):
    """A dataset that cannot be used; the message names the file and line."""


@dataclass
class GoldenRow:
    """One validated row of a golden dataset."""

    id: str
    line: int
    input: str | None
    vars: dict[str, Any]
    system: str | None
    expected: str | None
    accept: list[str]
    pattern: str | None
    expected_json: dict[str, Any] | None
    tags: list[str] = field(default_factory=list)

    @property
    def references(self) -> list[str]:
        """Every acceptable answer: ``expected`` first, then ``accept``."""
        refs = [self.expected] if self.expected is not None else []
        return refs + [a for a in self.accept if a not in refs]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "expected": self.expected, "accept": self.accept, "pattern": self.pattern,
                "expected_json": self.expected_json}


@dataclass
class GoldenSet:
    """A dataset's rows and the hash that baselines are tied to."""

    source: str
    rows: list[GoldenRow]
    sha256: str


def load_dataset(path: Path, line_loader: Any) -> GoldenSet:
    """Read ``path`` (``.jsonl``, ``.json``, ``.yaml``/``.yml``) into validated rows."""
    try:
        content = path.read_bytes()
        text = content.decode("utf-8")
    except OSError as exc:
        raise GoldenError(f"{path}: cannot read the dataset: {exc}") from None
    except UnicodeDecodeError as exc:
        raise GoldenError(f"{path}: the dataset is not UTF-8 text: {exc}") from None
    raw: list[tuple[int, Any]] = []
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise GoldenError(f"{path}:{number}: not a JSON object: {exc.msg}") from None
    else:
        try:
            data = yaml.load(text, Loader=line_loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise GoldenError(f"{path}{where}: not valid YAML/JSON: {getattr(exc, 'problem', exc)}") from None
        if isinstance(data, dict) and "cases" in data:
            data = data["cases"]
        if not isinstance(data, list):
            raise GoldenError(f"{path}: expected a list of rows (or a mapping with a 'cases' list)")
        raw = [(getattr(row, "line", 0), row) for row in data]
    rows = parse_rows(raw, str(path))
    return GoldenSet(source=str(path), rows=rows, sha256=hashlib.sha256(content).hexdigest())


def inline_dataset(cases: Any, where: str, line: int) -> GoldenSet:
    """Rows written under the suite's ``cases:`` key; hashed as canonical JSON."""
    if not isinstance(cases, list):
        raise GoldenError(f"{where}:{line}: 'cases' must be a list of rows")
    rows = parse_rows([(getattr(row, "line", line), row) for row in cases], where)
    canonical = json.dumps(cases, sort_keys=True, ensure_ascii=False, default=str)
    return GoldenSet(source=where, rows=rows, sha256=hashlib.sha256(canonical.encode()).hexdigest())


def parse_rows(raw: list[tuple[int, Any]], where: str) -> list[GoldenRow]:
    """Validate rows; the first problem raises :class:`GoldenError` naming ``where:line``."""
    rows: list[GoldenRow] = []
    seen: dict[str, int] = {}
    for number, data in raw:
        def fail(key: str, why: str, _line: int = number) -> GoldenError:
            return GoldenError(f"{where}:{_line}: field '{key}': {why}")

        if not isinstance(data, dict):
            raise GoldenError(f"{where}:{number}: expected a mapping with 'id', 'input' and 'expected'")
        unknown = set(data) - ROW_KEYS
        if unknown:
            raise fail(sorted(unknown)[0], f"unknown key; expected one of {sorted(ROW_KEYS)}")
        row_id = data.get("id")
        if not isinstance(row_id, (str, int)) or not _ID_RE.match(str(row_id)):
            raise fail("id", "every row needs an id of letters, digits, '.', '_' or '-' (baselines pair "
                             "cases by id)")
        row_id = str(row_id)
        if row_id in seen:
            raise fail("id", f"duplicate id {row_id!r} (first used at line {seen[row_id]})")
        seen[row_id] = number
        text = data.get("input")
        variables = data.get("vars") or {}
        if text is not None and not isinstance(text, str):
            raise fail("input", "expected a string")
        if not isinstance(variables, dict):
            raise fail("vars", "expected a mapping of template variables")
        if text is None and not variables:
            raise fail("input", "a row needs 'input' (or 'vars' for a prompt template)")
        expected = data.get("expected")
        if expected is not None and not isinstance(expected, (str, int, float)):
            raise fail("expected", "expected a string")
        accept = data.get("accept") or []
        if isinstance(accept, str):
            accept = [accept]
        if not isinstance(accept, list) or not all(isinstance(a, (str, int, float)) for a in accept):
            raise fail("accept", "expected a list of strings")
        pattern = data.get("pattern")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise fail("pattern", f"not a valid regular expression: {exc}") from None
        expected_json = data.get("expected_json")
        if expected_json is not None and not isinstance(expected_json, dict):
            raise fail("expected_json", "expected a mapping of field -> value")
        system = data.get("system")
        if system is not None and not isinstance(system, str):
            raise fail("system", "expected a string")
        rows.append(GoldenRow(id=row_id, line=number, input=text, vars=dict(variables), system=system,
                              expected=None if expected is None else str(expected),
                              accept=[str(a) for a in accept], pattern=None if pattern is None else str(pattern),
                              expected_json=dict(expected_json) if expected_json is not None else None,
                              tags=[str(t) for t in data.get("tags") or []]))
    if not rows:
        raise GoldenError(f"{where}: the dataset has no rows")
    return rows
