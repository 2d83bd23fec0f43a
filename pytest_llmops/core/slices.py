"""Bias slices: each group's pass rate and the largest gap between groups, with intervals.

``slice_summary({"free": (75, 100), "pro": (95, 100)})`` gives every group's rate with its
Wilson interval and the largest gap between two groups (highest rate minus lowest) with an
interval that holds *simultaneously* over every pair of groups:

- each pairwise difference ``p_i - p_j`` gets Newcombe's hybrid-score interval (method 10 of
  Newcombe 1998, built from the two groups' Wilson intervals), at the Bonferroni-adjusted level
  ``1 - alpha / m`` over the ``m = k(k-1)/2`` pairs, so all ``m`` intervals hold together with
  probability at least ``1 - alpha``;
- when they all hold, the true largest gap ``max_ij |p_i - p_j|`` lies between the largest lower
  bound of any ``|p_i - p_j|`` (0 when every interval contains 0) and the largest upper bound.

Why this method rather than a bootstrap of the max gap: it is closed-form and deterministic
(the same counts always give the same bounds, so a refolded or merged report agrees to the
last digit), it needs no seed and no resampling (a suite may have hundreds of tag slices), its
two-group case is the standard Newcombe interval, and Bonferroni keeps it honest when a
suite has many groups (measured coverage: ``tests/test_slices_stats.py`` and docs/slices.md).
The price is conservatism as the number of groups grows.

The quantile comes from the standard library (``statistics.NormalDist``), so this module, like
``core.stats``, imports no scipy; the tests compare it with scipy's Wilson interval.
"""

from __future__ import annotations

import math
import re
from itertools import combinations
from statistics import NormalDist
from typing import Any, Mapping

from pytest_llmops.core.stats import Z95, wilson_interval

METHOD = "newcombe-hybrid-score, bonferroni over pairs"
#: pairwise differences listed in a summary (the largest first); the max gap uses every pair
MAX_PAIRS_LISTED = 10


def _z(level: float) -> float:
    """The two-sided normal quantile for a ``level`` confidence interval (at 95%, the project's
    own constant, so a 95% interval here equals the adversarial comparison's to the last digit)."""
    return Z95 if level == 0.95 else NormalDist().inv_cdf(1 - (1 - level) / 2)


def newcombe_interval(a: tuple[int, int], b: tuple[int, int], confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid-score interval for ``p_a - p_b`` from ``(passed, n)`` counts.

    ``L = d - sqrt((p_a - l_a)^2 + (u_b - p_b)^2)``, ``U = d + sqrt((u_a - p_a)^2 + (p_b - l_b)^2)``
    with ``[l, u]`` each group's Wilson interval at the same level."""
    (sa, na), (sb, nb) = a, b
    if na <= 0 or nb <= 0:
        raise ValueError("both groups need at least one counted case")
    z = _z(confidence)
    pa, pb = sa / na, sb / nb
    la, ua = wilson_interval(sa, na, z)
    lb, ub = wilson_interval(sb, nb, z)
    d = pa - pb
    return (max(-1.0, d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)),
            min(1.0, d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)))


def _check_counts(counts: Mapping[str, tuple[int, int]]) -> None:
    for group, pair in counts.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"group {group!r}: expected (passed, n), got {pair!r}")
        passed, n = pair
        if isinstance(passed, bool) or isinstance(n, bool) or not isinstance(passed, int) \
                or not isinstance(n, int) or n < 0 or not 0 <= passed <= n:
            raise ValueError(f"group {group!r}: expected whole numbers 0 <= passed <= n, got {pair!r}")


