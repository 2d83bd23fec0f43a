"""The latency kind on the embedded SmolLM2 through the hf provider (real weights, real timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")

SUITE = """
kind: latency
workload:
  sets: {short: short.yaml}
  requests: 3
  warmup: 1
  output_tokens: 4
concurrency: [1, 4]
budgets:
  dev: {ttft_ms: {p95: 60000}}
"""


@pytest.fixture(scope="module")
def smollm2() -> HFProvider:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    return provider


def test_timed_generation_gives_the_same_tokens_as_the_provider(smollm2: HFProvider) -> None:
    from pytest_llmops.suites.latency.timing_hf import HFTimer

    request = GenerationRequest.prompt("What is the capital of France?", params=GenerationParams(max_new_tokens=6))
    (plain,) = smollm2.generate_batch([request])
    timed = HFTimer(smollm2, 6, fixed_output=False).generate_timed(request)
    assert timed.text == plain.text and timed.output_tokens == plain.output_tokens
    assert len(timed.token_times) == timed.output_tokens
    assert 0 < timed.ttft <= timed.token_times[-1] <= timed.end
    assert timed.extra["input_tokens"] > 5


def test_fixed_output_length_and_cpu_label(smollm2: HFProvider) -> None:
    from pytest_llmops.suites.latency.timing_hf import HFTimer

    timer = HFTimer(smollm2, 5, fixed_output=True)
    results, wall = timer.measure([GenerationRequest.prompt("Say hi.", params=GenerationParams(max_new_tokens=5))])
    assert results[0].output_tokens == 5 and results[0].finish_reason == "length"
    assert wall >= results[0].end > 0
    device = timer.device()
    if torch.cuda.is_available():  # device=auto picks the GPU
        assert device["device"].startswith("cuda") and device["label"] != "CPU"
    else:
        assert device["device"] == "cpu" and device["label"] == "CPU" and device["dtype"] == "float32"


def test_latency_suite_on_smollm2(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", lat=SUITE)
    pytester.makefile(".yaml", short="prompts: ['What is 2+2?', 'Name a colour.']\n")
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    metrics = report["suites"]["lat"]["metrics"]
    assert report["suites"]["lat"]["kind"] == "latency"
    for name in ("ttft_ms", "tpot_ms", "e2e_ms"):
        assert metrics[name]["n"] == 3 and len(metrics[name]["samples"]) == 3
        assert metrics[name]["p95"]["ub95"] == "inconclusive"  # 3 samples cannot bound a p95
        assert {"p50", "p95", "p99"} <= set(metrics[name])
    assert metrics["ttft_ms"]["max"] <= metrics["e2e_ms"]["max"]
    assert metrics["output_tokens"]["min"] == 4 and metrics["output_tokens"]["max"] == 4
    on_gpu = torch.cuda.is_available()
    assert (metrics["device"]["label"] != "CPU") is on_gpu and list(metrics["concurrency"]) == ["1"]
    case = report["cases"][0]
    assert case["device"].startswith("cuda" if on_gpu else "cpu") and case["latency"]["device"]["torch"]
    assert report["run"]["engine"]["smollm2"]["generated"] == 0  # nothing went through the engine
