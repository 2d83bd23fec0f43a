"""Which collected items run in this shard (``--llm-shard K/N``; the plan is in :mod:`.sharding`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_llmops.sharding import DEFAULT_ITEM_COST, Shard, Unit, assign, selection_sha256
from pytest_llmops.suites.items import CaseItem
from pytest_llmops.worker_groups import plain_nodeid


@dataclass
class ShardSelection:
    """This shard's items, the others, and what the report records about the split."""

    kept: list[Any]
    deselected: list[Any]
    info: dict[str, Any]


def item_cost(item: Any) -> float:
    """Estimated cost of one item: its planned requests' new tokens, or its kind's estimate."""
    if not isinstance(item, CaseItem):
        return DEFAULT_ITEM_COST
    if item.prefetchable:
        try:
            return float(sum(request.params.max_new_tokens or 0 for request in item.requests)) or 1.0
        except Exception:  # noqa: BLE001 - a case whose plan fails errs when it runs, in whichever shard
            return DEFAULT_ITEM_COST
    return float(getattr(item.kind, "measured_case_cost", DEFAULT_ITEM_COST))


def unit_key(item: Any) -> str:
    """The unit an item goes with: its whole suite (per model) for a ``keep_whole`` kind, else itself."""
    if isinstance(item, CaseItem) and getattr(item.kind, "keep_whole", False):
        return f"suite:{item.path}::{item.suite_name}[{item.alias}]"
    return f"item:{plain_nodeid(item)}"


def select_shard(items: list[Any], shard: Shard, rootdir: Any = None) -> ShardSelection:
    """Split ``items`` (in collection order) into this shard's and the rest."""
    units: dict[str, Unit] = {}
    for item in items:
        unit = units.setdefault(unit_key(item), Unit(key=unit_key(item)))
        unit.items.append(item)
        unit.cost += item_cost(item)
    placed = assign(units.values(), shard.count)
    kept = [item for item in items if placed[unit_key(item)] == shard.index]
    deselected = [item for item in items if placed[unit_key(item)] != shard.index]
    loads = {index: 0.0 for index in range(1, shard.count + 1)}
    for unit in units.values():
        loads[placed[unit.key]] += unit.cost
    info = {"index": shard.index, "count": shard.count,
            "selection_sha256": selection_sha256(plain_nodeid(item) for item in items),
            "selected": len(items), "items": len(kept),
            "estimated_cost": {str(k): round(v, 1) for k, v in loads.items()}}
    return ShardSelection(kept=kept, deselected=deselected, info=info)
