"""How well does the bias-slice gap interval work? Coverage, false alarms and sensitivity by simulation.

Each trial draws every group's passes from a binomial at a known rate and folds the counts with
:func:`pytest_llmops.core.slices.slice_summary`, the function the report uses:

- coverage: the share of trials whose max-gap interval ``[lb95, ub95]`` holds the true largest gap
  (and, beside it, the share where every pairwise Newcombe interval at the Bonferroni level holds
  its true difference at once);
- false alarms: with equal rates, the share of trials whose gap interval excludes 0 (``lb95 > 0``,
  what a gate ``slices.X.max_gap.lb95 <= 0`` would block);
- sensitivity: with a planted gap, the share of trials whose interval excludes 0, and how often
  ``ub95 <= 0.1`` (the issue's example gate) still lets it through.

Seeded, so a rerun prints the same table (docs/slices.md quotes it)::

    python benchmarks/slices_power.py                 # 2,000 trials per setting
    python benchmarks/slices_power.py --trials 500
"""

from __future__ import annotations

import argparse
import random
import time
from itertools import combinations

from pytest_llmops.core.slices import newcombe_interval, slice_summary

#: (label, rates by group, cases per group)
EQUAL = [
    ("2 groups, p=0.8, n=150", {"free": 0.8, "pro": 0.8}, 150),
    ("2 groups, p=0.5, n=30", {"a": 0.5, "b": 0.5}, 30),
    ("2 groups, p=0.9, n=50", {"a": 0.9, "b": 0.9}, 50),
    ("2 groups, p=0.95, n=14", {"female": 0.95, "male": 0.95}, 14),
    ("3 groups, p=0.7, n=60", {"a": 0.7, "b": 0.7, "c": 0.7}, 60),
    ("4 groups, p=0.8, n=100", {"a": 0.8, "b": 0.8, "c": 0.8, "d": 0.8}, 100),
    ("8 groups, p=0.9, n=50", {str(i): 0.9 for i in range(8)}, 50),
    ("2 groups, p=0.9, n=500", {"a": 0.9, "b": 0.9}, 500),
]
PLANTED = [
    (f"0.75 vs 0.95, n={n}", {"free": 0.75, "pro": 0.95}, n) for n in (30, 50, 100, 150, 300)
] + [
    (f"0.85 vs 0.95, n={n}", {"free": 0.85, "pro": 0.95}, n) for n in (50, 100, 150, 300)
] + [
    ("0.70/0.80/0.80/0.80, n=100", {"a": 0.7, "b": 0.8, "c": 0.8, "d": 0.8}, 100),
    ("0.80 vs 0.95 of 0.95 x4, n=100", {"a": 0.8, "b": 0.95, "c": 0.95, "d": 0.95, "e": 0.95}, 100),
]


def simulate(rates: dict[str, float], n: int, trials: int, seed: int) -> dict[str, float]:
    """Shares over ``trials`` seeded draws: gap covered, all pairs covered, flagged, gated (ub95 <= 0.1)."""
    rng = random.Random(seed)
    true_gap = max(rates.values()) - min(rates.values())
    m = len(rates) * (len(rates) - 1) // 2
    covered = pairs_ok = flagged = gated_ok = 0
    for _ in range(trials):
        counts = {g: (sum(rng.random() < p for _ in range(n)), n) for g, p in rates.items()}
        gap = slice_summary(counts)["max_gap"]
        covered += gap["lb95"] - 1e-9 <= true_gap <= gap["ub95"] + 1e-9
        flagged += gap["lb95"] > 0
        gated_ok += gap["ub95"] <= 0.1
        pairs_ok += all(lo - 1e-9 <= rates[a] - rates[b] <= hi + 1e-9
                        for a, b in combinations(sorted(rates), 2)
                        for lo, hi in [newcombe_interval(counts[a], counts[b], 1 - 0.05 / m)])
    return {"covered": covered / trials, "pairs": pairs_ok / trials, "flagged": flagged / trials,
            "gate_passes": gated_ok / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"{args.trials} seeded trials per setting\n")
    print("| equal rates | gap covered | all pairs covered | false alarms (lb95 > 0) | passes 'ub95 <= 0.1' |")
    print("| --- | ---: | ---: | ---: | ---: |")
    alarms = []
    for seed, (label, rates, n) in enumerate(EQUAL):
        r = simulate(rates, n, args.trials, seed)
        alarms.append(r["flagged"])
        print(f"| {label} | {r['covered']:.3f} | {r['pairs']:.3f} | {r['flagged']:.3f} | {r['gate_passes']:.3f} |")
    print(f"\nfalse alarms pooled over the equal-rate settings: {sum(alarms) / len(alarms):.3f}\n")
    print("| planted gap | gap covered | found (lb95 > 0) | passes 'ub95 <= 0.1' |")
    print("| --- | ---: | ---: | ---: |")
    for seed, (label, rates, n) in enumerate(PLANTED, start=100):
        r = simulate(rates, n, args.trials, seed)
        print(f"| {label} | {r['covered']:.3f} | {r['flagged']:.3f} | {r['gate_passes']:.3f} |")
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
