"""A drift suite file, validated at collection: the log, the two windows and the options.

::

    kind: drift
    log: ../../fixtures/logs/traffic.jsonl        # relative to this file
    reference: {from: 2026-10-01, to: 2026-10-15}  # from inclusive, to exclusive (UTC midnight for a date)
    current: {last: 1d}                            # or {from: ..., to: ...}, or {file: other.jsonl}
    checks: [not-empty, {refusal: false}, english] # output checks, as functional suites write them
    slices: [metadata.segment]                     # per-group pass counts (parsed as in every suite)
    sample: 2000          # messages per window embedded for the input-drift test (reservoir sample)
    permutations: 1000    # of the MMD permutation test
    topics: 8             # clusters of the pooled sample
    alpha: 0.01           # the case fails (as a measurement, xfail) when a test is below it
    seed: 0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from pytest_llmops.suites.suite_file import CheckSpec, parse_checks
from pytest_llmops.suites.slicing import suite_slices

KEYS = frozenset({"log", "reference", "current", "checks", "slices", "sample", "permutations", "topics", "alpha",
                  "seed"})
_WINDOW_KEYS = {"from", "to", "file", "last"}
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
DEFAULTS = {"sample": 2000, "permutations": 1000, "topics": 8, "alpha": 0.01}


@dataclass(frozen=True)
class Window:
    """Which lines belong to a window: those of ``file`` with ``start <= timestamp < end``.

    ``last`` (a duration) is resolved against the newest timestamp of the window's file once
    the file has been scanned: the window then ends just after that timestamp.
    """

    name: str
    file: Path
    start: datetime | None = None
    end: datetime | None = None
    last: timedelta | None = None

    def describe(self, rel: Callable[[Path], str]) -> str:
        """``traffic.jsonl [2026-10-01T00:00:00+00:00, 2026-10-15T00:00:00+00:00)`` for records."""
        if self.last is not None:
            return f"{rel(self.file)} last {self.last}"
        lo = self.start.isoformat() if self.start else "-inf"
        hi = self.end.isoformat() if self.end else "+inf"
        return f"{rel(self.file)} [{lo}, {hi})"

    def resolved(self, newest: datetime | None) -> Window:
        """A ``last`` window as a fixed range ending just after ``newest``."""
        if self.last is None or newest is None:
            return self
        end = newest + timedelta(microseconds=1)
        return Window(self.name, self.file, start=end - self.last, end=end)

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


@dataclass
class DriftSpec:
    """Everything a drift case needs, kept in ``CaseSpec.data['drift']``."""

    reference: Window
    current: Window
    checks: list[CheckSpec] = field(default_factory=list)
    slices: dict[str, str] = field(default_factory=dict)  # slice name -> path into a logged interaction
    sample: int = DEFAULTS["sample"]
    permutations: int = DEFAULTS["permutations"]
    topics: int = DEFAULTS["topics"]
    alpha: float = DEFAULTS["alpha"]
    seed: int = 0


def _moment(value: Any, name: str, fail: Callable[..., Exception]) -> datetime:
    """A timezone-aware instant from YAML: a date (midnight UTC), a datetime or ISO text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise fail(name, f"expected a date or an ISO 8601 time (2026-10-15 or 2026-10-15T00:00:00Z), got {value!r}")


def _duration(value: Any, name: str, fail: Callable[..., Exception]) -> timedelta:
    text = str(value).strip()
    unit = _UNITS.get(text[-1:]) if text else None
    try:
        amount = float(text[:-1])
    except ValueError:
        amount = -1.0
    if unit is None or amount <= 0:
        raise fail(name, f"expected a duration such as 24h, 1d or 2w, got {value!r}")
    return amount * unit


def _window(raw: Any, name: str, log: Path | None, base: Path, fail: Callable[..., Exception]) -> Window:
    if not isinstance(raw, dict) or not raw or set(raw) - _WINDOW_KEYS:
        raise fail(name, "expected {from: DATE, to: DATE} (either may be left out), {last: 1d}, "
                         "or {file: PATH} (relative to the suite file)")
    if "last" in raw and ({"from", "to"} & set(raw)):
        raise fail(name, "'last' cannot be combined with 'from' or 'to'")
    if "file" in raw:
        if not isinstance(raw["file"], str):
            raise fail(f"{name}.file", f"expected a path, got {raw['file']!r}")
        path = (base / raw["file"]).resolve()
    elif log is not None:
        path = log
    else:
        raise fail(name, "no log to read: give the suite a top-level 'log: PATH' or the window a 'file: PATH'")
    if not path.is_file():
        raise fail(f"{name}.file" if "file" in raw else "log", f"log file {path} does not exist")
    start = _moment(raw["from"], f"{name}.from", fail) if "from" in raw else None
    end = _moment(raw["to"], f"{name}.to", fail) if "to" in raw else None
    if start and end and end <= start:
        raise fail(f"{name}.to", f"must be after 'from' ({start.isoformat()})")
    last = _duration(raw["last"], f"{name}.last", fail) if "last" in raw else None
    return Window(name=name, file=path, start=start, end=end, last=last)


def _count(data: dict[str, Any], key: str, low: int, fail: Callable[..., Exception]) -> int:
    value = data.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise fail(key, f"expected a whole number of at least {low}, got {value!r}")
    return value


def parse_drift(data: dict[str, Any], path: Path, registry: Any, fail: Callable[..., Exception],
                slices: dict[str, str] | None = None) -> DriftSpec:
    """Validate a drift suite's keys; ``fail(field, why)`` builds the collection error.

    ``slices`` (name -> record path) is the suite's ``slices:`` as every suite parses it, with
    the run's ``--llm-slice`` (suites/slicing.py): a drift suite folds them per window itself."""
    if "cases" in data:
        raise fail("cases", "a drift suite compares two windows of a log; it has no cases list")
    base = path.parent
    log = None
    if "log" in data:
        if not isinstance(data["log"], str):
            raise fail("log", f"expected a path to a JSON Lines log (relative to this file), got {data['log']!r}")
        log = (base / data["log"]).resolve()
    for name in ("reference", "current"):
        if name not in data:
            raise fail(name, "required: the window, as {from: DATE, to: DATE}, {last: 1d} or {file: PATH}")
    reference = _window(data["reference"], "reference", log, base, fail)
    current = _window(data["current"], "current", log, base, fail)
    if reference.last is not None:
        raise fail("reference.last", "only the current window may be 'last' (the reference is fixed)")
    if reference.file == current.file and current.last is None and reference == Window(
            "reference", current.file, current.start, current.end):
        raise fail("current", "the same range as 'reference': nothing to compare")
    checks = parse_checks(data.get("checks") or [], registry.checks, fail)
    if slices is None:  # called outside a suite file (benchmarks, unit tests): parse them the same way
        slices = suite_slices(data.get("slices"), (), fail)
    alpha = data.get("alpha", DEFAULTS["alpha"])
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise fail("alpha", f"expected a significance level in (0, 1), got {alpha!r}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise fail("seed", f"expected an integer, got {seed!r}")
    return DriftSpec(reference=reference, current=current, checks=checks, slices=dict(slices),
                     sample=_count(data, "sample", 10, fail), permutations=_count(data, "permutations", 99, fail),
                     topics=_count(data, "topics", 2, fail), alpha=float(alpha), seed=seed)
