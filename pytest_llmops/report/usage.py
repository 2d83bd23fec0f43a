"""Tokens and cost folded from records: suite metrics and the run's ``usage``.

Every record may carry ``input_tokens``, ``output_tokens``, ``cached_input_tokens``,
``tokens_estimated`` and, when the run has a price for its model, ``cost: {usd, saved_usd,
estimated}`` (see :func:`pytest_llmops.core.pricing.usage_fields`). Folded per suite they give::

    input_tokens / output_tokens   {total, mean, p50, p95, max, n, estimated}
    cost                           {total, saved, per_case, currency, n, estimated}

``n`` counts the records that had the count (or a cost); ``estimated`` how many of them were
estimated from text; ``cost.total`` is what the run paid, ``cost.saved`` what the answers
served from the response cache would have cost, ``cost.per_case`` what one case costs at the
listed prices, cached or not (``(total + saved) / n``). Sums are exact (``math.fsum``) and the
percentiles come from sorted values, so the fold does not depend on record order: shards
merged by ``llmops merge`` give the figures of one run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pytest_llmops.core.pricing import CURRENCY
from pytest_llmops.core.stats import percentile

TOKEN_METRICS = ("input_tokens", "output_tokens")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _dollars(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def token_summary(values: list[int], estimated: int = 0) -> dict[str, Any]:
    """``{total, mean, p50, p95, max, n, estimated}`` of per-case token counts."""
    ordered = sorted(values)
    return {"total": sum(ordered), "mean": round(sum(ordered) / len(ordered), 4),
            "p50": round(percentile(ordered, 0.5), 4), "p95": round(percentile(ordered, 0.95), 4),
            "max": ordered[-1], "n": len(ordered), "estimated": estimated}


@dataclass
class UsageFold:
    """Token counts and costs of some records (one suite, one model, or the whole run)."""

    tokens: dict[str, list[int]] = field(default_factory=lambda: {name: [] for name in TOKEN_METRICS})
    estimated_tokens: dict[str, int] = field(default_factory=lambda: {name: 0 for name in TOKEN_METRICS})
    cached_input: list[int] = field(default_factory=list)
    paid: list[float] = field(default_factory=list)
    saved: list[float] = field(default_factory=list)
    estimated_costs: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """Fold in one record's token counts and cost (records without them add nothing)."""
        estimated = bool(record.get("tokens_estimated"))
        for name in TOKEN_METRICS:
            count = _count(record.get(name))
            if count is not None:
                self.tokens[name].append(count)
                self.estimated_tokens[name] += estimated
        cached = _count(record.get("cached_input_tokens"))
        if cached is not None:
            self.cached_input.append(cached)
        cost = record.get("cost")
        if isinstance(cost, dict):
            paid, saved = _dollars(cost.get("usd")), _dollars(cost.get("saved_usd"))
            if paid is not None and saved is not None:
                self.paid.append(paid)
                self.saved.append(saved)
                self.estimated_costs += bool(cost.get("estimated"))

    @property
    def empty(self) -> bool:
        return not any(self.tokens.values()) and not self.paid

    def cost(self) -> dict[str, Any] | None:
        """``{total, saved, per_case, currency, n, estimated}``, or None without any priced record."""
        if not self.paid:
            return None
        total, saved = math.fsum(self.paid), math.fsum(self.saved)
        return {"total": round(total, 10), "saved": round(saved, 10),
                "per_case": round(math.fsum(self.paid + self.saved) / len(self.paid), 10),
                "currency": CURRENCY, "n": len(self.paid), "estimated": self.estimated_costs}

    def metrics(self) -> dict[str, Any]:
        """The suite metrics: token summaries with any counts, and ``cost`` with any price."""
        out: dict[str, Any] = {name: token_summary(values, self.estimated_tokens[name])
                               for name, values in self.tokens.items() if values}
        cost = self.cost()
        if cost is not None:
            out["cost"] = cost
        return out

    def totals(self) -> dict[str, Any]:
        """Sums for the run's ``usage``: tokens, cases counted, estimated ones, and the cost."""
        out: dict[str, Any] = {name: sum(values) for name, values in self.tokens.items()}
        out["cached_input_tokens"] = sum(self.cached_input)
        out["cases"] = max(len(values) for values in self.tokens.values())
        out["estimated_cases"] = max(self.estimated_tokens.values())
        cost = self.cost()
        if cost is not None:
            out["cost"] = {key: cost[key] for key in ("total", "saved", "currency")}
        return out


@dataclass
class RunUsage:
    """The whole run's tokens and cost, and each model's (``run.usage`` in the report)."""

    run: UsageFold = field(default_factory=UsageFold)
    models: dict[str, UsageFold] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        self.run.add(record)
        self.models.setdefault(str(record.get("model", "")), UsageFold()).add(record)

    def as_dict(self) -> dict[str, Any] | None:
        """``run.usage``, or None when no record carried a token count or a cost."""
        if self.run.empty:
            return None
        return {**self.run.totals(),
                "by_model": {model: fold.totals() for model, fold in sorted(self.models.items()) if not fold.empty}}
