"""The CUDA path of the hf provider; runs only where a GPU is present."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_smollm2_on_cuda_bf16_matches_batch_and_reports_gpu() -> None:
    from pytest_llmops.providers.base import GenerationParams, GenerationRequest
    from pytest_llmops.providers.hf import HFProvider
    from pytest_llmops.core.specs import parse_spec

    provider = HFProvider(parse_spec("smollm2?dtype=bf16"))  # device=auto picks CUDA
    provider.load()
    info = provider.describe()
    assert info["device"] == "cuda" and info["dtype"] == "bfloat16"
    assert info["gpu"] == torch.cuda.get_device_name(0) and info["cuda"] == torch.version.cuda
    params = GenerationParams(max_new_tokens=12)
    requests = [GenerationRequest.prompt(q, params=params) for q in
                ("What is the capital of France?", "Name a colour.", "Say hi.")]
    batched = provider.generate_batch(requests)
    assert all(g.text.strip() for g in batched)
    assert "paris" in batched[0].text.lower()
