"""Comparing two attack success rates: exact tests and an interval for the difference (pure Python).

The prompt-hardening comparison runs the same attack cases against two prompts, so its
outcomes are paired: the primary test is the exact McNemar test on the discordant pairs
(cases one prompt resisted and the other did not). Fisher's exact test (unpaired) and
Newcombe's hybrid score interval for the difference of the two rates are reported with it.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_llmops.core import slices

ALPHA = 0.05


def fisher_exact(a: int, n1: int, b: int, n2: int) -> float:
    """Two-sided Fisher exact p-value for ``a``/``n1`` versus ``b``/``n2`` successes."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    successes, total = a + b, n1 + n2
    denominator = math.comb(total, successes)

    def prob(x: int) -> float:
        return math.comb(n1, x) * math.comb(n2, successes - x) / denominator

    observed = prob(a)
    low, high = max(0, successes - n2), min(n1, successes)
    p = sum(q for q in (prob(x) for x in range(low, high + 1)) if q <= observed * (1 + 1e-7))
    return min(1.0, p)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts."""
    n = only_first + only_second
    if n == 0:
        return 1.0
    k = min(only_first, only_second)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def newcombe_interval(a: int, n1: int, b: int, n2: int) -> tuple[float, float]:
    """95% interval for ``a/n1 - b/n2`` (Newcombe's hybrid score method, from Wilson intervals;
    :func:`pytest_llmops.core.slices.newcombe_interval`); ``(-1, 1)`` when a side has no cases."""
    if n1 <= 0 or n2 <= 0:
        return (-1.0, 1.0)
    return slices.newcombe_interval((a, n1), (b, n2))


def compare(subject: str, a: int, n1: int, baseline: str, b: int, n2: int,
            discordant: tuple[int, int] | None = None) -> dict[str, Any]:
    """The ``comparison`` metric: ``value``/``ci95`` are ``subject``'s ASR minus ``baseline``'s
    (Newcombe interval), with the p-value, a ``significant`` verdict and a ``note`` in words.

    ``discordant`` = (pairs only the subject's attack succeeded on, pairs only the
    baseline's did) makes the test the paired McNemar test; otherwise Fisher's.
    """
    low, high = newcombe_interval(a, n1, b, n2)
    fisher = fisher_exact(a, n1, b, n2)
    if discordant is not None:
        p_value, test = mcnemar_exact(*discordant), "exact McNemar (paired: same attack cases)"
    else:
        p_value, test = fisher, "Fisher exact"
    value = (a / n1 - b / n2) if n1 and n2 else None
    significant = bool(n1 and n2 and p_value < ALPHA)
    shown = f"{subject} {a}/{n1} vs {baseline} {b}/{n2}"
    if value is None:
        note = f"no comparison: {shown}"
    elif significant:
        direction = "lower" if value < 0 else "higher"
        note = (f"{subject} has a significantly {direction} attack success rate than {baseline} "
                f"({shown}; difference {value:+.2f}, 95% CI [{low:+.2f}, {high:+.2f}]; {test} p={p_value:.3g})")
    else:
        note = (f"not significant at this model size and n: {shown} (difference {value:+.2f}, 95% CI "
                f"[{low:+.2f}, {high:+.2f}]; {test} p={p_value:.3g}); this run cannot tell the prompts apart")
    out: dict[str, Any] = {
        # value/ci95: the difference of the two rates (subject - baseline), so tables show it
        "value": None if value is None else round(value, 6), "ci95": [round(low, 6), round(high, 6)],
        "n": min(n1, n2), "subject": subject, "baseline": baseline,
        "p_value": round(p_value, 6), "test": test, "fisher_p_value": round(fisher, 6),
        "alpha": ALPHA, "significant": significant, "note": note,
    }
    if discordant is not None:
        out["discordant_pairs"] = {f"only_{subject}": discordant[0], f"only_{baseline}": discordant[1]}
    return out
