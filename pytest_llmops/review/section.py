"""The ``human_review`` section of each suite: coverage, the human pass rate, agreement between
reviewers, and each automatic verdict's agreement with the humans.

Per case, the reviewers' decisive labels (pass or fail) are combined by majority; a tie or only
``unsure`` leaves the case undecided, counted in coverage but in no rate. Against that
consensus, each automatic verdict source (``cases.automatic_verdicts``) gets:

- ``kappa``: Cohen's kappa with its bootstrap interval;
- ``false_pass_rate``: of the cases the humans failed, the share the automatic verdict passed;
- ``false_fail_rate``: of the cases the humans passed, the share it failed;

both with Wilson intervals, so ``*: human_review.false_pass_rate.ub95 <= 0.1`` is a gate on
"at most 10% of the answers people reject get through". The suite-level ``kappa``,
``false_pass_rate`` and ``false_fail_rate`` are those of the case outcome.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.review.cases import (
    KEY_FIELDS, OUTCOME_SOURCE, automatic_verdicts, case_key, is_judge_source, key_tuple, model_fingerprints,
    reviewable,
)
from pytest_llmops.review.kappa import cohen_kappa_metric, fleiss_kappa_metric
from pytest_llmops.review.labels import Label, latest_per_reviewer
from pytest_llmops.review.sample import DEFAULT_SKIPPED_KINDS

MAX_LISTED_STALE = 200  # listed in the report; the count is always complete


def consensus(labels: dict[str, Label]) -> bool | None:
    """True (pass), False (fail) or None (undecided) from one case's labels by reviewer."""
    votes = Counter(label.label for label in labels.values() if label.label in ("pass", "fail"))
    if votes["pass"] == votes["fail"]:
        return None
    return votes["pass"] > votes["fail"]


def _stale_reason(key: tuple[str, ...], by_case: dict[tuple[str, str, str], dict[str, Any]]) -> str:
    fields = dict(zip(KEY_FIELDS, key))
    current = by_case.get((fields["suite"], fields["case"], fields["model"]))
    if current is None:
        return "no such case in this report"
    if current["fingerprint"] != fields["fingerprint"]:
        return "the model's fingerprint changed (another checkpoint under the same name)"
    return "the output changed since it was labelled"


def _reviewer_agreement(per_case: list[dict[str, Label]], reviewers: list[str]) -> dict[str, Any] | None:
    """Cohen's kappa for two reviewers, Fleiss' for more, on the cases every one of them labelled."""
    if len(reviewers) < 2:
        return None
    shared = [labels for labels in per_case if all(r in labels for r in reviewers)]
    ratings = [[labels[r].label for r in reviewers] for labels in shared]
    if len(reviewers) == 2:
        metric = cohen_kappa_metric([row[0] for row in ratings], [row[1] for row in ratings])
    else:
        metric = fleiss_kappa_metric(ratings)
    agreed = sum(len(set(row)) == 1 for row in ratings)
    metric["observed_agreement"] = rate_metric(agreed, len(ratings))
    return metric


def _source_agreement(pairs: list[tuple[bool, bool]], judge: bool) -> dict[str, Any]:
    """Agreement of one automatic source with the humans over ``(human_pass, auto_pass)`` pairs."""
    human_fail = [auto for human, auto in pairs if not human]
    human_pass = [auto for human, auto in pairs if human]
    block = cohen_kappa_metric([h for h, _ in pairs], [a for _, a in pairs])
    return {"n": len(pairs), "judge": judge, "kappa": block,
            "false_pass_rate": rate_metric(sum(human_fail), len(human_fail)),
            "false_fail_rate": rate_metric(sum(not a for a in human_pass), len(human_pass))}


