"""Suite metrics of repeated sampling, folded from records alone (so shards merge exactly).

Over the suite's scored cases (passed or failed; errors and skips are left out, as for the
pass rate), each case ``i`` ran ``k_i`` samples of which ``x_i`` passed:

- ``pass_fraction``: the mean per-case pass fraction ``x_i / k_i``, with a 95% interval;
- ``pass_at_k``: the share of cases with at least one passing sample (Wilson interval);
- ``pass_all_k``: the share of cases whose every sample passed (Wilson interval);
- ``flakiness``: among cases that ran more than one sample, the share that both passed and
  failed (Wilson interval), with the count of flaky cases.

They appear only when some case ran with k > 1, so suites without repeats report as before.

The pass fraction's samples are clustered: a case's samples share its prompt, so they agree
far more often than independent trials would, and treating all ``sum(k_i)`` samples as
independent would make the interval too narrow. The interval is Wilson's at the effective
sample size (Kish's design effect): ``n_eff = p(1 - p) / var``, where ``var`` is the
cluster-robust variance of the mean, ``s^2 / n`` over the per-case fractions, clamped to
``[n cases, sum(k_i) samples]``: as many as the cases when a case's samples always agree
(the samples add nothing), as many as the samples when they are independent. Where the
fractions do not vary at all (every case at 1.0, say) it takes the cases as the sample size,
the conservative end, instead of the zero-width interval a bootstrap would give there.
"""

from __future__ import annotations

import statistics
from typing import Any

from pytest_llmops.core.stats import rate_metric, wilson_interval

SCORED = ("passed", "failed")


def effective_n(fractions: list[float], samples: int) -> float:
    """Kish's effective sample size of the mean of per-case ``fractions`` (``samples`` draws in all)."""
    n = len(fractions)
    if n < 2:
        return float(n)
    mean = statistics.fmean(fractions)
    variance_of_mean = statistics.variance(fractions) / n
    if variance_of_mean <= 0.0:
        return float(n)  # no spread to learn a design effect from: the cases are the units
    return min(float(samples), max(float(n), mean * (1.0 - mean) / variance_of_mean))


def pass_fraction_metric(fractions: list[float], samples: int) -> dict[str, Any]:
    """``{"value", "ci95", "n", "n_samples", "n_eff"}`` for the mean of per-case pass fractions."""
    n = len(fractions)
    if n == 0:
        return {"value": None, "ci95": [0.0, 1.0], "n": 0, "n_samples": 0, "n_eff": 0.0}
    mean = statistics.fmean(fractions)
    n_eff = effective_n(fractions, samples)
    low, high = wilson_interval(mean * n_eff, n_eff)
    return {"value": mean, "ci95": [round(low, 6), round(high, 6)], "n": n, "n_samples": samples,
            "n_eff": round(n_eff, 3)}


class RepeatsAggregator:
    """Folds records' ``repeats`` fields (a record without one is a single sample: its outcome)."""

    def __init__(self) -> None:
        self.fractions: list[float] = []
        self.samples = 0
        self.any_pass = 0
        self.all_pass = 0
        self.repeated = 0  # cases with k > 1
        self.flaky = 0
        self.ks: set[int] = set()

    def add(self, record: dict[str, Any]) -> None:
        """Count one scored case (errors and skips carry no verdict to count)."""
        if record.get("outcome") not in SCORED:
            return
        repeats = record.get("repeats")
        if isinstance(repeats, dict) and int(repeats.get("k") or 1) > 1:
            k, passed = int(repeats["k"]), int(repeats.get("passed") or 0)
            self.repeated += 1
            self.flaky += bool(0 < passed < k)
            self.ks.add(k)
        else:
            k, passed = 1, int(record.get("outcome") == "passed")
        self.fractions.append(passed / k)
        self.samples += k
        self.any_pass += passed > 0
        self.all_pass += passed == k

    def metrics(self) -> dict[str, Any]:
        """The four repeat metrics, or nothing when no case ran more than one sample."""
        if not self.repeated:
            return {}
        n = len(self.fractions)
        return {
            # sorted: records arrive in any order (xdist, shards); the fold must not depend on it
            "pass_fraction": pass_fraction_metric(sorted(self.fractions), self.samples),
            "pass_at_k": rate_metric(self.any_pass, n),
            "pass_all_k": rate_metric(self.all_pass, n),
            "flakiness": {**rate_metric(self.flaky, self.repeated), "flaky": self.flaky, "k": sorted(self.ks)},
        }
