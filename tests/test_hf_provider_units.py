"""hf provider logic that needs no weights: option parsing, OOM back-off, device choices."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmops.providers import device as device_mod
from pytest_llmops.providers.base import Generation, GenerationParams
from pytest_llmops.providers.hf import HFOptionError, HFProvider
from pytest_llmops.core.specs import parse_spec


def test_options_are_validated() -> None:
    with pytest.raises(HFOptionError, match="dtype='int3'"):
        HFProvider(parse_spec("smollm2?dtype=int3"))
    with pytest.raises(HFOptionError, match="device='tpu'"):
        HFProvider(parse_spec("smollm2?device=tpu"))
    with pytest.raises(HFOptionError, match="unknown option"):
        HFProvider(parse_spec("smollm2?temperature=1"))
    provider = HFProvider(parse_spec("smollm2?dtype=bf16&chat_template=off&batch_size=4"))
    assert provider.use_chat_template is False and provider.max_batch_size == 4


def test_out_of_memory_halves_the_batch_and_keeps_order(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = HFProvider(parse_spec("smollm2"))
    provider.device = "cpu"
    provider.max_batch_size = 8
    sizes: list[int] = []

    def fake_generate(prompts: list[str], params: Any, seeds: Any = None, schemas: Any = None) -> list[Generation]:
        sizes.append(len(prompts))
        if len(prompts) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [Generation(text=p.upper(), batch_size=len(prompts)) for p in prompts]

    monkeypatch.setattr(provider, "_generate", fake_generate)
    prompts = [f"p{i}" for i in range(7)]
    out = provider._run_batched(prompts, GenerationParams())
    assert [g.text for g in out] == [p.upper() for p in prompts]
    assert sizes[:3] == [7, 4, 2]  # 8 -> 4 -> 2, then batches of 2 from there on
    assert set(sizes[2:]) <= {1, 2}


def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = HFProvider(parse_spec("smollm2"))
    provider.device = "cpu"

    def broken(prompts: list[str], params: Any, seeds: Any = None, schemas: Any = None) -> list[Generation]:
        raise ValueError("bad input ids")

    monkeypatch.setattr(provider, "_generate", broken)
    with pytest.raises(ValueError, match="bad input ids"):
        provider._run_batched(["a", "b"], GenerationParams())


def test_out_of_memory_detection() -> None:
    assert device_mod.is_out_of_memory(RuntimeError("CUDA out of memory."))
    assert device_mod.is_out_of_memory(MemoryError())
    assert not device_mod.is_out_of_memory(RuntimeError("shape mismatch"))


def test_device_and_dtype_choice_on_this_machine() -> None:
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device_mod.pick_device("auto") == expected
    assert device_mod.pick_dtype("auto", "cpu") == torch.float32
    assert device_mod.pick_dtype("bf16", "cpu") == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            device_mod.pick_device("cuda")


def test_xdist_workers_share_cpu_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "64")
        assert device_mod.limit_cpu_threads() == 1
    finally:
        torch.set_num_threads(before)
