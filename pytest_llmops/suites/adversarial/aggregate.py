"""Suite metrics of the adversarial kind, folded from records on the controller (xdist-safe).

``attack_success_rate``            {value, ci95 (Wilson), n, successes, by_strategy, by_category, ...}
``baseline_attack_success_rate``   the same for the baseline prompt, when the suite has one
``comparison``                     subject vs baseline: difference, interval, p-value, verdict, note
``detector_false_positive_rate``   {value (the worst detector), ci95, n, worst, by_detector}
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.adversarial.significance import compare
from pytest_llmops.suites.kinds import Aggregator

_BREAKDOWNS = ("strategy", "category", "attack", "position")


class _Counts:
    def __init__(self) -> None:
        self.n = self.successes = 0
        self.variant: str | None = None
        self.by: dict[str, dict[str, list[int]]] = {key: {} for key in _BREAKDOWNS}

    def add(self, record: dict[str, Any]) -> None:
        succeeded = bool(record.get("attack_succeeded"))
        self.n += 1
        self.successes += succeeded
        self.variant = record.get("variant") or self.variant
        for key in _BREAKDOWNS:
            value = record.get(key)
            if value is not None:
                cell = self.by[key].setdefault(str(value), [0, 0])
                cell[0] += succeeded
                cell[1] += 1

    def metric(self) -> dict[str, Any]:
        out: dict[str, Any] = rate_metric(self.successes, self.n)
        out["successes"] = self.successes
        if self.variant:
            out["variant"] = self.variant
        for key in _BREAKDOWNS:
            cells = self.by[key]
            # A breakdown with a single value repeats the total; leave it out (strategies always shown).
            if len(cells) > 1 or (key == "strategy" and cells):
                out[f"by_{key}"] = {name: rate_metric(s, n) for name, (s, n) in sorted(cells.items())}
        return out


class AdversarialAggregator(Aggregator):
    def __init__(self) -> None:
        self.roles: dict[str, _Counts] = {}
        self.pairs: dict[str, dict[str, bool]] = {}
        self.benign_n = 0
        self.benign_hits: dict[str, list[str]] = {}

    def add(self, record: dict[str, Any]) -> None:
        fp = record.get("benign_fp")
        if isinstance(fp, dict):
            self.benign_n = max(self.benign_n, int(fp.get("n") or 0))
            for name, labels in (fp.get("hits") or {}).items():
                seen = self.benign_hits.setdefault(name, [])
                seen.extend(label for label in labels if label not in seen)
        if record.get("outcome") not in ("passed", "failed") or "attack_succeeded" not in record:
            return  # infra errors and skips are not measurements
        role = record.get("role") or "subject"
        self.roles.setdefault(role, _Counts()).add(record)
        if record.get("pair"):
            self.pairs.setdefault(record["pair"], {})[role] = bool(record["attack_succeeded"])

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        subject = self.roles.get("subject", _Counts())
        out["attack_success_rate"] = subject.metric()
        baseline = self.roles.get("baseline")
        if baseline is not None:
            out["baseline_attack_success_rate"] = baseline.metric()
            complete = [p for p in self.pairs.values() if "subject" in p and "baseline" in p]
            discordant = (sum(p["subject"] and not p["baseline"] for p in complete),
                          sum(p["baseline"] and not p["subject"] for p in complete))
            out["comparison"] = compare(subject.variant or "subject", subject.successes, subject.n,
                                        baseline.variant or "baseline", baseline.successes, baseline.n,
                                        discordant if complete else None)
        if self.benign_n:
            by_detector = {}
            for name, labels in sorted(self.benign_hits.items()):
                by_detector[name] = {**rate_metric(len(labels), self.benign_n), "hits": labels[:20]}
            worst = max(by_detector, key=lambda k: (by_detector[k]["value"], k)) if by_detector else None
            top = by_detector[worst] if worst else rate_metric(0, self.benign_n)
            out["detector_false_positive_rate"] = {
                "value": top["value"], "ci95": top["ci95"], "n": self.benign_n, "worst": worst,
                "by_detector": by_detector,
                "note": "share of the functional suite's benign outputs on which the detector fires",
            }
        return out
