"""Tokens and cost against a real OpenAI-compatible server (llama.cpp on loopback): the report's
tokens are the usage the server reported (read here with the openai client directly), its cost
matches a hand computation from them, and a cost gate decides on it. A stream whose server sends
no usage is counted by estimate and says so."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_llmops.core.specs import parse_spec
from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.openai_provider import OpenAIProvider

from .cost_suite import MAX_NEW_TOKENS, SUITE

pytestmark = pytest.mark.slow

PRICE_IN, PRICE_OUT, PRICE_CACHED = 150.0, 600.0, 75.0  # USD per million tokens
GATES = f"""
prices:
  smollm2: {{input: {PRICE_IN}, output: {PRICE_OUT}, cached_input: {PRICE_CACHED}}}
environments:
  dev:
    checks:
      - "*: cost.total <= 2.50"
  tight:
    checks:
      - "*: cost.total <= 0.000001"
"""


def test_cost_from_the_servers_usage_matches_a_hand_computation(pytester: pytest.Pytester, llama_server) -> None:
    from openai import OpenAI

    pytester.makefile(".eval.yaml", cost=SUITE)
    (pytester.path / "llmops.yaml").write_text(GATES, encoding="utf-8")
    spec = f"openai:smollm2@{llama_server.base_url}"
    result = pytester.runpytest_subprocess(f"--llm-model={spec}", "--llm-gate-env=tight", "-p", "no:cacheprovider")
    assert result.ret == 1  # every case passed (checked below); the tight cost gate blocks
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text(encoding="utf-8"))
    assert len(report["cases"]) == 2 and {c["outcome"] for c in report["cases"]} == {"passed"}

    client = OpenAI(base_url=llama_server.base_url, api_key="no-key", max_retries=0)
    total = 0.0
    try:
        for case in report["cases"]:
            # The same request the provider sent (greedy, the suite's budget, the run's seed 0).
            response = client.chat.completions.create(model="smollm2", messages=case["input"],
                                                      max_tokens=MAX_NEW_TOKENS, temperature=0.0, top_p=1.0, seed=0)
            usage = response.usage
            assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
            assert response.choices[0].message.content == case["output"]
            details = getattr(usage, "prompt_tokens_details", None)
            cached = getattr(details, "cached_tokens", None) or 0
            assert (case["input_tokens"], case["output_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
            assert case["tokens_estimated"] is False
            hand = ((usage.prompt_tokens - cached) * PRICE_IN + cached * PRICE_CACHED
                    + usage.completion_tokens * PRICE_OUT) / 1e6
            assert case["cost"] == {"usd": pytest.approx(hand, rel=1e-9), "saved_usd": 0.0, "estimated": False}
            total += hand
    finally:
        client.close()
    assert report["suites"]["functional/cost"]["metrics"]["cost"]["total"] == pytest.approx(total, rel=1e-9)
    assert report["run"]["usage"]["estimated_cases"] == 0
    (row,) = report["gate"]["checks"]
    assert row["status"] == "FAIL" and row["value"] == pytest.approx(total, rel=1e-9)
    allowed = pytester.runpytest_subprocess(f"--llm-model={spec}", "--llm-gate-env=dev", "-p", "no:cacheprovider")
    assert allowed.ret == 0  # from the cache: $0 paid, within $2.50


def test_a_stream_without_usage_is_estimated_and_says_so(llama_server) -> None:
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{llama_server.base_url}"))
    request = GenerationRequest.prompt("What is the capital of France?", system="Answer briefly.",
                                       params=GenerationParams(max_new_tokens=MAX_NEW_TOKENS))
    pieces = provider.stream(request)
    (whole,) = provider.generate_batch([request])
    text = "".join(delta for _, delta in pieces)
    assert text == whole.text and whole.tokens_estimated is False
    if pieces.tokens["tokens_estimated"]:
        # llama-cpp-python's server ignores stream_options.include_usage: four characters a token,
        # plus 3 chat-format tokens per message and 3 before the reply.
        chars = len("What is the capital of France?"), len("Answer briefly.")
        assert pieces.tokens["input_tokens"] == sum(math.ceil(n / 4) + 3 for n in chars) + 3
        assert pieces.tokens["output_tokens"] == math.ceil(len(text) / 4)
    else:  # a server that sends the usage chunk: the same counts as without streaming
        assert (pieces.tokens["input_tokens"], pieces.tokens["output_tokens"]) == (whole.input_tokens,
                                                                                   whole.output_tokens)
