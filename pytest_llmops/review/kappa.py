"""Chance-corrected agreement: Cohen's kappa (two raters), Fleiss' kappa (several), and their
95% intervals by a seeded percentile bootstrap over cases.

Kappa answers the question a raw agreement rate cannot: would two raters who said "pass" as
often as these two, but at random, agree this often anyway? 1 is perfect agreement, 0 is
chance, below 0 is worse than chance. An automatic check that passes everything agrees with
humans on every case they passed, and still has kappa 0.

The formulas are the textbook ones (Cohen 1960; Fleiss 1971), written with numpy because no
runtime dependency of the plugin ships them (scikit-learn's ``cohen_kappa_score`` and
statsmodels' ``fleiss_kappa`` would be a large install for a few lines); the tests check them
against published worked examples. The interval resamples cases, which keeps the pairing of a
case's ratings.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261130  # fixed: the same labels always give the same interval


def _codes(*raters: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """The raters' labels as integer codes over one shared category list."""
    categories = sorted({label for rater in raters for label in rater}, key=str)
    index = {label: i for i, label in enumerate(categories)}
    return np.array([[index[label] for label in rater] for rater in raters]), len(categories)


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters' labels on the same cases; None when it is undefined.

    Undefined: no case, or both raters used one and the same category throughout (chance
    agreement is then 1, and 0/0 says nothing).
    """
    if len(first) != len(second):
        raise ValueError(f"the raters labelled different numbers of cases ({len(first)} and {len(second)})")
    if not first:
        return None
    codes, k = _codes(first, second)
    return _cohen_from_codes(codes[0], codes[1], k)


def _cohen_from_codes(a: np.ndarray, b: np.ndarray, k: int) -> float | None:
    observed = float(np.mean(a == b))
    chance = float(np.dot(np.bincount(a, minlength=k), np.bincount(b, minlength=k))) / (len(a) ** 2)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa of ``ratings[case][rater]``: every case rated by the same number (>= 2) of raters.

    None when undefined (no case, or every rating in one category).
    """
    if not ratings:
        return None
    sizes = {len(row) for row in ratings}
    if len(sizes) != 1 or min(sizes) < 2:
        raise ValueError("Fleiss' kappa needs the same number (at least 2) of ratings for every case")
    codes, k = _codes(*[list(col) for col in zip(*ratings)])
    return _fleiss_from_counts(_category_counts(codes.T, k))


def _category_counts(rows: np.ndarray, k: int) -> np.ndarray:
    """``counts[case][category]``: how many raters put the case in the category."""
    return np.stack([np.bincount(row, minlength=k) for row in rows])


def _fleiss_from_counts(counts: np.ndarray) -> float | None:
    n_raters = counts.sum(axis=1)[0]
    per_case = (np.square(counts).sum(axis=1) - n_raters) / (n_raters * (n_raters - 1))
    shares = counts.sum(axis=0) / counts.sum()
    chance = float(np.square(shares).sum())
    if chance >= 1.0:
        return None
    return (float(per_case.mean()) - chance) / (1.0 - chance)


def _bootstrap(n_cases: int, statistic: Callable[[np.ndarray], float | None],
               resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> list[float] | None:
    """Percentile 95% interval of ``statistic(case_indices)`` over resampled cases.

    Resamples where the statistic is undefined (all labels alike) are left out; when most
    are, the interval is None rather than a number built on a few resamples.
    """
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        value = statistic(rng.integers(0, n_cases, n_cases))
        if value is not None:
            values.append(value)
    if len(values) < resamples // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [round(float(low), 6), round(float(high), 6)]


def kappa_metric(value: float | None, ci95: list[float] | None, n: int, method: str) -> dict[str, Any]:
    """The report's shape for a kappa: ``{"value", "ci95", "n", "method"}`` (gateable as ``X.lb95``)."""
    return {"value": None if value is None else round(value, 6), "ci95": ci95, "n": n, "method": method}


def cohen_kappa_metric(first: Sequence[Hashable], second: Sequence[Hashable]) -> dict[str, Any]:
    """Cohen's kappa of two raters with its bootstrap interval, in the report's shape."""
    value = cohen_kappa(first, second)
    ci95 = None
    if value is not None and len(first) >= 2:
        codes, k = _codes(first, second)
        ci95 = _bootstrap(len(first), lambda idx: _cohen_from_codes(codes[0][idx], codes[1][idx], k))
    return kappa_metric(value, ci95, len(first), "cohen")


def fleiss_kappa_metric(ratings: Sequence[Sequence[Hashable]]) -> dict[str, Any]:
    """Fleiss' kappa of several raters with its bootstrap interval, in the report's shape."""
    value = fleiss_kappa(ratings)
    ci95 = None
    if value is not None and len(ratings) >= 2:
        codes, k = _codes(*[list(col) for col in zip(*ratings)])
        counts = _category_counts(codes.T, k)
        ci95 = _bootstrap(len(ratings), lambda idx: _fleiss_from_counts(counts[idx]))
    return kappa_metric(value, ci95, len(ratings), "fleiss")
