"""How well does a judge judge? DeepEval metrics against labels written for this project.

``fixtures/judge/labelled_answers.yaml`` has 32 questions, each with the context a RAG pipeline
would retrieve and five answers: correct, wrong, partial, off_topic and unfaithful (160 rows).
Each judge metric has an expected verdict per label (below); the benchmark scores every row
with the metric, takes the metric's pass/fail at its threshold, and prints accuracy (Wilson 95%
interval), Cohen's kappa (percentile bootstrap 95% interval, 2,000 resamples over rows), n,
and how many rows ended in a judge error (no verdict: counted as wrong in the accuracy)::

    python benchmarks/judge_accuracy.py                           # the embedded SmolLM2 (transformers)
    python benchmarks/judge_accuracy.py --llama-server            # SmolLM2 GGUF served by llama.cpp
    python benchmarks/judge_accuracy.py --format-errors --rows 5  # every shipped metric, free vs constrained

``--format-errors`` runs each shipped DeepEval metric on the first rows with and without
constrained decoding and prints the judge format-error rate of each. Judge answers are cached
in ``.llmops-cache/judge-benchmark/`` (ignored by git), so a rerun only recomputes figures.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import yaml
from scipy import stats

from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.engine import Engine
from pytest_llmops.core.specs import parse_spec
from pytest_llmops.core.stats import wilson_interval
from pytest_llmops.core.subjects import Judge
from pytest_llmops.integrations.deepeval.batch import JudgeCase, score_many
from pytest_llmops.integrations.deepeval.bridge import JudgeFailed
from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.providers.openai_provider import OpenAIProvider

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "fixtures" / "judge" / "labelled_answers.yaml"
CACHE = ROOT / ".llmops-cache" / "judge-benchmark" / "responses.sqlite"
THRESHOLD = 0.5


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    question: str
    context: str
    answer: str
    correct_answer: str


@dataclass(frozen=True)
class Measured:
    """A judge metric under test: its DeepEval name and options, and which labels should pass."""

    name: str
    options: dict[str, Any]
    passing: frozenset[str]
    excluded: frozenset[str] = frozenset()

    def case(self, row: Row) -> JudgeCase:
        return JudgeCase(input=row.question, actual_output=row.answer, expected_output=row.correct_answer,
                         retrieval_context=[row.context])


# The expected verdicts. Relevancy asks "does it address the question?" (a wrong answer does);
# faithfulness asks "does it contradict the context?" (off-topic claims neither follow from nor
# contradict it, so those rows are left out); G-Eval correctness passes only the correct answer.
MEASURED = [
    Measured("AnswerRelevancyMetric", {"include_reason": False},
             frozenset({"correct", "wrong", "partial", "unfaithful"})),
    Measured("FaithfulnessMetric", {"include_reason": False}, frozenset({"correct", "partial"}),
             excluded=frozenset({"off_topic"})),
    Measured("GEval", {"name": "Correctness",
                       "criteria": "Is the actual output a correct and complete answer to the input, "
                                   "according to the expected output?",
                       "evaluation_params": ["input", "actual_output", "expected_output"]},
             frozenset({"correct"})),
]
# Every shipped metric, for the format-error count (their options as a suite would set them).
SHIPPED = [
    ("AnswerRelevancyMetric", {"include_reason": False}),
    ("FaithfulnessMetric", {"include_reason": False}),
    ("ContextualRelevancyMetric", {"include_reason": False}),
    ("ContextualPrecisionMetric", {"include_reason": False}),
    ("ContextualRecallMetric", {"include_reason": False}),
    ("SummarizationMetric", {"include_reason": False, "n": 3}),
    ("GEval", MEASURED[2].options),
]


def load_rows() -> list[Row]:
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    rows = []
    for item in data["items"]:
        for label in data["labels"]:
            rows.append(Row(f"{item['id']}/{label}", label, item["question"], item["context"],
                            item["answers"][label], item["answers"]["correct"]))
    return rows


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two binary raters: agreement beyond what their rates give by chance."""
    observed = float(np.mean(a == b))
    p_a, p_b = float(np.mean(a)), float(np.mean(b))
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    return 0.0 if expected >= 1 else (observed - expected) / (1 - expected)


