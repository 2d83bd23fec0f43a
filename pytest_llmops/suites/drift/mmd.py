"""Input drift: the maximum mean discrepancy between two samples of embeddings, with a
permutation test (Gretton et al. 2012, "A Kernel Two-Sample Test").

- Kernel: Gaussian RBF ``exp(-|x-y|^2 / (2 s^2))`` with ``s^2`` the median pairwise squared
  distance of the pooled sample (the median heuristic; over 100,000 seeded random pairs when
  the sample has more).
- Statistic: the unbiased MMD^2 estimate. Its null distribution comes from ``permutations``
  seeded relabellings of the pooled sample; the p-value is ``(1 + #{null >= observed}) /
  (1 + permutations)``, so it is never 0 and is exact in level.
- Effect size: the share of the pooled sample's variance in the kernel's feature space that
  the window label explains, ``w_ref * w_cur * MMD^2 / (1 - mean k(z, z'))`` (an eta-squared:
  0 when the windows look alike, growing towards 1 as they separate), which does not grow
  with the sample sizes the way a p-value does.

Memory: the kernel matrix is computed ``BLOCK`` rows at a time and folded into every
labelling's quadratic form at once, so it is never held whole; what is held is the
labellings, ``(permutations + 1) x (n_ref + n_cur)`` float32 values (16 MB at the defaults:
1,000 permutations, 2,000 messages per window).
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK = 512  # kernel rows computed at a time
MEDIAN_PAIRS = 100_000


def median_pair_distance(z: np.ndarray, seed: int, pairs: int = MEDIAN_PAIRS) -> float:
    """Median squared distance over all pairs ``i < j``, or over ``pairs`` seeded random ones
    when there are more (the median heuristic needs no more precision than that)."""
    size = len(z)
    if size * (size - 1) // 2 <= pairs:
        i, j = np.triu_indices(size, k=1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, size, pairs)
        j = (i + rng.integers(1, size, pairs)) % size  # never i itself
    d2 = np.concatenate([((z[i[k:k + 10_000]] - z[j[k:k + 10_000]]) ** 2).sum(1) for k in range(0, len(i), 10_000)])
    return float(np.median(d2))


def _mmd2_from_sums(within_x: np.ndarray, row_sums_x: np.ndarray, total: float, m: int, n: int) -> np.ndarray:
    """Unbiased MMD^2 from ``A = s'Ks`` and ``s'r`` (``r`` = row sums of K, ``s`` the X indicator)."""
    cross = row_sums_x - within_x  # s'K(1-s)
    within_y = total - 2.0 * row_sums_x + within_x  # (1-s)'K(1-s)
    # K has ones on its diagonal (k(z, z) = 1): remove them from the within sums.
    return (within_x - m) / (m * (m - 1)) + (within_y - n) / (n * (n - 1)) - 2.0 * cross / (m * n)


def _quadratic_forms(z: np.ndarray, median: float, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(s'Ks, K1)`` for every labelling ``s`` (rows of ``labels``), computing the kernel matrix
    ``BLOCK`` rows at a time: it is never held whole, so memory does not grow with its square."""
    norms = (z * z).sum(1)
    within = np.zeros(len(labels), dtype=np.float64)
    row_sums = np.zeros(len(z), dtype=np.float64)
    for start in range(0, len(z), BLOCK):
        stop = min(len(z), start + BLOCK)
        block = z[start:stop] @ z.T  # rows start..stop of K, built in place
        block *= -2.0
        block += norms[start:stop, None]
        block += norms[None, :]
        np.maximum(block, 0.0, out=block)
        block *= -1.0 / (2.0 * median)
        np.exp(block, out=block)
        row_sums[start:stop] = block.sum(1, dtype=np.float64)
        partial = block @ labels.T  # (rows, labellings): K[rows] s
        within += (labels[:, start:stop].T * partial).sum(0, dtype=np.float64)
    return within, row_sums


def mmd_test(reference: np.ndarray, current: np.ndarray, permutations: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The input-shift metric: ``{p_value, mmd, mmd2, effect_size, bandwidth, n_reference, n_current, permutations}``."""
    m, n = len(reference), len(current)
    out: dict[str, Any] = {"n_reference": m, "n_current": n, "permutations": permutations, "test": "MMD permutation",
                           "kernel": "rbf (median heuristic)"}
    if m < 2 or n < 2:
        return {**out, "p_value": None, "mmd": None, "mmd2": None, "effect_size": None, "value": None}
    z = np.concatenate([reference, current]).astype(np.float32)
    median = median_pair_distance(z, seed) or 1.0  # identical points: any bandwidth gives the same answer
    rng = np.random.default_rng(seed)
    # Row 0 is the observed labelling (the reference window); the others are seeded relabellings.
    labels = np.zeros((permutations + 1, m + n), dtype=np.float32)
    labels[0, :m] = 1.0
    for row in range(1, permutations + 1):
        labels[row, rng.permutation(m + n)[:m]] = 1.0
    within, row_sums = _quadratic_forms(z, median, labels)
    total = float(row_sums.sum())
    sums = np.concatenate([labels[k:k + 100].astype(np.float64) @ row_sums for k in range(0, len(labels), 100)])
    stats = _mmd2_from_sums(within, sums, total, m, n)
    observed, null = float(stats[0]), stats[1:]
    exceed = int((null >= observed - 1e-9).sum())
    mean_k = total / float((m + n) ** 2)
    w_ref, w_cur = m / (m + n), n / (m + n)
    spread = 1.0 - mean_k
    effect = w_ref * w_cur * max(observed, 0.0) / spread if spread > 0 else 0.0
    p_value = (1 + exceed) / (1 + permutations)
    return {**out, "p_value": round(p_value, 6), "mmd2": round(observed, 8), "mmd": round(max(observed, 0.0) ** 0.5, 6),
            "effect_size": round(effect, 6), "value": round(effect, 6), "bandwidth": round(median ** 0.5, 6)}
