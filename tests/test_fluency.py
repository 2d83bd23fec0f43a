"""Fluency under the fixed scoring model (the embedded SmolLM2): ordering, cache, YAML check."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmops_testutils import LlmProject
from pytest_llmops.checks.fluency import FluencyScorer, shared_fluency_scorer
from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.specs import parse_spec
from pytest_llmops.providers.hf import HFProvider

pytestmark = pytest.mark.slow  # loads the embedded model

QUESTION = [{"role": "system", "content": "Answer with a short phrase only. Do not explain."},
            {"role": "user", "content": "What is the capital of France?"}]


def test_a_reader_s_ordering_of_answers(tmp_path: Path) -> None:
    scorer = shared_fluency_scorer(tmp_path)
    fluent, garbled, cut, empty = scorer.score_many([
        (QUESTION, "The capital of France is Paris."), (QUESTION, "France of capital the Paris is."),
        (QUESTION, "The capital of"), (QUESTION, "")])
    assert 0 < garbled < fluent <= 1
    assert cut < fluent / 10 and empty < fluent / 10


def test_batched_scores_equal_one_at_a_time_and_come_back_from_the_cache(tmp_path: Path) -> None:
    answers = ["Paris.", "It is Paris, of course.", "Lyon"]
    scorer = shared_fluency_scorer(tmp_path)
    batched = scorer.score_many([(QUESTION, a) for a in answers])
    alone = [FluencyScorer(scorer.provider)._score_uncached([(QUESTION, a)])[0] for a in answers]
    assert batched == pytest.approx(alone, abs=1e-4)  # padding does not change a score
    # A fresh scorer on the same cache folder answers without loading its model.
    unloaded = HFProvider(parse_spec("smollm2"))
    cached = FluencyScorer(unloaded, ResponseCache(tmp_path / "fluency.sqlite")).score_many(
        [(QUESTION, a) for a in answers])
    assert cached == batched and unloaded._model is None


FLUENCY_SUITE = """
cases:
  - id: low-bar
    input: The capital of France is Paris.
    checks: [fluency: 0.0001]
  - id: high-bar
    input: The capital of France is Paris.
    checks: [fluency: 0.99]
"""


def test_the_fluency_check_in_a_functional_suite(project: LlmProject) -> None:
    project.suite("fluent", FLUENCY_SUITE)
    result = project.run("--llm-model=echo:a")  # answers "echo: <input>"
    result.assert_outcomes(passed=1, failed=1)
    cases = project.cases()
    (low,) = cases["low-bar[a]"]["checks"]
    (high,) = cases["high-bar[a]"]["checks"]
    assert low["passed"] and 0.0001 <= low["score"] < 0.99
    assert not high["passed"] and high["score"] == low["score"]  # same answer, same score
    assert "is below 0.99" in high["evidence"]


def test_a_bad_fluency_bar_is_a_collection_error(project: LlmProject) -> None:
    project.suite("bad", "cases:\n  - id: x\n    input: hi\n    checks: [fluency: 2]\n")
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    assert "'fluency' expects the smallest acceptable score in (0, 1)" in result.stdout.str()
