"""Topics that grew or shrank: k-means clusters of the pooled sample of user-message embeddings.

The clustering is k-means in a few lines of numpy (seeded k-means++ starts, 4 restarts,
Lloyd iterations). scikit-learn's ``KMeans`` is the well-kept implementation, but importing
it (with scipy) adds about 150 MB resident, a third of the drift kind's memory budget, for
a few thousand points; ``tests/test_drift_stats.py`` checks that this one reaches the same
clustering quality (inertia) as scikit-learn's on the same data. Each cluster's
share of each window's sample is compared like any rate (``compare.compare_rates``), and the
clusters whose share grew or shrank most are reported with a few keywords and the messages
nearest their centre as examples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_llmops.suites.drift.compare import compare_rates

METHOD = "k-means (numpy: k-means++ starts, 4 restarts, Lloyd iterations)"
SHOWN = 3  # clusters reported each way, and examples per cluster
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_STOP = frozenset("""the and for you your are was were with this that have has had not but can could
would should what when where which who how why our out all any get got does did its it's from into
about just like will there their them then than been being also some more most very i'm don't""".split())


def _nearest(x: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and squared distance to each row's nearest centre."""
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ centres.T + (centres * centres).sum(1)[None, :]
    index = np.argmin(d2, axis=1)
    return index, np.maximum(d2[np.arange(len(x)), index], 0.0)


def _kmeans_numpy(x: np.ndarray, k: int, seed: int, restarts: int = 4, iterations: int = 100) -> np.ndarray:
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), dtype=int), np.inf
    for _ in range(restarts):
        centres = x[[rng.integers(len(x))]]
        while len(centres) < k:  # k-means++: the next centre drawn in proportion to squared distance
            _, d2 = _nearest(x, centres)
            pick = rng.choice(len(x), p=d2 / d2.sum()) if d2.sum() > 0 else rng.integers(len(x))
            centres = np.vstack([centres, x[pick]])
        labels = np.full(len(x), -1)
        for _step in range(iterations):
            new, _ = _nearest(x, centres)
            if np.array_equal(new, labels):
                break
            labels = new
            centres = np.array([x[labels == j].mean(0) if np.any(labels == j) else centres[j] for j in range(k)])
        inertia = float(_nearest(x, centres)[1].sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def cluster(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, str]:
    """Cluster labels of the rows of ``x`` and the method used."""
    k = max(1, min(k, len(x)))
    return _kmeans_numpy(x.astype(np.float64), k, seed), METHOD


def _keywords(texts: Sequence[str], background: Counter[str], total: int, top: int = 5) -> list[str]:
    counts = Counter(w for t in texts for w in set(_WORD.findall(t.lower())) if w not in _STOP)
    # words frequent in the cluster and rarer elsewhere (a smoothed lift times the count)
    scored = {w: c * np.log((c / len(texts)) / ((background[w] + 1) / (total + 1)) + 1e-9)
              for w, c in counts.items() if c >= 2}
    return [w for w, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def topic_shift(reference: np.ndarray, current: np.ndarray, ref_texts: Sequence[str], cur_texts: Sequence[str],
                k: int, seed: int) -> dict[str, Any]:
    """``{method, k, grown: [...], shrunk: [...], clusters: [...]}``; shares are of each window's sample."""
    m, n = len(reference), len(current)
    if m == 0 or n == 0:
        return {"method": None, "k": 0, "grown": [], "shrunk": [], "clusters": []}
    x = np.concatenate([reference, current])
    labels, method = cluster(x, k, seed)
    texts = list(ref_texts) + list(cur_texts)
    background = Counter(w for t in texts for w in set(_WORD.findall(t.lower())))
    clusters = []
    for j in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == j)
        in_ref = int((members < m).sum())
        in_cur = len(members) - in_ref
        entry = compare_rates((in_ref, m), (in_cur, n))
        centre = x[members].mean(0)
        grew = entry["value"] >= 0
        # examples from the window where the topic is the larger share, nearest the centre first
        pool = members[members >= m] if grew and in_cur else members[members < m] if in_ref else members
        nearest = pool[np.argsort(((x[pool] - centre) ** 2).sum(1))[:SHOWN]]
        clusters.append({"cluster": int(j), "share_reference": entry["reference"]["value"],
                         "share_current": entry["current"]["value"], "change": entry["value"], "ci95": entry["ci95"],
                         "p_value": entry["p_value"], "keywords": _keywords([texts[i] for i in members], background,
                                                                            len(texts)),
                         "examples": [texts[i][:200] for i in nearest.tolist()]})
    ordered = sorted(clusters, key=lambda c: c["change"])
    return {"method": method, "k": len(clusters),
            "grown": [c for c in reversed(ordered) if c["change"] > 0][:SHOWN],
            "shrunk": [c for c in ordered if c["change"] < 0][:SHOWN],
            "clusters": sorted(clusters, key=lambda c: c["cluster"])}
