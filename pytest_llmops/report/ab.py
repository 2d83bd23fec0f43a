"""Prompt A/B: every candidate variant of a suite against its reference, folded from records.

A suite run with several prompt variants becomes one suite per variant (``<suite>@<variant>``);
their records carry ``prompt_variant``, ``prompt_reference`` and ``prompt_suite``. Here, on the
controller and from records alone (so ``-n 2``, ``llmops merge`` of shards and a refold agree),
each candidate is paired with the reference case by case, per model:

- pass/fail: exact McNemar on the discordant cases (the flips); under repeats (records with
  ``repeats.pass_fraction``), the paired sign-flip test on the per-case pass fractions, of
  which McNemar is the special case with one sample;
- graded check scores (a check whose scores are not all 0 or 1, such as ``similar``): the
  paired sign-flip test on the per-case mean score;
- every delta (candidate minus reference, higher is better) with a paired-bootstrap 95% interval;
- Holm across the metrics of one candidate; a metric's verdict is ``better`` or ``worse`` when
  its Holm-adjusted two-sided p-value is below 0.05, else ``inconclusive``. The candidate's
  ``decision`` is ``worse`` if any metric is worse, else ``better`` if any is better, else
  ``inconclusive``. Nothing here claims two variants are equivalent.

The result goes into the candidate suite's metrics as ``ab`` (so a gate can read
``ab.decision``), and a short ``ab`` entry into the reference suite's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from pytest_llmops.core.stats import bootstrap_ci, holm, mcnemar_exact, sign_flip_p

ALPHA = 0.05  # two-sided, after Holm
MAX_LISTED = 200  # flipped cases listed in the report; the counts are always complete
VERDICTS = ("better", "worse", "inconclusive")


@dataclass
class CaseFacts:
    """What the comparison needs of one record."""

    outcome: str
    fraction: float | None  # repeats.pass_fraction, when the case was sampled k > 1 times
    scores: dict[str, float]  # check name -> mean score of the case's checks of that name
    output: str  # a hash of the answer: how many cases gave the very same answer

    @property
    def scored(self) -> bool:
        return self.outcome in ("passed", "failed")

    @property
    def pass_value(self) -> float:
        return self.fraction if self.fraction is not None else float(self.outcome == "passed")


def _facts(record: dict[str, Any]) -> CaseFacts:
    repeats = record.get("repeats")
    fraction = repeats.get("pass_fraction") if isinstance(repeats, dict) else None
    sums: dict[str, list[float]] = {}
    for check in record.get("checks") or []:
        score = check.get("score") if isinstance(check, dict) else None
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            sums.setdefault(str(check.get("name")), []).append(float(score))
    output = hashlib.sha256(str(record.get("output")).encode("utf-8")).hexdigest()[:16]
    return CaseFacts(outcome=str(record.get("outcome")),
                     fraction=float(fraction) if isinstance(fraction, (int, float)) else None,
                     scores={name: sum(v) / len(v) for name, v in sums.items()}, output=output)


@dataclass
class _Variant:
    suite: str
    cases: dict[str, CaseFacts] = field(default_factory=dict)
    versions: set[str] = field(default_factory=set)


@dataclass
class _Group:
    reference: str
    variants: dict[str, _Variant] = field(default_factory=dict)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _p(value: float) -> float:
    """A p-value to six significant digits (a tiny one must not round to 0)."""
    return float(f"{value:.6g}")


def _version(versions: set[str]) -> Any:
    return next(iter(versions)) if len(versions) == 1 else sorted(versions) or None


def _metric(reference: list[float], candidate: list[float], test: str, p_value: float) -> dict[str, Any]:
    deltas = [c - r for r, c in zip(reference, candidate)]
    n = len(deltas)
    low, high = bootstrap_ci(deltas)
    return {"reference": _round(sum(reference) / n), "candidate": _round(sum(candidate) / n),
            "delta": {"value": _round(sum(deltas) / n), "ci95": [_round(low), _round(high)]},
            "n": n, "test": test, "p_value": _p(p_value)}


def compare(reference: dict[str, CaseFacts], candidate: dict[str, CaseFacts]) -> dict[str, Any]:
    """The comparison of one candidate's cases with the reference's (both by case id)."""
    paired = sorted(c for c in candidate if c in reference and candidate[c].scored and reference[c].scored)
    out: dict[str, Any] = {"paired": len(paired), "unpaired": len(set(reference) | set(candidate)) - len(paired)}
    if not paired:
        out.update(decision="inconclusive", decision_reason="no case could be paired with the reference (errors "
                                                            "or skips on either side)", metrics={}, flips={}, flipped=[])
        return out
    ref = [reference[c] for c in paired]
    cand = [candidate[c] for c in paired]
    repeats = any(f.fraction is not None for f in ref + cand)
    worse = [c for c, r, k in zip(paired, ref, cand) if r.outcome == "passed" and k.outcome == "failed"]
    better = [c for c, r, k in zip(paired, ref, cand) if r.outcome == "failed" and k.outcome == "passed"]
    metrics: dict[str, dict[str, Any]] = {}
    ref_pass, cand_pass = [f.pass_value for f in ref], [f.pass_value for f in cand]
    if repeats:
        deltas = [c - r for r, c in zip(ref_pass, cand_pass)]
        metrics["pass_fraction"] = _metric(ref_pass, cand_pass, "sign_flip", sign_flip_p(deltas))
    else:
        metrics["pass_rate"] = _metric(ref_pass, cand_pass, "mcnemar_exact", mcnemar_exact(len(worse), len(better)))
    # Graded checks only: a 0/1 check score says no more than the pass rate already does.
    names = sorted({n for f in ref + cand for n in f.scores})
    for name in names:
        pairs = [(r.scores[name], k.scores[name]) for r, k in zip(ref, cand) if name in r.scores and name in k.scores]
        if pairs and any(v not in (0.0, 1.0) for pair in pairs for v in pair):
            r_scores, c_scores = [p[0] for p in pairs], [p[1] for p in pairs]
            p = sign_flip_p([c - r for r, c in pairs])
            metrics[f"{name}_score"] = _metric(r_scores, c_scores, "sign_flip", p)
    adjusted = holm([m["p_value"] for m in metrics.values()])
    for m, p_holm in zip(metrics.values(), adjusted):
        m["p_holm"] = _p(p_holm)
        m["verdict"] = ("inconclusive" if p_holm >= ALPHA or m["delta"]["value"] == 0
                        else "better" if m["delta"]["value"] > 0 else "worse")
    verdicts = {m["verdict"] for m in metrics.values()}
    flipped = sorted([(c, "passed", "failed") for c in worse] + [(c, "failed", "passed") for c in better])
    listed = []
    for case, before, after in flipped[:MAX_LISTED]:
        entry: dict[str, Any] = {"id": case, "from": before, "to": after}
        if repeats:
            entry.update(from_fraction=_round(reference[case].pass_value), to_fraction=_round(candidate[case].pass_value))
        listed.append(entry)
    out.update(decision="worse" if "worse" in verdicts else "better" if "better" in verdicts else "inconclusive",
               metrics=metrics, flips={"better": len(better), "worse": len(worse)}, flipped=listed,
               same_outputs=sum(1 for r, k in zip(ref, cand) if r.output == k.output))
    return out


class ABCollector:
    """Gathers the facts of variant records as they arrive; :meth:`results` folds them."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], _Group] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Keep what the comparison needs of ``record`` (records of no variant are ignored)."""
        variant = record.get("prompt_variant")
        if not isinstance(variant, str):
            return
        group_name = str(record.get("prompt_suite") or str(record["suite"]).removesuffix(f"@{variant}"))
        group = self.groups.setdefault((group_name, str(record["model"])),
                                       _Group(reference=str(record.get("prompt_reference") or variant)))
        facts = group.variants.setdefault(variant, _Variant(suite=str(record["suite"])))
        facts.cases[str(record.get("id"))] = _facts(record)
        if record.get("prompt_version"):
            facts.versions.add(str(record["prompt_version"]))

    def results(self, key_of: Callable[[str, str], str]) -> dict[tuple[str, str], dict[str, Any]]:
        """``(suite, model) -> ab`` entry for every variant suite; ``key_of`` gives a suite's report key."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for (name, model), group in sorted(self.groups.items()):
            reference = group.variants.get(group.reference)
            candidates = sorted(v for v in group.variants if v != group.reference)  # arrival order varies
            for variant, facts in group.variants.items():
                entry: dict[str, Any] = {"suite": name, "variant": variant, "reference": group.reference,
                                         "prompt_version": _version(facts.versions)}
                if variant == group.reference:
                    entry.update(decision="reference", candidates=candidates)
                elif reference is None:
                    entry.update(decision="inconclusive", decision_reason=f"the reference variant {group.reference!r} "
                                 "has no cases in this report", metrics={}, flips={}, flipped=[])
                else:
                    entry.update(reference_suite=key_of(reference.suite, model),
                                 reference_prompt_version=_version(reference.versions),
                                 **compare(reference.cases, facts.cases))
                out[(facts.suite, model)] = entry
        return out
