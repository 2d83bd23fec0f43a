"""How well does the grounding scorer tell supported claims from unsupported ones?

``fixtures/grounding/labelled.jsonl`` has 204 answer sentences written for the project, each
with two retrieved passages and a label (supported: a paraphrase; unsupported: a number or a
name changed, a claim the passage never makes, a contradiction). The passages alternate
between a ``dev`` split, where the embedding threshold is chosen (the one with the best
accuracy), and a ``test`` split, where the figures below are measured::

    HF_HUB_OFFLINE=1 python benchmarks/grounding_accuracy.py
    HF_HUB_OFFLINE=1 python benchmarks/grounding_accuracy.py --traffic   # also: the shipped log's RAG lines

"Positive" means unsupported (what the scorer is for finding): precision is the share of
flagged sentences that are unsupported, recall the share of unsupported ones flagged. Each
figure comes with its Wilson 95% interval; per-kind detection rates show what is missed.
``--traffic`` scores every RAG answer of ``fixtures/logs/traffic.jsonl`` and compares the
measured unsupported share per window with the planted truth (``traffic_labels.json``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pytest_llmops.checks.embeddings import shared_embedder
from pytest_llmops.checks.grounding import SUPPORT_THRESHOLD, grounding
from pytest_llmops.core.stats import wilson_interval

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "fixtures" / "grounding" / "labelled.jsonl"


def _fmt(hits: int, n: int) -> str:
    low, high = wilson_interval(hits, n)
    return f"{hits / n if n else float('nan'):.3f} [{low:.3f}, {high:.3f}] ({hits}/{n})"


def score_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item with its embedding support and lexical problems (both threshold-free)."""
    embedder = shared_embedder()
    for item in items:
        result = grounding(item["sentence"], item["contexts"], threshold=-1.0, embedder=embedder)
        claim = [s for s in result["sentences"] if s["claim"]]
        item["support"] = min((s["support"] for s in claim), default=1.0)
        # At threshold -1 no sentence is below it: the problems left are the lexical ones.
        item["lexical"] = any(s["problems"] for s in claim)
    return items


def flagged(item: dict[str, Any], threshold: float, use_lexical: bool = True, use_embedding: bool = True) -> bool:
    return (use_lexical and item["lexical"]) or (use_embedding and item["support"] < threshold)


def choose_threshold(dev: list[dict[str, Any]]) -> float:
    """The midpoint between adjacent dev support values with the best dev accuracy (the lowest on ties)."""
    values = sorted({round(i["support"], 4) for i in dev})
    candidates = [(a + b) / 2 for a, b in zip(values, values[1:])] or [SUPPORT_THRESHOLD]
    best = max(candidates, key=lambda t: (sum(flagged(i, t) != i["supported"] for i in dev), -t))
    return round(best, 3)


def report(name: str, items: list[dict[str, Any]], **flags: Any) -> None:
    threshold = flags.pop("threshold")
    predicted = [flagged(i, threshold, **flags) for i in items]
    truth = [not i["supported"] for i in items]
    tp = sum(p and t for p, t in zip(predicted, truth))
    print(f"  {name}")
    print(f"    accuracy  {_fmt(sum(p == t for p, t in zip(predicted, truth)), len(items))}")
    print(f"    precision {_fmt(tp, sum(predicted))}")
    print(f"    recall    {_fmt(tp, sum(truth))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traffic", action="store_true", help="also score the shipped log's RAG answers")
    args = parser.parse_args()
    items = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    started = time.perf_counter()
    score_items(items)
    seconds = time.perf_counter() - started
    dev = [i for i in items if i["split"] == "dev"]
    test = [i for i in items if i["split"] == "test"]
    chosen = choose_threshold(dev)
    print(f"{len(items)} labelled sentences ({len(dev)} dev, {len(test)} test), scored in {seconds:.1f} s")
    print(f"threshold chosen on dev: {chosen} (shipped SUPPORT_THRESHOLD: {SUPPORT_THRESHOLD})")
    print(f"dev accuracy at {chosen}: {_fmt(sum(flagged(i, chosen) != i['supported'] for i in dev), len(dev))}")
    print("test split, positive = unsupported, Wilson 95% intervals:")
    report(f"embedding + lexical at {SUPPORT_THRESHOLD} (shipped)", test, threshold=SUPPORT_THRESHOLD)
    if chosen != SUPPORT_THRESHOLD:
        report(f"embedding + lexical at {chosen} (chosen on dev now)", test, threshold=chosen)
    report("embedding only", test, threshold=SUPPORT_THRESHOLD, use_lexical=False)
    report("lexical only", test, threshold=SUPPORT_THRESHOLD, use_embedding=False)
    print("  per kind (test): share flagged unsupported by the shipped scorer")
    for kind in dict.fromkeys(i["kind"] for i in test):
        own = [i for i in test if i["kind"] == kind]
        print(f"    {kind:<14} {_fmt(sum(flagged(i, SUPPORT_THRESHOLD) for i in own), len(own))}")
    if args.traffic:
        traffic(SUPPORT_THRESHOLD)


def traffic(threshold: float) -> None:
    """The unsupported share the scorer measures on the shipped log, against the planted truth."""
    folder = ROOT / "fixtures" / "logs"
    truth = {t["id"]: t for t in json.loads((folder / "traffic_labels.json").read_text())["lines"]}
    embedder = shared_embedder()
    counts: dict[str, list[int]] = {}
    started = time.perf_counter()
    scored = 0
    for raw in (folder / "traffic.jsonl").read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        label = truth[line["id"]]
        if "contexts" not in line or label["unsupported"] is None:
            continue
        found = not grounding(line["answer"], line["contexts"], threshold, embedder)["supported"]
        row = counts.setdefault(label["window"], [0, 0, 0, 0])  # measured, truth, agreed, n
        row[0] += found
        row[1] += label["unsupported"]
        row[2] += found == label["unsupported"]
        row[3] += 1
        scored += 1
    seconds = time.perf_counter() - started
    print(f"traffic.jsonl RAG answers ({scored}, {1000 * seconds / max(scored, 1):.1f} ms each):")
    for window, (measured, planted, agreed, n) in counts.items():
        print(f"  {window:<9} measured unsupported {_fmt(measured, n)}; planted {planted / n:.3f}; "
              f"per-answer agreement {agreed / n:.3f}")


if __name__ == "__main__":
    main()
