"""Interval statistics the reports and gates rely on (pure Python, no scipy at import)."""

from __future__ import annotations

import math
from typing import Any

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0.0, 1.0)`` when ``n`` is 0."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} outside 0..n={n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp rounding noise; at p=0 or p=1 the bound is exactly 0 or 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def rate_metric(successes: int, n: int) -> dict[str, Any]:
    """``{"value", "ci95", "n"}`` for a rate; value is ``None`` when nothing was counted."""
    low, high = wilson_interval(successes, n)
    return {"value": (successes / n) if n else None, "ci95": [round(low, 6), round(high, 6)], "n": n}
