"""Model relations on the real SmolLM2 weights: the hf provider passes batch invariance, prefix
and streaming consistency; a provider that pads on the right without an attention mask is caught."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmops.providers.base import Generation, GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.core.specs import parse_spec
from pytest_llmops.suites.metamorphic.core import builtin_tables, resolve_relation

pytestmark = pytest.mark.slow

PROMPTS = ["What is the capital of France?", "Name three colors.", "Write a haiku about the sea."]
PARAMS = GenerationParams(max_new_tokens=12)
_, RELATIONS = builtin_tables()


class RightPadNoMask(HFProvider):
    """The batching bug: prompts padded on the right, and every position attended (an all-ones
    mask, as if none were given), so a shorter prompt reads pad tokens before generating."""

    def _generate(self, prompts: list[str], params: Any, seeds: Any = None, schemas: Any = None) -> list[Generation]:
        import torch

        tok, model = self.tokenizer, self.model
        tok.padding_side = "right"
        enc = tok(prompts, return_tensors="pt", padding=True).to(self.device)
        ids = enc["input_ids"]
        output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                max_new_tokens=params.max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                                temperature=None, top_p=None, top_k=None)
        gens = []
        for row in output[:, ids.shape[1]:].tolist():
            length = next((i for i, t in enumerate(row) if t in (tok.eos_token_id, tok.pad_token_id)), len(row))
            gens.append(Generation(text=tok.decode(row[:length], skip_special_tokens=True), output_tokens=length,
                                   finish_reason="stop" if length < len(row) else "length", batch_size=len(prompts)))
        return gens


@pytest.fixture(scope="module")
def smollm2() -> HFProvider:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    return provider


def run(name: str, provider: Any, prompt: str, options: Any = None) -> Any:
    relation, validated = resolve_relation({name: options} if options else name, RELATIONS)
    return relation.run(provider, GenerationRequest.prompt(prompt, params=PARAMS), validated)


def test_real_hf_provider_is_batch_invariant(smollm2: HFProvider) -> None:
    verdicts = [run("batch-invariance", smollm2, p) for p in PROMPTS]
    assert [v.holds for v in verdicts] == [True] * len(PROMPTS), [v.evidence for v in verdicts]
    assert all(v.details["batch_size"] == 3 for v in verdicts)


def test_right_padding_without_a_mask_is_caught() -> None:
    buggy = RightPadNoMask(parse_spec("smollm2?alias=rightpad"))
    verdicts = [run("batch-invariance", buggy, p) for p in PROMPTS]
    assert all(v.holds is False for v in verdicts), [v.evidence for v in verdicts]
    # Alone (nothing to pad) it answers like the real provider.
    alone = buggy.generate_batch([GenerationRequest.prompt(PROMPTS[0], params=PARAMS)])[0]
    assert verdicts[0].details["alone"] == alone.text  # type: ignore[union-attr]


def test_real_hf_provider_prefix_and_streaming(smollm2: HFProvider) -> None:
    for prompt in PROMPTS:
        prefix = run("prefix-consistency", smollm2, prompt, {"k": 6})
        assert prefix.holds is True, prefix.evidence
        stream = run("stream-consistency", smollm2, prompt)
        assert stream.holds is True, stream.evidence
        assert stream.details["stream"] == "transformers TextIteratorStreamer"
