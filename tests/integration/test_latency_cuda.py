"""The CUDA path of latency timing; runs only where a GPU is present."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_smollm2_latency_on_cuda_reports_gpu_time_memory_and_versions() -> None:
    from pytest_llmops.providers.base import GenerationParams, GenerationRequest
    from pytest_llmops.providers.hf import HFProvider
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.suites.latency.timers import timer_for

    provider = HFProvider(parse_spec("smollm2?dtype=bf16"))  # device=auto: the GPU by default
    timer = timer_for(provider, 8, True)
    timer.load()
    request = GenerationRequest.prompt("What is the capital of France?", params=GenerationParams(max_new_tokens=8))
    (timed,), wall = timer.measure([request])
    assert timed.output_tokens == 8 and 0 < timed.ttft < timed.end <= wall
    assert timed.gpu_ms is not None and 0 < timed.gpu_ms <= timed.end * 1000 * 1.05
    assert timed.peak_memory_mb is not None and timed.peak_memory_mb > 0
    device = timer.device()
    assert device["device"] == "cuda" and device["dtype"] == "bfloat16"
    assert device["gpu"] == torch.cuda.get_device_name(0) and device["cuda"] == torch.version.cuda
    assert device["label"] == device["gpu"] and "driver" in device