def kappa_interval(truth: np.ndarray, verdicts: np.ndarray) -> tuple[float, float]:
    result = stats.bootstrap((truth, verdicts), lambda t, v: cohen_kappa(t, v), paired=True, vectorized=False,
                             n_resamples=2000, method="percentile", random_state=np.random.default_rng(16))
    low, high = result.confidence_interval
    return float(low), float(high)


@contextlib.contextmanager
def judge_for(args: argparse.Namespace) -> Iterator[Judge]:
    """The judge: the embedded SmolLM2 in process, or its GGUF behind a llama.cpp server."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(CACHE, "rw")
    with contextlib.ExitStack() as stack:
        if args.llama_server:
            from pytest_llmops.integrations.llama_server import LlamaServer

            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            server = stack.enter_context(LlamaServer(folder / "server.log"))
            spec = parse_spec(server.spec + "?concurrency=1&timeout=300")
        else:
            spec = parse_spec("smollm2")
        engine = Engine([spec], cache, lambda s: OpenAIProvider(s) if s.provider == "openai" else HFProvider(s))
        params = GenerationParams(max_new_tokens=512)
        yield Judge(engine, spec.alias, params, f"{spec.alias} ({spec.raw})")
        engine.close()


def verdicts_of(judge: Judge, measured: Measured, rows: list[Row], constrained: bool = True) -> list[Any]:
    ask = judge.ask_many
    return score_many(measured.name, measured.options, [measured.case(r) for r in rows], ask, judge.name, constrained)


def accuracy_table(judge: Judge, rows: list[Row], names: list[str]) -> None:
    print(f"judge: {judge.name}; {len(rows)} labelled rows; threshold {THRESHOLD}", flush=True)
    print("| metric | n | accuracy [95% CI] | Cohen's kappa [95% CI] | judge errors | time |")
    print("|---|---|---|---|---|---|", flush=True)
    for measured in sorted((m for m in MEASURED if m.name in names), key=lambda m: names.index(m.name)):
        chosen = [r for r in rows if r.label not in measured.excluded]
        start = time.perf_counter()
        results = verdicts_of(judge, measured, chosen)
        seconds = time.perf_counter() - start
        truth = np.array([r.label in measured.passing for r in chosen])
        errors = sum(isinstance(r, BaseException) for r in results)
        # A row the judge could not judge has no verdict: it counts against the accuracy, and
        # for kappa it takes the verdict opposite to the label (the worst case).
        verdict = np.array([(not t) if isinstance(r, BaseException) else r[0] >= THRESHOLD
                            for r, t in zip(results, truth)])
        right = int(np.sum(verdict == truth))
        low, high = wilson_interval(right, len(chosen))
        kappa = cohen_kappa(truth, verdict)
        k_low, k_high = kappa_interval(truth, verdict)
        print(f"| {measured.name} | {len(chosen)} | {right / len(chosen):.2f} [{low:.2f}, {high:.2f}] | "
              f"{kappa:.2f} [{k_low:.2f}, {k_high:.2f}] | {errors} | {seconds:.0f} s |", flush=True)


def format_error_table(judge: Judge, rows: list[Row]) -> None:
    print(f"judge: {judge.name}; first {len(rows)} rows; format errors = JudgeFailed")
    print("| metric | free decoding | constrained decoding |")
    print("|---|---|---|")
    for name, options in SHIPPED:
        cells = []
        for constrained in (False, True):
            results = score_many(name, options, [Measured(name, options, frozenset()).case(r) for r in rows],
                                 judge.ask_many, judge.name, constrained)
            failed = sum(isinstance(r, JudgeFailed) for r in results)
            cells.append(f"{failed}/{len(rows)} ({failed / len(rows):.0%})")
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llama-server", action="store_true", help="judge with the GGUF behind llama.cpp's server")
    parser.add_argument("--format-errors", action="store_true", help="format errors of every shipped metric")
    parser.add_argument("--rows", type=int, default=0, help="only the first N rows (0: all)")
    parser.add_argument("--metrics", default=",".join(m.name for m in MEASURED),
                        help="which judge metrics to measure, in this order (comma-separated)")
    args = parser.parse_args()
    rows = load_rows()
    if args.rows:
        # Whole questions first, so every label stays represented.
        rows = rows[:args.rows]
    with judge_for(args) as judge:
        if args.format_errors:
            format_error_table(judge, rows)
        else:
            accuracy_table(judge, rows, args.metrics.split(","))


if __name__ == "__main__":
    main()
