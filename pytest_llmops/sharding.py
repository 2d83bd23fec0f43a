"""``--llm-shard K/N``: a deterministic share of the selected tests for one of N CI jobs.

The selected items are grouped into **units**: a case of most kinds is its own unit; every
case of a suite whose metrics need the whole suite in one run (a kind with ``keep_whole``:
regression, whose baseline checks and stale-case detection need the whole suite; latency,
whose workload is measured under its own concurrency) forms one unit per model. Each unit has
an estimated cost (the requests it plans times their new tokens; a kind may state its own).

Units go to shards by **rendezvous hashing with bounded loads**: each unit ranks the shards by
``sha256(unit key, shard)`` and takes the first whose load stays under ``(1 + SLACK)`` times
the average (heaviest units first). The hash ranking makes the split stable: adding or
removing a case elsewhere moves only units near a shard's bound, not the whole plan. The bound
keeps the shards' estimated costs within ``SLACK`` of each other whenever no single unit is
larger than that. Every unit lands in exactly one shard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

SLACK = 0.15
DEFAULT_ITEM_COST = 64.0  # a test whose requests are not known before it runs (a plain python test)
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A ``--llm-shard`` value that is not ``K/N`` with ``1 <= K <= N``."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; :class:`ShardError` saying what was expected otherwise."""
    match = _SHARD_RE.match(str(text))
    if not match:
        raise ShardError(f"--llm-shard: expected K/N (for example 2/3), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ShardError(f"--llm-shard: expected 1 <= K <= N, got {index}/{count}")
    return Shard(index, count)


@dataclass
class Unit:
    """Items that go to the same shard, with their summed estimated cost."""

    key: str
    cost: float = 0.0
    items: list[Any] = field(default_factory=list)


def _rank(key: str, count: int) -> list[int]:
    """Shards 1..count in this unit's rendezvous order."""
    scores = [(hashlib.sha256(f"{key}\0{shard}".encode()).digest(), shard) for shard in range(1, count + 1)]
    return [shard for _, shard in sorted(scores, reverse=True)]


def assign(units: Iterable[Unit], count: int, slack: float = SLACK) -> dict[str, int]:
    """Unit key -> shard (1-based): rendezvous hashing with loads bounded at ``(1 + slack)`` x average."""
    ordered = sorted(units, key=lambda unit: (-unit.cost, unit.key))
    total = sum(unit.cost for unit in ordered)
    bound = (1.0 + slack) * total / count if count else 0.0
    loads = {shard: 0.0 for shard in range(1, count + 1)}
    placed: dict[str, int] = {}
    for unit in ordered:
        ranking = _rank(unit.key, count)
        chosen = next((shard for shard in ranking if loads[shard] + unit.cost <= bound), None)
        if chosen is None:  # a unit larger than the bound's room anywhere: the least loaded shard
            chosen = min(ranking, key=lambda shard: (loads[shard], ranking.index(shard)))
        loads[chosen] += unit.cost
        placed[unit.key] = chosen
    return placed


def selection_sha256(nodeids: Iterable[str]) -> str:
    """Names the selection every shard of one run split: the sorted node ids of all selected items."""
    digest = hashlib.sha256()
    for nodeid in sorted(nodeids):
        digest.update(nodeid.encode("utf-8") + b"\n")
    return digest.hexdigest()
