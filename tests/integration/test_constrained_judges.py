"""Constrained judge decoding on real models: the embedded SmolLM2 (llguidance masks) and the same
weights behind a real llama.cpp server (``response_format``), plus a regression suite judged by
SmolLM2 that must end with no judge format error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmops.core.specs import parse_spec
from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.providers.openai_provider import OpenAIProvider
from pytest_llmops.providers.schema_decoding import bounded_schema

pytestmark = pytest.mark.slow

STATEMENTS = {"properties": {"statements": {"items": {"type": "string"}, "type": "array"}},
              "required": ["statements"], "title": "Statements", "type": "object"}
VERDICT = {"properties": {"verdict": {"enum": ["yes", "no", "idk"], "type": "string"}},
           "required": ["verdict"], "type": "object"}
PARAMS = GenerationParams(max_new_tokens=256)


def _valid(text: str, schema: dict[str, Any]) -> Any:
    """The parsed answer, checked against the bounded schema with jsonschema (a DeepEval dependency)."""
    import jsonschema

    value = json.loads(text)
    jsonschema.validate(value, bounded_schema(schema))
    return value


@pytest.fixture(scope="module")
def smollm2() -> HFProvider:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    return provider


def test_the_embedded_model_answers_in_the_schema_and_unconstrained_rows_are_untouched(smollm2: HFProvider) -> None:
    free = GenerationRequest.prompt("What is the capital of France?", params=PARAMS)
    asked = [
        GenerationRequest.prompt("List the statements of: Paris is in France. It is big. Answer in JSON.",
                                 params=PARAMS, response_schema=bounded_schema(STATEMENTS)),
        free,
        GenerationRequest.prompt("Is the sky green? Answer yes or no in JSON.", params=PARAMS,
                                 response_schema=bounded_schema(VERDICT)),
    ]
    statements, free_answer, verdict = smollm2.generate_batch(asked)
    assert len(_valid(statements.text, STATEMENTS)["statements"]) >= 1  # type: ignore[union-attr]
    assert _valid(verdict.text, VERDICT)["verdict"] in ("yes", "no", "idk")  # type: ignore[union-attr]
    assert statements.finish_reason == verdict.finish_reason == "stop"  # type: ignore[union-attr]
    # A row without a schema gets exactly what it gets alone: the masks touch only their rows.
    (alone,) = smollm2.generate_batch([free])
    assert free_answer.text == alone.text  # type: ignore[union-attr]


def test_sampled_judge_repeats_are_constrained_too(smollm2: HFProvider) -> None:
    sampled = GenerationParams(max_new_tokens=256, temperature=0.9, seed=3)
    answers = smollm2.generate_batch([
        GenerationRequest.prompt("Is water wet? Answer in JSON.", params=sampled, sample_index=i,
                                 response_schema=bounded_schema(VERDICT)) for i in range(4)])
    for answer in answers:
        _valid(answer.text, VERDICT)  # type: ignore[union-attr]


def test_a_llama_cpp_server_answers_in_the_schema(llama_server: Any) -> None:
    # llama-cpp-python's server refuses response_format json_schema (HTTP 500); the provider learns
    # that once and sends json_object with the schema, which the server turns into a grammar.
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{llama_server.base_url}"))
    (answer,) = provider.generate_batch([GenerationRequest.prompt(
        "List the statements of: Paris is in France. It is big. Answer in JSON.", params=PARAMS,
        response_schema=bounded_schema(STATEMENTS))])
    assert not isinstance(answer, Exception), answer
    assert len(_valid(answer.text, STATEMENTS)["statements"]) >= 1
    assert provider.schema_format == "json_object"


SUITE = """
kind: regression
suite: judged
cases:
  - {id: paris, input: "What is the capital of France?", expected: "Paris"}
  - {id: spider, input: "How many legs does a spider have?", expected: "Eight"}
metrics:
  - deepeval:AnswerRelevancyMetric: {include_reason: false}
  - deepeval:GEval: {criteria: "Is the actual output a correct answer to the input?"}
judge: smollm2
generation: {max_new_tokens: 32}
"""


def test_a_suite_judged_by_the_embedded_model_has_no_judge_format_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("deepeval")  # tests/conftest.py turns this into a failure where CI requires it
    pytester.makefile(".eval.yaml", judged=SUITE)
    # In a subprocess: an in-process run would leave this process with transformers and
    # llguidance modules that pytester drops afterwards, and later tests with stale classes.
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider", "-p", "no:deepeval")
    result.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "reports" / "llmops-report.json").read_text())
    judge = report["suites"]["judged"]["metrics"]["judge"]
    assert judge["errors"] == 0 and judge["judgements"] == 4
    result.stdout.fnmatch_lines(["*judged*judge errors 0/2 (0%)*"])
