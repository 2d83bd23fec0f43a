"""DeepEval metrics judged by the real embedded SmolLM2 (135M) through the bridge.

A judge this small often answers DeepEval's prompts with unusable JSON, so the tests assert
only what holds either way: a score in [0, 1] with a reason, or ``JudgeFailed`` carrying the
judge's answer; never anything else, and never a file left in the working directory.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.integrations.deepeval.batch import score_with_deepeval
from pytest_llmops.integrations.deepeval.bridge import JudgeFailed
from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepeval") is None,
                       reason='deepeval is not installed (optional extra: pip install "pytest-llmops[deepeval]")'),
]

# DeepEval's answers are JSON lists and a sentence of reason: the default 64 tokens cut them.
JUDGE_PARAMS = GenerationParams(max_new_tokens=256)


@pytest.fixture(scope="module")
def smollm2_judge() -> Callable[[str], str]:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()

    def judge(prompt: str) -> str:
        (result,) = provider.generate_batch([GenerationRequest.prompt(prompt, params=JUDGE_PARAMS)])
        if isinstance(result, Exception):
            raise result
        return result.text

    return judge


@pytest.mark.parametrize(("name", "options", "fields"), [
    ("AnswerRelevancyMetric", {}, {}),
    ("FaithfulnessMetric", {}, {"retrieval_context": ["Paris is the capital and largest city of France."]}),
    ("GEval", {"criteria": "Does the answer correctly name the capital of France?"}, {}),
])
def test_smollm2_as_judge_scores_or_fails_honestly(
        name: str, options: dict[str, Any], fields: dict[str, Any], smollm2_judge: Callable[[str], str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_property: Callable[[str, object], None]) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        value, reason = score_with_deepeval(
            name, options, input="What is the capital of France?", actual_output="The capital of France is Paris.",
            expected_output=fields.get("expected_output"), retrieval_context=fields.get("retrieval_context"),
            judge=smollm2_judge, judge_name="smollm2")
    except JudgeFailed as exc:
        record_property("deepeval_outcome", f"JudgeFailed: {exc}")
        print(f"\n{name}: JudgeFailed: {exc}")
        assert "smollm2" in str(exc)
    else:
        record_property("deepeval_outcome", f"score {value}: {reason}")
        print(f"\n{name}: score {value}: {reason}")
        assert 0.0 <= value <= 1.0
        assert isinstance(reason, str)
    assert os.listdir(tmp_path) == []
