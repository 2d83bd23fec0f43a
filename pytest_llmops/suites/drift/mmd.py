"""Input drift: the maximum mean discrepancy between two samples of embeddings, with a
permutation test (Gretton et al. 2012, "A Kernel Two-Sample Test").

- Kernel: Gaussian RBF ``exp(-|x-y|^2 / (2 s^2))`` with ``s^2`` the median pairwise squared
  distance of the pooled sample (the median heuristic).
- Statistic: the unbiased MMD^2 estimate. Its null distribution comes from ``permutations``
  seeded relabellings of the pooled sample; the p-value is ``(1 + #{null >= observed}) /
  (1 + permutations)``, so it is never 0 and is exact in level.
- Effect size: the share of the pooled sample's variance in the kernel's feature space that
  the window label explains, ``w_ref * w_cur * MMD^2 / (1 - mean k(z, z'))`` (an eta-squared:
  0 when the windows look alike, growing towards 1 as they separate), which does not grow
  with the sample sizes the way a p-value does.

Memory: the pooled kernel matrix, ``(n_ref + n_cur)^2`` float32 values (64 MB at the default
2,000 per window); permutations run in chunks against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHUNK = 100  # permutations per matrix product


def _squared_distances(z: np.ndarray) -> np.ndarray:
    norms = (z * z).sum(axis=1)
    d2 = norms[:, None] + norms[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    return d2


def _mmd2_from_sums(within_x: np.ndarray, row_sums_x: np.ndarray, total: float, m: int, n: int) -> np.ndarray:
    """Unbiased MMD^2 from ``A = s'Ks`` and ``s'r`` (``r`` = row sums of K, ``s`` the X indicator)."""
    cross = row_sums_x - within_x  # s'K(1-s)
    within_y = total - 2.0 * row_sums_x + within_x  # (1-s)'K(1-s)
    # K has ones on its diagonal (k(z, z) = 1): remove them from the within sums.
    return (within_x - m) / (m * (m - 1)) + (within_y - n) / (n * (n - 1)) - 2.0 * cross / (m * n)


def mmd_test(reference: np.ndarray, current: np.ndarray, permutations: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The input-shift metric: ``{p_value, mmd, mmd2, effect_size, bandwidth, n_reference, n_current, permutations}``."""
    m, n = len(reference), len(current)
    out: dict[str, Any] = {"n_reference": m, "n_current": n, "permutations": permutations, "test": "MMD permutation",
                           "kernel": "rbf (median heuristic)"}
    if m < 2 or n < 2:
        return {**out, "p_value": None, "mmd": None, "mmd2": None, "effect_size": None, "value": None}
    z = np.concatenate([reference, current]).astype(np.float32)
    d2 = _squared_distances(z)
    upper = d2[np.triu_indices(len(z), k=1)]
    median = float(np.median(upper)) or 1.0  # identical points: any bandwidth gives the same answer
    kernel = np.exp(-d2 / (2.0 * median), dtype=np.float32)
    del d2, upper
    row_sums = kernel.sum(axis=1, dtype=np.float64)
    total = float(row_sums.sum())
    labels = np.zeros(m + n, dtype=np.float32)
    labels[:m] = 1.0
    observed = float(_mmd2_from_sums(np.array([labels @ kernel @ labels], dtype=np.float64),
                                     np.array([labels @ row_sums]), total, m, n)[0])
    rng = np.random.default_rng(seed)
    exceed = 0
    done = 0
    while done < permutations:
        size = min(CHUNK, permutations - done)
        indicators = np.zeros((size, m + n), dtype=np.float32)
        for row in range(size):
            indicators[row, rng.permutation(m + n)[:m]] = 1.0
        within = ((indicators @ kernel) * indicators).sum(axis=1, dtype=np.float64)
        null = _mmd2_from_sums(within, indicators.astype(np.float64) @ row_sums, total, m, n)
        exceed += int((null >= observed - 1e-12).sum())
        done += size
    mean_k = total / float((m + n) ** 2)
    w_ref, w_cur = m / (m + n), n / (m + n)
    spread = 1.0 - mean_k
    effect = w_ref * w_cur * max(observed, 0.0) / spread if spread > 0 else 0.0
    p_value = (1 + exceed) / (1 + permutations)
    return {**out, "p_value": round(p_value, 6), "mmd2": round(observed, 8), "mmd": round(max(observed, 0.0) ** 0.5, 6),
            "effect_size": round(effect, 6), "value": round(effect, 6), "bandwidth": round(median ** 0.5, 6)}