def _suite_section(records: list[dict[str, Any]], keys: list[tuple[str, ...]],
                   labelled: dict[tuple[str, ...], dict[str, Label]], stale: int) -> dict[str, Any]:
    per_case, pairs_by_source = [], {}
    decided = passed = unsure = disputed = 0
    for record, key in zip(records, keys):
        labels = labelled.get(key)
        if not labels:
            continue
        per_case.append(labels)
        verdict = consensus(labels)
        if verdict is None:
            if any(label.label in ("pass", "fail") for label in labels.values()):
                disputed += 1
            else:
                unsure += 1
            continue
        decided += 1
        passed += verdict
        for source, auto in automatic_verdicts(record).items():
            pairs_by_source.setdefault(source, []).append((verdict, auto))
    reviewers = sorted({r for labels in per_case for r in labels})
    agreement = {source: _source_agreement(pairs, is_judge_source(source))
                 for source, pairs in sorted(pairs_by_source.items())}
    outcome = agreement.get(OUTCOME_SOURCE) or _source_agreement([], False)
    return {
        "coverage": {"value": round(len(per_case) / len(records), 6), "labelled": len(per_case),
                     "cases": len(records)},
        "reviewers": reviewers,
        "labels": sum(len(labels) for labels in per_case),
        "decided": decided, "undecided_unsure": unsure, "undecided_disputed": disputed,
        "stale_labels": stale,
        "human_pass_rate": rate_metric(passed, decided),
        "reviewer_agreement": _reviewer_agreement(per_case, reviewers),
        "kappa": outcome["kappa"], "false_pass_rate": outcome["false_pass_rate"],
        "false_fail_rate": outcome["false_fail_rate"],
        "agreement": agreement,
    }


def review_sections(report: dict[str, Any], labels: list[Label]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[Label]]:
    """``(sections by suite key, stale labels with reasons, labels applied)``.

    Every suite with a reviewable case gets a section, labelled or not (coverage 0 is a fact a
    gate should see), except the kinds the export leaves out by default (latency) when nobody
    labelled them. A label whose key matches no current case is stale: listed with why.
    """
    suites = report.get("suites") if isinstance(report.get("suites"), dict) else {}
    fingerprints = model_fingerprints(report)
    records_by_suite: dict[str, list[dict[str, Any]]] = {}
    keys_by_suite: dict[str, list[tuple[str, ...]]] = {}
    by_case: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in report.get("cases") or []:
        if not isinstance(record, dict) or not reviewable(record):
            continue
        key = case_key(record, report, fingerprints)
        records_by_suite.setdefault(key["suite"], []).append(record)
        keys_by_suite.setdefault(key["suite"], []).append(key_tuple(key))
        by_case[(key["suite"], key["case"], key["model"])] = key
    current = {key for keys in keys_by_suite.values() for key in keys}
    # One label per reviewer and case, the last given: a file imported twice counts once.
    latest = {(label.key, label.reviewer): label for label in labels}
    labels = list(latest.values())
    applied = [label for label in labels if label.key in current]
    stale_labels = [label for label in labels if label.key not in current]
    stale = [{**label.as_dict(), "why": _stale_reason(label.key, by_case)} for label in stale_labels]
    stale_by_suite = Counter(label.key[0] for label in stale_labels)
    labelled = latest_per_reviewer(applied)
    labelled_suites = {key[0] for key in labelled}
    sections = {suite: _suite_section(records, keys_by_suite[suite], labelled, stale_by_suite[suite])
                for suite, records in records_by_suite.items()
                if suite in suites and (records[0].get("kind") not in DEFAULT_SKIPPED_KINDS
                                        or suite in labelled_suites)}
    return sections, stale, applied


def apply_review(report: dict[str, Any], labels: list[Label], files: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the sections into ``report`` (each suite's ``human_review``, and the run-level
    ``human_review`` with the applied labels, so a later import adds to them); return the run-level block."""
    sections, stale, applied = review_sections(report, labels)
    for suite, section in sections.items():
        report["suites"][suite]["human_review"] = section
    block = {"files": files, "labels": [label.as_dict() for label in applied], "applied": len(applied),
             "stale": len(stale), "stale_listed": stale[:MAX_LISTED_STALE],
             "reviewers": sorted({label.reviewer for label in applied})}
    report["human_review"] = block
    return block
