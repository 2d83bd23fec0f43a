"""Constrained judge decoding without a model: the bounded schema, cache keys, the batched bridge."""

from __future__ import annotations

import json
from typing import Any, Sequence

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.schema_decoding import MAX_LIST_ITEMS, MAX_STRING_CHARS, bounded_schema

VERDICTS = {  # DeepEval's AnswerRelevancy Verdicts schema, as pydantic writes it
    "$defs": {"AnswerRelevancyVerdict": {
        "properties": {"verdict": {"enum": ["yes", "no", "borderline"], "title": "Verdict", "type": "string"},
                       "reason": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
        "required": ["verdict"], "title": "AnswerRelevancyVerdict", "type": "object"}},
    "properties": {"verdicts": {"items": {"$ref": "#/$defs/AnswerRelevancyVerdict"}, "type": "array"}},
    "required": ["verdicts"], "title": "Verdicts", "type": "object"}


def test_bounded_schema_caps_strings_and_lists_and_closes_objects() -> None:
    bounded = bounded_schema(VERDICTS)
    verdicts = bounded["properties"]["verdicts"]
    assert (verdicts["minItems"], verdicts["maxItems"]) == (1, MAX_LIST_ITEMS)
    item = bounded["$defs"]["AnswerRelevancyVerdict"]
    assert item["additionalProperties"] is False and bounded["additionalProperties"] is False
    assert item["required"] == ["verdict", "reason"]  # every property present; reason stays nullable
    assert item["properties"]["reason"]["anyOf"] == [{"type": "string", "maxLength": MAX_STRING_CHARS},
                                                    {"type": "null"}]
    assert "maxLength" not in item["properties"]["verdict"]  # an enum needs no cap
    assert "maxItems" not in VERDICTS["properties"]["verdicts"]  # the caller's schema is left alone


def test_bounds_the_schema_already_sets_are_kept() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "array", "maxItems": 2, "items": {
        "type": "string", "maxLength": 5}}}, "additionalProperties": True}
    bounded = bounded_schema(schema)
    assert bounded["properties"]["s"]["maxItems"] == 2
    assert bounded["properties"]["s"]["items"]["maxLength"] == 5
    assert bounded["additionalProperties"] is True


def test_a_schema_is_part_of_the_cache_key_and_unconstrained_keys_are_unchanged() -> None:
    params = GenerationParams(max_new_tokens=512)
    plain = GenerationRequest.prompt("Judge this.", params=params)
    constrained = GenerationRequest.prompt("Judge this.", params=params, response_schema=VERDICTS)
    assert plain.response_schema is None and json.loads(constrained.response_schema or "") == VERDICTS
    assert plain.content_key() != constrained.content_key()
    # The key of a request without a schema is the one every earlier version computed,
    # so caches filled before constrained decoding existed keep serving.
    import hashlib
    payload = {"messages": plain.messages, "raw": None, "params": params.as_dict(), "sample": 0}
    assert plain.content_key() == hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def test_the_openai_provider_sends_the_schema_as_response_format() -> None:
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.providers.openai_provider import OpenAIProvider

    default = OpenAIProvider(parse_spec("openai:m@http://127.0.0.1:9/v1"))
    assert default._response_format({"type": "object"}) == {
        "type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True}}
    chosen = OpenAIProvider(parse_spec("openai:m@http://127.0.0.1:9/v1?schema_format=json_object"))
    assert chosen._response_format({"type": "object"}) == {"type": "json_object", "schema": {"type": "object"}}
    with pytest.raises(ValueError, match="schema_format='xml'.*expected one of json_schema, json_object"):
        OpenAIProvider(parse_spec("openai:m@http://127.0.0.1:9/v1?schema_format=xml"))


class CountingJudge:
    """Answers DeepEval's AnswerRelevancy steps; counts the batches and schemas it is given."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.schemas: list[dict[str, Any] | None] = []

    def ask_many(self, items: Sequence[tuple[str, dict[str, Any] | None]]) -> list[str]:
        self.batches.append(len(items))
        answers = []
        for prompt, schema in items:
            self.schemas.append(schema)
            if '"statements" key' in prompt:
                statement = "bananas are yellow" if "bananas" in prompt else "a fine statement"
                answers.append(json.dumps({"statements": [statement]}))
            else:
                verdict = "no" if "bananas" in prompt else "yes"
                answers.append(json.dumps({"verdicts": [{"verdict": verdict, "reason": None}]}))
        return answers


def test_many_cases_cost_one_judge_batch_per_step() -> None:
    pytest.importorskip("deepeval")
    from pytest_llmops.integrations.deepeval.batch import JudgeCase, score_many

    judge = CountingJudge()
    cases = [JudgeCase(input=f"question {i}", actual_output="bananas" if i % 3 == 0 else f"answer {i}")
             for i in range(30)]
    results = score_many("AnswerRelevancyMetric", {"include_reason": False}, cases, judge.ask_many, "counting")
    assert judge.batches == [30, 30]  # statements, then verdicts: not 60 calls
    assert [r[0] for r in results] == [0.0 if i % 3 == 0 else 1.0 for i in range(30)]  # type: ignore[index]
    assert all(s is not None and s["title"] in ("Statements", "Verdicts") for s in judge.schemas)


def test_unconstrained_judges_get_no_schema_and_a_missing_field_fails_only_its_case() -> None:
    pytest.importorskip("deepeval")
    from pytest_llmops.integrations.deepeval.batch import JudgeCase, score_many

    judge = CountingJudge()
    cases = [JudgeCase(input="q", actual_output="a", retrieval_context=["c"]), JudgeCase(input="q", actual_output="a")]
    results = score_many("FaithfulnessMetric", {"include_reason": False}, cases, judge.ask_many, "counting",
                         constrained=False)
    assert isinstance(results[1], ValueError) and "needs retrieval_context" in str(results[1])
    assert all(s is None for s in judge.schemas)
