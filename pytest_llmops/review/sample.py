"""Which cases go to review: every failure, every regression flip, a seeded share of the passes.

Stratified by suite and outcome: each suite draws its own passes with a generator seeded by
the run's review seed and the suite's name, so adding a suite elsewhere never changes which
passes another suite sends (a reviewer's earlier labels keep matching).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from pytest_llmops.report.markdown import suite_key_of
from pytest_llmops.review.cases import reviewable

FAILED, FLIP, SAMPLED = "failed", "regression flip", "sampled pass"
# Latency cases time a fixed workload; their answers are not what the suite is about.
DEFAULT_SKIPPED_KINDS = frozenset({"latency"})


@dataclass(frozen=True)
class SampleSettings:
    """How many passes to draw per suite, from which kinds, with which seed."""

    pass_share: float = 0.2
    max_passes_per_suite: int | None = None
    seed: int = 0
    kinds: frozenset[str] | None = None  # None: every kind but DEFAULT_SKIPPED_KINDS

    def __post_init__(self) -> None:
        if not 0.0 <= self.pass_share <= 1.0:
            raise ValueError(f"pass share must be between 0 and 1, got {self.pass_share}")
        if self.max_passes_per_suite is not None and self.max_passes_per_suite < 0:
            raise ValueError(f"max passes per suite must be >= 0, got {self.max_passes_per_suite}")

    def wants(self, kind: Any) -> bool:
        if self.kinds is not None:
            return kind in self.kinds
        return kind not in DEFAULT_SKIPPED_KINDS


def _flipped(record: dict[str, Any]) -> bool:
    regression = record.get("regression")
    return isinstance(regression, dict) and bool(regression.get("flips"))


def sample_cases(report: dict[str, Any], settings: SampleSettings) -> list[tuple[dict[str, Any], str]]:
    """``(record, reason)`` for every case to review, grouped by suite in report order."""
    suites = report.get("suites") if isinstance(report.get("suites"), dict) else {}
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for record in report.get("cases") or []:
        if isinstance(record, dict) and reviewable(record) and settings.wants(record.get("kind")):
            by_suite.setdefault(suite_key_of(record, suites), []).append(record)
    chosen: list[tuple[dict[str, Any], str]] = []
    for suite, records in by_suite.items():
        passes = []
        for record in records:
            if record.get("outcome") == "failed":
                chosen.append((record, FAILED))
            elif _flipped(record):
                chosen.append((record, FLIP))
            else:
                passes.append(record)
        count = math.ceil(round(settings.pass_share * len(passes), 9))  # 0.3 * 10 is 3.0000000000000004
        if settings.max_passes_per_suite is not None:
            count = min(count, settings.max_passes_per_suite)
        drawn = random.Random(f"{settings.seed}:{suite}").sample(range(len(passes)), count)
        chosen.extend((passes[i], SAMPLED) for i in sorted(drawn))
    return chosen
