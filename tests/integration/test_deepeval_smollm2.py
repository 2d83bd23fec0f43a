"""DeepEval metrics judged by the real embedded SmolLM2 (135M) through the bridge.

Unconstrained, a judge this small mostly answers DeepEval's prompts with unusable JSON. Under
constrained decoding (the judge takes DeepEval's schema) every answer has the right shape, so
each metric must end with a score in [0, 1], never ``JudgeFailed``, and no file is left in the
working directory.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.integrations.deepeval.batch import score_with_deepeval
from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.providers.schema_decoding import bounded_schema
from pytest_llmops.core.specs import parse_spec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepeval") is None,
                       reason='deepeval is not installed (optional extra: pip install "pytest-llmops[deepeval]")'),
]

# DeepEval's answers are JSON lists and a sentence of reason: the default 64 tokens cut them.
JUDGE_PARAMS = GenerationParams(max_new_tokens=512)  # the judge budget of a run


@pytest.fixture(scope="module")
def smollm2_judge() -> Callable[..., str]:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()

    def judge(prompt: str, schema: dict[str, Any] | None = None) -> str:
        (result,) = provider.generate_batch([GenerationRequest.prompt(
            prompt, params=JUDGE_PARAMS, response_schema=bounded_schema(schema) if schema else None)])
        if isinstance(result, Exception):
            raise result
        return result.text

    return judge


@pytest.mark.parametrize(("name", "options", "fields"), [
    ("AnswerRelevancyMetric", {}, {}),
    ("FaithfulnessMetric", {}, {"retrieval_context": ["Paris is the capital and largest city of France."]}),
    ("GEval", {"criteria": "Does the answer correctly name the capital of France?"}, {}),
])
def test_smollm2_as_a_constrained_judge_always_scores(
        name: str, options: dict[str, Any], fields: dict[str, Any], smollm2_judge: Callable[..., str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_property: Callable[[str, object], None]) -> None:
    monkeypatch.chdir(tmp_path)
    value, reason = score_with_deepeval(
        name, options, input="What is the capital of France?", actual_output="The capital of France is Paris.",
        expected_output=fields.get("expected_output"), retrieval_context=fields.get("retrieval_context"),
        judge=smollm2_judge, judge_name="smollm2")
    record_property("deepeval_outcome", f"score {value}: {reason}")
    assert 0.0 <= value <= 1.0
    assert isinstance(reason, str)
    assert os.listdir(tmp_path) == []