def slice_summary(counts: Mapping[str, tuple[int, int]], confidence: float = 0.95) -> dict[str, Any]:
    """Per-group rates and the largest gap between groups, from ``group -> (passed, n)``.

    Returns ``{"groups": {g: {"rate", "value", "ci95", "n", "passed"}}, "max_gap": {"value",
    "lb95", "ub95", "ci95", "between": [g_hi, g_lo], "method", "confidence", "n_pairs"},
    "n_groups", "pairs": [...]}``. Groups with ``n = 0`` are listed (rate ``None``) but take no
    part in the gap; with fewer than two counted groups the gap's figures are ``None``.
    ``lb95``/``ub95`` keep their names at any ``confidence`` (it is recorded beside them) so
    gates read them the same way. ``pairs`` lists up to ten pairwise differences, largest
    first, each with its simultaneous interval and whether that interval excludes 0.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    _check_counts(counts)
    counts = {str(group): pair for group, pair in counts.items()}
    groups: dict[str, Any] = {}
    for group in sorted(counts, key=str):
        passed, n = counts[group]
        low, high = wilson_interval(passed, n, _z(confidence))
        rate = round(passed / n, 6) if n else None
        groups[str(group)] = {"rate": rate, "value": rate, "ci95": [round(low, 6), round(high, 6)],
                              "n": n, "passed": passed}
    counted = [g for g in groups if groups[g]["n"] > 0]
    m = len(counted) * (len(counted) - 1) // 2
    gap: dict[str, Any] = {"value": None, "lb95": None, "ub95": None, "ci95": None, "between": [],
                           "method": METHOD, "confidence": confidence, "n_pairs": m}
    summary = {"groups": groups, "max_gap": gap, "n_groups": len(counted), "pairs": []}
    if m == 0:
        return summary
    level = 1 - (1 - confidence) / m  # Bonferroni: every pair's interval at alpha/m
    hi = max(counted, key=lambda g: (groups[g]["rate"], g))
    lo = min(counted, key=lambda g: (groups[g]["rate"], g))
    lower, upper = 0.0, 0.0
    pairs = []
    for a, b in combinations(counted, 2):
        first, second = (a, b) if groups[a]["rate"] >= groups[b]["rate"] else (b, a)
        low, high = newcombe_interval(counts[first], counts[second], level)
        # |p_a - p_b| lies in [max(0, low, -high), max(high, -low)] when p_a - p_b lies in [low, high]
        lower = max(lower, low, -high)
        upper = max(upper, high, -low)
        pairs.append({"between": [first, second], "value": round(groups[first]["rate"] - groups[second]["rate"], 6),
                      "ci95": [round(low, 6), round(high, 6)], "excludes_zero": low > 0 or high < 0})
    value = groups[hi]["rate"] - groups[lo]["rate"]
    gap.update(value=round(value, 6), lb95=round(lower, 6), ub95=round(upper, 6),
               ci95=[round(lower, 6), round(upper, 6)], between=[hi, lo])
    pairs.sort(key=lambda p: (-p["value"], p["between"]))
    summary["pairs"] = pairs[:MAX_PAIRS_LISTED]
    return summary


# --------------------------------------------------------------------------- naming slices
_PART = r"[A-Za-z0-9_\-]+"
_PATH_RE = re.compile(rf"^{_PART}(\.{_PART})*$")
_NAME_RE = re.compile(rf"^{_PART}$")


def parse_slice(text: Any) -> tuple[str, str]:
    """``(name, path)`` of a slice written ``PATH`` or ``NAME=PATH``; ``ValueError`` says what is wrong.

    ``PATH`` is a dotted path into a case record (``metadata.segment``, ``tags``, ``group``); the
    slice's name, under which its metrics appear (``slices.<name>``), is the path's last part
    unless ``NAME=`` gives another (for two paths ending alike)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a record field such as 'metadata.segment' or 'NAME=PATH', got {text!r}")
    name, sep, path = text.strip().partition("=")
    if not sep:
        name, path = "", name
    name, path = name.strip(), path.strip()
    if not _PATH_RE.match(path):
        raise ValueError(f"{path!r} is not a dotted record path (letters, digits, '_' or '-' between dots)")
    name = name or path.rsplit(".", 1)[-1]
    if not _NAME_RE.match(name):
        raise ValueError(f"slice name {name!r}: expected letters, digits, '_' or '-'")
    return name, path


def merge_slices(*lists: Any) -> dict[str, str]:
    """``name -> path`` from lists of ``(name, path)``; ``ValueError`` for one name on two paths."""
    merged: dict[str, str] = {}
    for entries in lists:
        for name, path in entries:
            if merged.get(name, path) != path:
                raise ValueError(f"slice name {name!r} stands for both {merged[name]!r} and {path!r}: give one "
                                 f"an explicit name, e.g. '{name}2={path}'")
            merged[name] = path
    return merged


def slice_labels(record: Mapping[str, Any], path: str) -> list[str]:
    """The labels of ``record`` at dotted ``path``: one for a scalar, one per distinct item of a
    list (a case with tags ``[a, b]`` is in both slices), none when missing, null or a mapping."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return []
        node = node[part]
    items = node if isinstance(node, (list, tuple)) else [node]
    labels = []
    for item in items:
        if item is None or isinstance(item, (Mapping, list, tuple)):
            continue
        label = str(item).lower() if isinstance(item, bool) else str(item)
        if label not in labels:
            labels.append(label)
    return labels
