"""One pass over a log: each good line is assigned to a window and folded into running counts.

Memory stays flat in the number of lines: per window, running sums (Welford's mean and
variance of the answer length; counts of refusals, non-English answers, JSON validity and
each check's passes), per-group pass counts for the slices, and a seeded reservoir sample of
at most ``sample`` user messages (Vitter's algorithm R), the only texts kept for embedding.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_llmops.checks.builtin import detect_refusal, extract_json
from pytest_llmops.checks.quality import find_foreign_language
from pytest_llmops.logs import Interaction, LogLineError, read_interactions, user_text
from pytest_llmops.suites.drift.spec import DriftSpec, Window
from pytest_llmops.suites.suite_file import CheckSpec

WINDOWS = ("reference", "current")
KEPT_ERRORS = 20  # bad lines quoted in the record (all are counted)
KEPT_FAILURES = 20  # failing current-window interactions quoted in the record


@dataclass
class Running:
    """Welford's running mean and variance."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0


@dataclass
class WindowStats:
    """What one window's lines add up to."""

    n: int = 0
    words: Running = field(default_factory=Running)
    refused: int = 0
    foreign: int = 0
    json_expected: int = 0
    json_valid: int = 0
    checks: dict[str, list[int]] = field(default_factory=dict)  # label -> [passed, n]
    passed: int = 0  # every declared check passed, and the answer is JSON where JSON was expected
    slices: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # field -> group -> [passed, n]
    sample: list[tuple[int, str, str]] = field(default_factory=list)  # (line, id, user message)
    first: datetime | None = None
    last: datetime | None = None


def check_label(check: CheckSpec) -> str:
    """``english``, or ``refusal=false`` for a check with an argument."""
    if check.arg in (None, True, {}):
        return check.name
    arg = str(check.arg).lower() if isinstance(check.arg, bool) else str(check.arg)
    return f"{check.name}={arg}"


def field_value(interaction: Interaction, path: str, window: str) -> Any:
    """A record field of a logged interaction by dotted path (``metadata.segment``, ``window``, ``model``)."""
    node: Any = {"metadata": dict(interaction.metadata), "window": window, "model": interaction.model,
                 "id": interaction.id, "expect_json": interaction.expect_json}
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class Scanner:
    """Folds interactions into the two windows' :class:`WindowStats`."""

    def __init__(self, spec: DriftSpec, checks: dict[str, Any], context: dict[str, Any]) -> None:
        self.spec = spec
        self.check_objects = [(check_label(c), checks[c.name], c.arg) for c in spec.checks]
        self.context = context
        self.stats = {name: WindowStats() for name in WINDOWS}
        self.seen = {name: 0 for name in WINDOWS}  # lines offered to each reservoir
        self.random = random.Random(spec.seed)
        self.errors: list[str] = []
        self.error_count = 0
        self.failures: list[dict[str, Any]] = []
        self.lines = 0

    def error(self, problem: LogLineError) -> None:
        self.error_count += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(str(problem))

    def add(self, interaction: Interaction, window: str) -> None:
        stats = self.stats[window]
        stats.n += 1
        moment = interaction.timestamp
        stats.first = moment if stats.first is None or moment < stats.first else stats.first
        stats.last = moment if stats.last is None or moment > stats.last else stats.last
        answer = interaction.answer
        self.context["contexts"] = list(interaction.contexts)  # for checks that read a RAG line's passages
        stats.words.add(len(answer.split()))
        stats.refused += detect_refusal(answer) is not None
        stats.foreign += find_foreign_language(answer) is not None
        ok = True
        failed: list[str] = []
        if interaction.expect_json:
            stats.json_expected += 1
            try:
                extract_json(answer)
                stats.json_valid += 1
            except ValueError:
                ok = False
                failed.append("json")
        for label, check, arg in self.check_objects:
            passed = check.evaluate(answer, arg, self.context).passed
            counts = stats.checks.setdefault(label, [0, 0])
            counts[0] += passed
            counts[1] += 1
            if not passed:
                ok = False
                failed.append(label)
        stats.passed += ok
        for path in self.spec.slices.values():
            group = field_value(interaction, path, window)
            counts = stats.slices.setdefault(path, {}).setdefault("(none)" if group is None else str(group), [0, 0])
            counts[0] += ok
            counts[1] += 1
        if failed and window == "current" and len(self.failures) < KEPT_FAILURES:
            self.failures.append({"line": interaction.line, "id": interaction.id, "window": window,
                                  "metadata": dict(interaction.metadata), "failed": failed,
                                  "answer": answer[:200]})
        self._offer(window, (interaction.line, interaction.id, user_text(interaction)))

    def _offer(self, window: str, item: tuple[int, str, str]) -> None:
        """Algorithm R: every line of the window ends in the sample with the same probability."""
        self.seen[window] += 1
        sample = self.stats[window].sample
        if len(sample) < self.spec.sample:
            sample.append(item)
            return
        slot = self.random.randrange(self.seen[window])
        if slot < self.spec.sample:
            sample[slot] = item


def newest_timestamp(path: Path) -> datetime | None:
    """The latest timestamp of the file's good lines (a first pass for a ``last: 1d`` window)."""
    newest = None
    for item in read_interactions(path):
        if isinstance(item, Interaction) and (newest is None or item.timestamp > newest):
            newest = item.timestamp
    return newest


def scan(spec: DriftSpec, checks: dict[str, Any], context: dict[str, Any]) -> tuple[Scanner, dict[str, Window]]:
    """Read each window's file once (a shared file once for both) and fold every line."""
    windows = {"reference": spec.reference, "current": spec.current}
    if spec.current.last is not None:
        windows["current"] = spec.current.resolved(newest_timestamp(spec.current.file))
    scanner = Scanner(spec, checks, context)
    files: dict[Path, list[str]] = {}
    for name, window in windows.items():
        files.setdefault(window.file, []).append(name)
    for path, names in files.items():
        _fold(scanner, read_interactions(path), [(n, windows[n]) for n in names])
    return scanner, windows


def _fold(scanner: Scanner, items: Iterable[Interaction | LogLineError], windows: Sequence[tuple[str, Window]]) -> None:
    for item in items:
        scanner.lines += 1
        if isinstance(item, LogLineError):
            scanner.error(item)
            continue
        # A line in both ranges (overlapping windows) counts in both.
        for name, window in windows:
            if window.contains(item.timestamp):
                scanner.add(item, name)
