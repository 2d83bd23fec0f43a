"""Folding regression records into per-metric comparisons and the suite's decision.

Runs on the controller, from records only (so plain and xdist runs agree). Every metric
gets its candidate mean, and, when the run compares against a baseline, the paired
analysis: ``delta`` {value, ci95}, McNemar ``p_value`` on the pass/fail flips, the flip
lists, and a ``decision`` made on Holm-adjusted one-sided bootstrap p-values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.kinds import Aggregator
from pytest_llmops.suites.regression.judging import JudgeTally
from pytest_llmops.suites.regression.agreement import VERDICT_SCORE, sign_test_worse, smallest_alarm
from pytest_llmops.suites.regression.paired import (
    decide,
    holm,
    mcnemar_exact,
    minimum_detectable_drop,
    paired_bootstrap,
    worst,
)

MAX_LISTED_IDS = 200  # flip and stale lists in the report; counts are always complete


class RegressionAggregator(Aggregator):
    """Pairs candidate and baseline scores case by case."""

    def __init__(self) -> None:
        self.config: dict[str, dict[str, Any]] = {}
        self.candidate: dict[str, dict[str, float]] = {}  # case id -> metric -> score
        self.baseline: dict[str, dict[str, float]] = {}
        self.passed: dict[str, dict[str, bool]] = {}
        self.baseline_passed: dict[str, dict[str, bool]] = {}
        self.new: list[str] = []
        self.source: str | None = None
        self.complete = True
        self.seed = 0
        self.errored: set[str] = set()
        self.baseline_file: str | None = None
        self.agreement: dict[str, dict[str, Any]] = {}  # case id -> agreement record
        self.agreement_config: dict[str, Any] | None = None
        self.judge = JudgeTally()

    def add(self, record: dict[str, Any]) -> None:
        if isinstance(record.get("judge"), dict):
            self.judge.add(record["judge"])
        result = record.get("regression")
        if not isinstance(result, dict):
            # An errored case ran (it is not stale); it simply has no scores.
            self.errored.add(str(record.get("id")))
            return
        case = str(record["id"])
        self.config = result.get("metrics_config") or self.config
        self.complete = self.complete and bool(result.get("suite_complete", True))
        self.seed = int(result.get("seed") or 0)
        self.source = result.get("baseline_source", self.source)
        self.baseline_file = result.get("baseline_file", self.baseline_file)
        self.candidate[case] = result["scores"]
        self.passed[case] = result["passed"]
        if result.get("status") == "compared":
            self.baseline[case] = result["baseline"]["scores"]
            self.baseline_passed[case] = result["baseline"]["passed"]
            if isinstance(result.get("agreement"), dict):
                self.agreement[case] = result["agreement"]
                self.agreement_config = result.get("agreement_config") or self.agreement_config
        elif result.get("status") == "new":
            self.new.append(case)

    def metrics(self) -> dict[str, Any]:
        judged = {"judge": self.judge.summary()} if self.judge.cases else {}
        if not self.config:
            return judged
        out: dict[str, Any] = dict(judged)
        for name in self.config:
            scores = [s[name] for s in self.candidate.values()]
            passes = sum(1 for p in self.passed.values() if p[name])
            out[name] = {"mean": _mean(scores), "pass_rate": rate_metric(passes, len(scores)),
                         **self.config[name]}
        if self.source is None:
            # Scores only. Without a baseline "did it regress?" has no answer, which a gate
            # must see as inconclusive rather than as a missing metric or a pass.
            out["decision"] = "inconclusive"
            out["decision_reason"] = ("no baseline: run with --llm-baseline DIR or --llm-baseline-model SPEC "
                                      "(store one with --llm-update-baseline)")
            return out
        paired = sorted(self.baseline)
        out["baseline"] = {"source": self.source, "compared": len(paired), "new": len(self.new),
                           "new_cases": sorted(self.new)[:MAX_LISTED_IDS], **self._stale()}
        if not paired:
            out["decision"] = "inconclusive"
            out["decision_reason"] = "no case could be paired with the baseline"
            return out
        analysed = {name: self._compare(name, paired) for name in self.config}
        gated = [name for name in self.config if self.config[name]["gate"]]
        agreement = self._agreement(paired)
        if agreement is not None:
            out["agreement"] = agreement
            # The alarm asks "worse?" with the gated metrics: one family for that question.
            analysed["agreement"] = agreement
            if agreement["gate"]:
                gated.append("agreement")
        # Holm across the gated metrics, separately for each question; the agreement alarm
        # only asks whether the candidate is worse, so it joins that family alone.
        for key in ("p_noninferiority", "p_inferiority", "p_value"):
            family = [name for name in gated if key == "p_inferiority" or name != "agreement"]
            adjusted = holm([analysed[name][key] for name in family])
            for name, value in zip(family, adjusted):
                analysed[name][f"{key}_holm" if key != "p_value" else "p_holm"] = round(value, 6)
        for name, result in analysed.items():
            p_ni = result.get("p_noninferiority_holm", result["p_noninferiority"])
            p_inf = result.get("p_inferiority_holm", result["p_inferiority"])
            result["decision"] = decide(p_ni, p_inf)
            if name != "agreement":
                out[name].update(result)
        if agreement is not None:
            # An alarm, not a non-inferiority test: it can make the suite regressed, nothing else.
            agreement["decision"] = "regressed" if agreement["decision"] == "regressed" else "no_alarm"
            agreement["smallest_alarm"] = smallest_alarm(len(gated))
        decisions = [analysed[name]["decision"] for name in gated if name != "agreement"]
        if agreement is not None and agreement["gate"] and agreement["decision"] == "regressed":
            decisions.append("regressed")
        out["decision"] = worst(decisions) if decisions else "inconclusive"
        regressed = [name for name in gated if analysed[name]["decision"] == "regressed"]
        if regressed:
            out["run_failures"] = [_regressed_line(name, analysed[name]) for name in regressed]
        return out

    def _agreement(self, paired: list[str]) -> dict[str, Any] | None:
        """Same-output rate, semantic agreement and the net change, over the paired cases."""
        cases = [c for c in paired if c in self.agreement]
        if not cases or self.agreement_config is None:
            return None
        records = [self.agreement[c] for c in cases]
        scores = [VERDICT_SCORE.get(r.get("verdict", "tie"), 0.0) for r in records]
        boot = paired_bootstrap(scores, 0.0, seed=self.seed)  # the net change's interval, for reading
        same = sum(1 for r in records if r.get("same"))
        similarities = [float(r["similarity"]) for r in records if r.get("similarity") is not None]
        by_verdict = {v: [c for c, r in zip(cases, records) if r.get("verdict") == v]
                      for v in ("worse", "better", "tie")}
        return {
            "n": len(cases), "same_output": rate_metric(same, len(cases)),
            "semantic": {"mean": _mean(similarities), "min": round(min(similarities), 6) if similarities else None},
            "worse": len(by_verdict["worse"]), "better": len(by_verdict["better"]), "ties": len(by_verdict["tie"]),
            "net_change": {"value": round(boot.delta, 6), "ci95": [round(boot.ci95[0], 6), round(boot.ci95[1], 6)]},
            "delta": {"value": round(boot.delta, 6), "ci95": [round(boot.ci95[0], 6), round(boot.ci95[1], 6)]},
            # The alarm: one-sided exact sign test, worse against better (Holm-adjusted below).
            "p_inferiority": float(f"{sign_test_worse(len(by_verdict['worse']), len(by_verdict['better'])):.6g}"),
            "p_noninferiority": 1.0,
            "p_value": round(mcnemar_exact(len(by_verdict["worse"]), len(by_verdict["better"])), 6),
            # As a comparison row: the baseline against itself has no change; flips are the verdicts.
            "baseline_mean": 0.0, "candidate_mean": round(boot.delta, 6),
            "flips": {"improved": len(by_verdict["better"]), "regressed": len(by_verdict["worse"])},
            "gate": bool(self.agreement_config.get("gate", True)),
            "worse_cases": by_verdict["worse"][:MAX_LISTED_IDS], "better_cases": by_verdict["better"][:MAX_LISTED_IDS],
            "reasons": {c: self.agreement[c].get("worse", [])[:3] for c in by_verdict["worse"][:MAX_LISTED_IDS]},
        }

    def _compare(self, name: str, paired: list[str]) -> dict[str, Any]:
        deltas = [self.candidate[c][name] - self.baseline[c][name] for c in paired]
        baseline_scores = [self.baseline[c][name] for c in paired]
        config = self.config[name]
        baseline_mean = sum(baseline_scores) / len(baseline_scores)
        # A relative margin ("10%") is a share of the baseline's mean over the paired cases.
        tolerance = float(config["tolerance"]) * (abs(baseline_mean) if config.get("tolerance_relative") else 1.0)
        boot = paired_bootstrap(deltas, tolerance, seed=self.seed)
        improved = [c for c in paired if self.passed[c][name] and not self.baseline_passed[c][name]]
        regressed = [c for c in paired if not self.passed[c][name] and self.baseline_passed[c][name]]
        return {
            "n": len(paired),
            "tolerance_abs": round(tolerance, 6),
            "mde80": round(minimum_detectable_drop(deltas, baseline_scores, tolerance), 6),
            "baseline_mean": _mean(baseline_scores),
            "candidate_mean": _mean([self.candidate[c][name] for c in paired]),
            "delta": {"value": round(boot.delta, 6), "ci95": [round(boot.ci95[0], 6), round(boot.ci95[1], 6)]},
            "p_value": round(mcnemar_exact(len(regressed), len(improved)), 6),
            "p_noninferiority": round(boot.p_noninferior, 6),
            "p_inferiority": round(boot.p_inferior, 6),
            "flips": {"improved": len(improved), "regressed": len(regressed),
                      "improved_cases": improved[:MAX_LISTED_IDS], "regressed_cases": regressed[:MAX_LISTED_IDS]},
        }

    def _stale(self) -> dict[str, Any]:
        """Baseline cases that did not run: only meaningful when the whole suite ran."""
        if not self.complete:
            return {"stale": None, "stale_note": "not checked: only part of the suite was selected"}
        if not self.baseline_file:
            return {"stale": 0, "stale_cases": []}
        path = Path(self.baseline_file)
        try:
            stored = json.loads(path.read_text(encoding="utf-8")).get("cases", {})
        except (OSError, ValueError):
            return {"stale": None, "stale_note": f"could not re-read {path}"}
        ran = set(self.candidate) | set(self.new) | self.errored
        stale = sorted(set(stored) - ran)
        return {"stale": len(stale), "stale_cases": stale[:MAX_LISTED_IDS]}


def _regressed_line(name: str, result: dict[str, Any]) -> str:
    """The terminal's reason for a failed run: which metric, by how much, against what."""
    low, high = result["delta"]["ci95"]
    if name == "agreement":
        return (f"agreement regressed: {result['worse']} answers changed for the worse, {result['better']} for "
                f"the better (sign test p {result.get('p_inferiority_holm', result['p_inferiority']):.2g} after "
                f"Holm); net change {result['delta']['value']:+.3f} [{low:+.3f}, {high:+.3f}]")
    return (f"{name} regressed: delta {result['delta']['value']:+.3f} [{low:+.3f}, {high:+.3f}] "
            f"is below the tolerance -{result['tolerance_abs']:g}")


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None
