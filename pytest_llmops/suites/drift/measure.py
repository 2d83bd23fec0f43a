"""A drift comparison from a parsed spec: scan the log, embed the samples, run the tests.

Kept apart from the kind so benchmarks and tests can run a comparison without pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmops.core.stats import holm
from pytest_llmops.suites.drift.compare import compare_means, compare_rates
from pytest_llmops.suites.drift.mmd import mmd_test
from pytest_llmops.suites.drift.spec import DriftSpec
from pytest_llmops.suites.drift.stream import Scanner, WindowStats, scan
from pytest_llmops.suites.drift.topics import topic_shift

EMBED_BATCH = 32  # rows per batch: larger batches cost more resident memory (docs/drift.md) for little speed


def default_embed(texts: list[str]) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings (the model ``similar`` checks use), in batches,
    through the transformers-free encoder (``encoder.py``: same vectors, a third of the memory)."""
    from pytest_llmops.suites.drift.encoder import shared_lean_minilm  # torch: only when a drift suite runs

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return shared_lean_minilm().embed(texts, batch_size=EMBED_BATCH)


def output_drift(ref: WindowStats, cur: WindowStats) -> dict[str, Any]:
    """Each output behaviour as a two-window comparison (current minus reference)."""
    out: dict[str, Any] = {
        "answer_words": compare_means((ref.words.n, ref.words.mean, ref.words.variance),
                                      (cur.words.n, cur.words.mean, cur.words.variance), unit="words"),
        "refusal_rate": compare_rates((ref.refused, ref.n), (cur.refused, cur.n)),
        "non_english_rate": compare_rates((ref.foreign, ref.n), (cur.foreign, cur.n)),
    }
    if ref.json_expected or cur.json_expected:
        out["json_valid_rate"] = compare_rates((ref.json_valid, ref.json_expected), (cur.json_valid, cur.json_expected))
    if ref.checks or cur.checks:
        labels = sorted({*ref.checks, *cur.checks})
        out["checks"] = {label: compare_rates(tuple(ref.checks.get(label, [0, 0])),  # type: ignore[arg-type]
                                              tuple(cur.checks.get(label, [0, 0])))  # type: ignore[arg-type]
                         for label in labels}
    if out.get("checks") or "json_valid_rate" in out:
        out["pass_rate"] = compare_rates((ref.passed, ref.n), (cur.passed, cur.n))
    return out


def _output_tests(output: dict[str, Any]) -> dict[str, float]:
    """Every output comparison's p-value, by metric path."""
    found = {}
    for name, entry in output.items():
        entries = entry.items() if name == "checks" else [("", entry)]
        for label, item in entries:
            if item.get("p_value") is not None:
                found[f"output.{name}" + (f".{label}" if label else "")] = item["p_value"]
    return found


def verdict(result: dict[str, Any], alpha: float) -> dict[str, Any]:
    """Which comparisons drifted at ``alpha``: the input shift on its own p-value, the output
    comparisons on Holm-adjusted ones (one family), so the case's false-alarm rate is at most
    ``2 * alpha`` however many checks a suite declares."""
    adjusted: dict[str, float] = {}
    if result["input_shift"].get("p_value") is not None:
        adjusted["input_shift"] = result["input_shift"]["p_value"]
    tested = _output_tests(result["output"])
    names = sorted(tested)
    adjusted.update(zip(names, holm([tested[n] for n in names])))
    drifted = [n for n, p in adjusted.items() if p < alpha]
    return {"alpha": alpha, "correction": "Holm over the output comparisons", "tested": len(adjusted),
            "drifted": drifted, "adjusted_p": {n: round(p, 6) for n, p in adjusted.items()}, "drift": bool(drifted)}


def _window_facts(stats: WindowStats, describe: str) -> dict[str, Any]:
    return {"range": describe, "n": stats.n, "first": stats.first.isoformat() if stats.first else None,
            "last": stats.last.isoformat() if stats.last else None, "sampled": len(stats.sample)}


def run_drift(spec: DriftSpec, checks: dict[str, Any], context: dict[str, Any],
              relative: Callable[[Path], str] = str,
              embed: Callable[[list[str]], np.ndarray] = default_embed) -> dict[str, Any]:
    """The drift result a case's record carries (``drift``), plus ``slice_counts`` and ``failures``."""
    started = time.perf_counter()
    scanner, windows = scan(spec, checks, context)
    scanned = time.perf_counter()
    ref, cur = scanner.stats["reference"], scanner.stats["current"]
    ref_texts, cur_texts = [t for _, _, t in ref.sample], [t for _, _, t in cur.sample]
    vectors = embed(ref_texts + cur_texts)
    x, y = vectors[:len(ref_texts)], vectors[len(ref_texts):]
    embedded = time.perf_counter()
    result: dict[str, Any] = {
        "windows": {name: _window_facts(scanner.stats[name], windows[name].describe(relative))
                    for name in ("reference", "current")},
        "input_shift": mmd_test(x, y, spec.permutations, spec.seed),
        "topics": topic_shift(x, y, ref_texts, cur_texts, spec.topics, spec.seed),
        "output": output_drift(ref, cur),
        "log": _log_facts(scanner),
        "sample_cap": spec.sample,
    }
    result["verdict"] = verdict(result, spec.alpha)
    done = time.perf_counter()
    result["timings"] = {"scan_s": round(scanned - started, 3), "embed_s": round(embedded - scanned, 3),
                        "tests_s": round(done - embedded, 3), "lines": scanner.lines,
                        "us_per_line": round(1e6 * (done - started) / max(1, scanner.lines), 1)}
    return {"drift": result, "slice_counts": slice_counts(scanner), "failures": scanner.failures}


def _log_facts(scanner: Scanner) -> dict[str, Any]:
    return {"lines": scanner.lines, "bad_lines": scanner.error_count, "errors": scanner.errors}


def slice_counts(scanner: Scanner) -> dict[str, dict[str, dict[str, list[int]]]]:
    """``{field: {window: {group: [passed, n]}}}``: per-interaction outcomes folded per group."""
    out: dict[str, dict[str, dict[str, list[int]]]] = {}
    for window, stats in scanner.stats.items():
        for path, groups in stats.slices.items():
            out.setdefault(path, {})[window] = {g: list(c) for g, c in sorted(groups.items())}
    return out
