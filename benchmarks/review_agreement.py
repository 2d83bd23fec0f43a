"""How well do the automatic verdicts agree with people? Pooled over suites, per kind and per source.

    python benchmarks/review_agreement.py reports/llmops-report.json fixtures/review/smollm2-labels.jsonl

The per-suite ``human_review`` sections (``llmops review import``) hold a handful of labels each;
this pools the labelled cases of a run by suite kind and by verdict source (the case outcome,
each check, each regression metric) and prints Cohen's kappa, the false-pass rate (of the answers
people failed, the share the automatic verdict passed) and the false-fail rate, with 95% intervals.
Stale labels (another output, another checkpoint) are counted and left out, as the import does.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.report.load import read_report
from pytest_llmops.review.cases import automatic_verdicts, case_key, key_tuple, model_fingerprints, reviewable
from pytest_llmops.review.kappa import cohen_kappa_metric
from pytest_llmops.review.labels import latest_per_reviewer, read_label_file
from pytest_llmops.review.section import consensus

MIN_PAIRS = 8  # sources judged on fewer labelled cases are not printed (their intervals say nothing)


def _fmt(metric: dict) -> str:
    if metric.get("value") is None:
        return "-"
    ci = metric.get("ci95")
    return f"{metric['value']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _row(name: str, pairs: list[tuple[bool, bool]]) -> str:
    human_fail = [auto for human, auto in pairs if not human]
    human_pass = [auto for human, auto in pairs if human]
    kappa = cohen_kappa_metric([h for h, _ in pairs], [a for _, a in pairs])
    fpr = rate_metric(sum(human_fail), len(human_fail))
    ffr = rate_metric(sum(not a for a in human_pass), len(human_pass))
    return (f"| {name} | {len(pairs)} | {len(human_pass)}/{len(pairs)} | {_fmt(kappa)} | "
            f"{_fmt(fpr)} (n={fpr['n']}) | {_fmt(ffr)} (n={ffr['n']}) |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("labels", type=Path, nargs="+")
    args = parser.parse_args(argv)
    report, _ = read_report(args.report)
    labels = []
    for path in args.labels:
        found = read_label_file(path)
        for error in found.errors:
            print(error, file=sys.stderr)
        labels.extend(found.labels)
    by_key = latest_per_reviewer(labels)
    fingerprints = model_fingerprints(report)
    by_kind: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    by_source: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    matched = undecided = 0
    for record in report.get("cases") or []:
        if not isinstance(record, dict) or not reviewable(record):
            continue
        given = by_key.get(key_tuple(case_key(record, report, fingerprints)))
        if not given:
            continue
        matched += 1
        verdict = consensus(given)
        if verdict is None:
            undecided += 1
            continue
        verdicts = automatic_verdicts(record)
        by_kind[str(record.get("kind"))].append((verdict, verdicts["outcome"]))
        by_kind["all kinds"].append((verdict, verdicts["outcome"]))
        for source, auto in verdicts.items():
            if source != "outcome":
                by_source[f"{record.get('kind')} {source}"].append((verdict, auto))
    print(f"{len(by_key)} labelled cases, {matched} match this report ({len(by_key) - matched} stale), "
          f"{undecided} undecided (unsure)\n")
    head = ("| {} | n | human pass | kappa [95% CI] | false-pass [95% CI] | false-fail [95% CI] |\n"
            "| --- | --- | --- | --- | --- | --- |")
    print("Case outcome against the humans, by suite kind:\n")
    print(head.format("kind"))
    for kind in sorted(by_kind, key=lambda k: (k == "all kinds", k)):
        print(_row(kind, by_kind[kind]))
    print(f"\nEach check and regression metric (sources with at least {MIN_PAIRS} labelled cases):\n")
    print(head.format("source"))
    for source in sorted(by_source):
        if len(by_source[source]) >= MIN_PAIRS:
            print(_row(source, by_source[source]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
