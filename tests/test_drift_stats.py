"""The drift kind's statistics checked against scipy and hand computations (no embedder)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pytest_llmops.suites.drift.compare import (
    compare_means,
    compare_rates,
    incomplete_beta,
    t_quantile,
    t_two_sided_p,
)
from pytest_llmops.suites.drift.mmd import mmd_test
from pytest_llmops.suites.drift.stream import Running
from pytest_llmops.suites.drift.topics import _kmeans_numpy, cluster, topic_shift


@pytest.mark.parametrize("a, b, x", [(0.5, 0.5, 0.3), (2.0, 3.0, 0.7), (15.0, 0.5, 0.95), (200.0, 0.5, 0.999)])
def test_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    from scipy.special import betainc

    assert incomplete_beta(a, b, x) == pytest.approx(betainc(a, b, x), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("t, df", [(0.0, 5), (1.3, 3), (2.5, 12.7), (-4.0, 40), (3.1, 2000)])
def test_student_t_matches_scipy(t: float, df: float) -> None:
    assert t_two_sided_p(t, df) == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-8, abs=1e-14)
    assert t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-7)


def test_welch_from_running_sums_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.poisson(30, 400).astype(float), rng.poisson(33, 250).astype(float)
    runs = []
    for values in (ref, cur):
        running = Running()
        for v in values:
            running.add(v)
        assert running.mean == pytest.approx(values.mean()) and running.variance == pytest.approx(values.var(ddof=1))
        runs.append((running.n, running.mean, running.variance))
    out = compare_means(runs[0], runs[1], unit="words")
    expected = stats.ttest_ind(cur, ref, equal_var=False)
    assert out["value"] == pytest.approx(cur.mean() - ref.mean(), abs=1e-6)
    assert out["p_value"] == pytest.approx(expected.pvalue, rel=1e-6)
    low, high = expected.confidence_interval(0.95)
    assert out["ci95"] == pytest.approx([low, high], abs=1e-5)
    assert out["p_value"] < 0.01 and out["ci95"][0] > 0  # a 3-word increase at these n is found


def test_rates_newcombe_interval_and_p_values() -> None:
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80 -> difference 0.2000, hybrid score 95% CI
    # (0.0524, 0.3339).
    out = compare_rates((48, 80), (56, 70))
    assert out["value"] == pytest.approx(0.2) and out["ci95"] == pytest.approx([0.0524, 0.3339], abs=1e-4)
    assert out["test"] == "Fisher exact"
    assert out["p_value"] == pytest.approx(stats.fisher_exact([[56, 14], [48, 32]]).pvalue, rel=1e-9)
    assert out["reference"]["value"] == pytest.approx(0.6) and out["current"]["k"] == 56
    # large windows: the pooled z (score) test, as scipy's chi-square without continuity correction
    big = compare_rates((500, 10000), (620, 10000))
    chi2 = stats.chi2_contingency([[620, 9380], [500, 9500]], correction=False)
    assert big["test"] == "two-proportion z" and big["p_value"] == pytest.approx(chi2.pvalue, rel=1e-6)
    same = compare_rates((50, 1000), (50, 1000))
    assert same["value"] == 0 and same["ci95"][0] < 0 < same["ci95"][1] and same["p_value"] == pytest.approx(1.0)
    empty = compare_rates((0, 0), (3, 10))
    assert empty["value"] is None and empty["p_value"] is None


def _direct_unbiased_mmd2(x: np.ndarray, y: np.ndarray, bandwidth2: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * bandwidth2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_mmd_statistic_matches_the_direct_formula() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 5)), rng.normal(0.3, 1.0, size=(30, 5))
    out = mmd_test(x, y, permutations=99, seed=0)
    z = np.concatenate([x, y])
    d2 = ((z[:, None] - z[None]) ** 2).sum(-1)
    median = float(np.median(d2[np.triu_indices(len(z), 1)]))
    assert out["bandwidth"] == pytest.approx(math.sqrt(median), rel=1e-4)
    assert out["mmd2"] == pytest.approx(_direct_unbiased_mmd2(x, y, median), abs=1e-5)


def _unit(rng: np.random.Generator, n: int, shift: float = 0.0, d: int = 32) -> np.ndarray:
    v = rng.normal(size=(n, d))
    v[:, 0] += shift
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_mmd_finds_a_shift_and_holds_its_level_on_a_a_splits() -> None:
    rng = np.random.default_rng(2)
    shifted = mmd_test(_unit(rng, 150), _unit(rng, 150, shift=1.0), permutations=199, seed=0)
    assert shifted["p_value"] < 0.01 and shifted["effect_size"] > 0.005
    # 20 A/A comparisons at alpha 0.05: the permutation test's level is exact, so a handful at most
    p_values = [mmd_test(_unit(rng, 60), _unit(rng, 60), permutations=99, seed=s)["p_value"] for s in range(20)]
    assert sum(p < 0.05 for p in p_values) <= 4
    assert min(p_values) >= 1 / 100  # never below the permutation floor
    tiny = mmd_test(_unit(rng, 1), _unit(rng, 5), permutations=99)
    assert tiny["p_value"] is None


FRUIT = ("apple", "banana", "cherry")


def test_topics_report_the_grown_cluster_with_examples() -> None:
    rng = np.random.default_rng(3)
    centres = np.eye(16)[:3] * 5
    def points(counts: list[int]) -> tuple[np.ndarray, list[str]]:
        rows, texts = [], []
        for j, count in enumerate(counts):
            rows.append(centres[j] + rng.normal(scale=0.3, size=(count, 16)))
            texts += [f"{FRUIT[j]} question {i}" for i in range(count)]
        return np.concatenate(rows), texts
    ref, ref_texts = points([95, 100, 5])
    cur, cur_texts = points([60, 60, 80])
    out = topic_shift(ref, cur, ref_texts, cur_texts, k=3, seed=0)
    grown = out["grown"][0]
    assert grown["share_reference"] == pytest.approx(5 / 200) and grown["share_current"] == pytest.approx(80 / 200)
    assert grown["ci95"][0] > 0 and grown["p_value"] < 1e-6
    assert len(grown["examples"]) == 3 and all(e.startswith("cherry") for e in grown["examples"])
    assert grown["keywords"][0] == "cherry"  # not "question", which every topic has
    assert {c["cluster"] for c in out["shrunk"]} <= {c["cluster"] for c in out["clusters"]}
    assert out["method"].startswith("k-means (numpy")


def test_numpy_kmeans_matches_scikit_learn_quality() -> None:
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0, 0.1, (30, 4)), rng.normal(3, 0.1, (30, 4))])
    labels = _kmeans_numpy(x, 2, seed=0)
    assert len(set(labels[:30])) == 1 and len(set(labels[30:])) == 1 and labels[0] != labels[-1]
    # On unit vectors without clear clusters (the hard case), the inertia is as low as scikit-learn's.
    v = rng.normal(size=(600, 24))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ours, _ = cluster(v, 8, seed=0)
    inertia = sum(float(((v[ours == j] - v[ours == j].mean(0)) ** 2).sum()) for j in set(ours.tolist()))
    theirs = KMeans(n_clusters=8, n_init=4, random_state=0).fit(v).inertia_
    assert inertia <= theirs * 1.01, (inertia, theirs)
