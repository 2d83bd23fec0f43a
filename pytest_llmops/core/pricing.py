"""Price tables and what tokens cost: pure arithmetic, no I/O.

A price table maps model aliases (or globs over them) to US dollars per million tokens::

    prices:
      smollm2:      {input: 0.10, output: 0.40}
      "gpt-4o*":    {input: 2.50, output: 10.00, cached_input: 1.25}

A case's cost is ``(fresh input x input + cached input x cached_input + output x output) / 1e6``,
where ``cached input`` is the part of the prompt the provider read from its own prompt cache
(billed at ``cached_input`` when the table gives one, else at ``input``). An answer served from
pytest-llmops' response cache cost nothing this run: its cost is reported as saved instead.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

CURRENCY = "USD"
PER_TOKENS = 1_000_000
PRICE_KEYS = ("input", "output", "cached_input")
REQUIRED_PRICE_KEYS = ("input", "output")
#: The token counts one generation reports (see ``Generation.usage`` in providers/base.py).
USAGE_KEYS = ("input_tokens", "output_tokens", "cached_input_tokens", "tokens_estimated", "cached")


class PriceTableError(ValueError):
    """A price table that cannot be used; the message names where (file and key) and what was expected."""


@dataclass(frozen=True)
class Price:
    """US dollars per million input, output and (optionally) cached input tokens."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """Dollars for one call: cached input tokens at ``cached_input`` (``input`` without one)."""
        cached = min(max(int(cached_input_tokens or 0), 0), int(input_tokens))
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return ((int(input_tokens) - cached) * self.input + cached * cached_rate
                + int(output_tokens) * self.output) / PER_TOKENS

    def as_dict(self) -> dict[str, float]:
        out = {"input": self.input, "output": self.output}
        if self.cached_input is not None:
            out["cached_input"] = self.cached_input
        return out


@dataclass(frozen=True)
class PriceTable:
    """Prices by model alias or glob; ``source`` names where the table was read (for messages)."""

    entries: tuple[tuple[str, Price], ...] = ()
    source: str = ""

    def price_for(self, model: str) -> Price | None:
        """The price of ``model``: an exact key first, else the first glob (in file order) that matches."""
        for key, price in self.entries:
            if key == model:
                return price
        for key, price in self.entries:
            if fnmatch.fnmatchcase(model, key):
                return price
        return None

    def __bool__(self) -> bool:
        return bool(self.entries)


def _price_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise PriceTableError(f"{where}: {value!r} is not a number; expected US dollars per million tokens "
                              "(a number of at least 0, e.g. 0.15)")
    if value < 0:
        raise PriceTableError(f"{where}: {value!r} is negative; expected US dollars per million tokens (>= 0)")
    return float(value)


def parse_price_table(raw: Any, where: str) -> PriceTable:
    """Validate a ``prices`` mapping; ``where`` is its location (``llmops.yaml: prices``) for errors."""
    if not isinstance(raw, dict) or not raw:
        raise PriceTableError(f"{where}: expected a mapping of model aliases (or globs) to prices, e.g. "
                              f"'smollm2: {{input: 0.10, output: 0.40}}'; got {raw!r}")
    entries = []
    for model, price in raw.items():
        if not isinstance(model, str) or not model.strip():
            raise PriceTableError(f"{where}: model {model!r} must be a non-empty alias or glob")
        at = f"{where}.{model}"
        if not isinstance(price, dict):
            raise PriceTableError(f"{at}: expected a mapping with keys {', '.join(PRICE_KEYS)} "
                                  f"(US dollars per million tokens); got {price!r}")
        unknown = [str(k) for k in price if k not in PRICE_KEYS]
        if unknown:
            raise PriceTableError(f"{at}: unknown key(s) {', '.join(map(repr, unknown))}; "
                                  f"expected {', '.join(PRICE_KEYS)}")
        missing = [k for k in REQUIRED_PRICE_KEYS if k not in price]
        if missing:
            raise PriceTableError(f"{at}: missing {', '.join(missing)}; a price needs input and output "
                                  "(US dollars per million tokens), cached_input is optional")
        numbers = {key: _price_number(price[key], f"{at}.{key}") for key in PRICE_KEYS if key in price}
        entries.append((model.strip(), Price(numbers["input"], numbers["output"], numbers.get("cached_input"))))
    return PriceTable(tuple(entries), where)


def _total(parts: list[Mapping[str, Any]], key: str) -> int | None:
    """The sum of ``key`` over ``parts``; None when any part does not know it (or there are none)."""
    values = [part.get(key) for part in parts]
    if not values or any(not isinstance(v, int) or isinstance(v, bool) for v in values):
        return None
    return sum(values)


def usage_fields(parts: Iterable[Mapping[str, Any]], price: Price | None) -> dict[str, Any]:
    """A record's token and cost fields from the usage of every generation the case used.

    ``parts`` are ``Generation.usage()`` mappings. Token counts are sums (None when any
    generation lacks one); ``cost`` is there only with a ``price`` and known counts:
    ``usd`` what this run paid, ``saved_usd`` what the answers served from the response
    cache, or served again within this run (``reused``: paid once, by another case), would
    have cost.
    """
    parts = list(parts)
    cached_known = [p.get("cached_input_tokens") for p in parts if isinstance(p.get("cached_input_tokens"), int)]
    fields: dict[str, Any] = {
        "input_tokens": _total(parts, "input_tokens"),
        "output_tokens": _total(parts, "output_tokens"),
        "cached_input_tokens": sum(cached_known) if cached_known else None,
        "tokens_estimated": any(bool(p.get("tokens_estimated")) for p in parts),
    }
    if price is not None and fields["input_tokens"] is not None and fields["output_tokens"] is not None:
        paid = saved = 0.0
        for part in parts:
            dollars = price.cost(part["input_tokens"], part["output_tokens"], part.get("cached_input_tokens") or 0)
            if part.get("cached") or part.get("reused"):
                saved += dollars
            else:
                paid += dollars
        fields["cost"] = {"usd": round(paid, 12), "saved_usd": round(saved, 12),
                          "estimated": fields["tokens_estimated"]}
    return fields
