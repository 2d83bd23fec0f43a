"""Shared prefill on a tiny randomly initialised Llama (built from a config: nothing downloaded):
samples of one prompt prefilled once give the answers and logits of a full prefill."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pytest_llmops.providers.prefix_share import shared_prefill  # noqa: E402


@pytest.fixture(scope="module")
def tiny_llama() -> object:
    config = transformers.LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                      pad_token_id=0, eos_token_id=1, bos_token_id=2)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def _batch(rows: list[list[int]]) -> dict[str, object]:
    """Left-padded ids and mask, as the hf provider's tokenizer makes them."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return {"input_ids": ids, "attention_mask": mask}


def test_repeated_rows_prefill_once_and_generate_what_a_full_prefill_does(tiny_llama: object) -> None:
    short, long = [5, 6, 7], [8, 9, 10, 11, 12, 13]
    enc = _batch([long, long, short, long, short])
    settings = dict(max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=None)
    cache = shared_prefill(tiny_llama, enc)
    assert cache is not None and cache.get_seq_length() == enc["input_ids"].shape[1] - 1
    with torch.no_grad():
        shared = tiny_llama.generate(**enc, past_key_values=cache, **settings, output_scores=True,
                                     return_dict_in_generate=True)
        full = tiny_llama.generate(**enc, **settings, output_scores=True, return_dict_in_generate=True)
    assert torch.equal(shared.sequences, full.sequences)
    for step_shared, step_full in zip(shared.scores, full.scores):
        assert torch.allclose(step_shared, step_full, atol=1e-5)


def test_nothing_to_share_without_a_repeated_prompt(tiny_llama: object) -> None:
    assert shared_prefill(tiny_llama, _batch([[5, 6, 7], [5, 6, 8]])) is None
    assert shared_prefill(tiny_llama, _batch([[5, 6]])) is None  # one row
