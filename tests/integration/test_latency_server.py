"""Streaming latency against a real OpenAI-compatible server (llama.cpp) on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.openai_provider import OpenAIProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow

SUITE = """
kind: latency
workload:
  sets: {short: short.yaml}
  requests: 4
  warmup: 1
  output_tokens: 6
concurrency: [1, 2]
budgets:
  dev: {ttft_ms: {p95: 60000}, e2e_ms: {p95: 120000}}
"""


def test_streaming_ttft_and_fixed_length(llama_server) -> None:
    from pytest_llmops.suites.latency.timing_openai import OpenAITimer

    provider = OpenAIProvider(parse_spec(llama_server.spec))
    timer = OpenAITimer(provider, 6, fixed_output=True)
    requests = [GenerationRequest.prompt(q, params=GenerationParams(max_new_tokens=6))
                for q in ("What is 2+2?", "Name a colour.")]
    results, wall = timer.measure(requests, 1)
    for timed in results:
        assert timed.finish_reason is not None and timed.text
        assert timed.output_tokens == 6  # min_tokens = max_tokens: a fixed output length
        assert 0 < timed.ttft < timed.end <= wall
        assert len(timed.itl) == len(timed.token_times) - 1
    assert timer.device()["device"] == "remote"


def test_concurrency_sweep_against_the_server(pytester: pytest.Pytester, llama_server) -> None:
    pytester.makefile(".eval.yaml", lat=SUITE)
    pytester.makefile(".yaml", short="prompts: ['What is 2+2?', 'Name a colour.', 'Say hi.']\n")
    result = pytester.runpytest_subprocess(f"--llm-model={llama_server.spec}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    metrics = report["suites"]["lat"]["metrics"]
    assert sorted(metrics["concurrency"]) == ["1", "2"]
    for level in ("1", "2"):
        entry = metrics["concurrency"][level]
        assert entry["requests"] == 4 and entry["requests_per_s"] > 0 and entry["output_tokens_per_s"] > 0
        assert entry["goodput"]["value"] == 1.0
    assert metrics["ttft_ms"]["n"] == 4 and metrics["throughput"]["concurrency"] == 1
    assert metrics["device"]["device"] == "remote"
    case = report["cases"][0]["latency"]
    assert all(r["output_tokens"] == 6 for r in case["levels"]["2"]["requests"])
