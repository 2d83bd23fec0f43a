"""Batched sampling with one random stream per request, for the hf provider.

transformers samples every row of a batch from torch's global generator, so a sampled
answer would depend on which other requests shared its batch (and in which order). To batch
sampled requests and keep each one reproducible on its own, :class:`SeededSampler` draws each
row's next token itself, from that row's own ``torch.Generator`` seeded from the request
(:func:`sample_seed`), then leaves only that token possible; ``generate`` runs greedy over
those scores and so picks exactly the drawn token.

The warpers are transformers' own, in the order its sampling path applies them (temperature,
top-k, top-p), with top-k at transformers' default of 50, and the draw is the same
``torch.multinomial`` call on the same generator algorithm: a request drawn in a batch of
one gives the answer transformers' own sampling gave after ``torch.manual_seed(seed)``.
"""

from __future__ import annotations

from typing import Any, Sequence

# transformers applies top_k=50 whenever it samples and the model's generation config sets no
# other value (SmolLM2's sets none); kept, so answers match transformers' own sampling.
DEFAULT_TOP_K = 50


def sample_seed(seed: int, sample_index: int) -> int:
    """The seed of one sampled request: distinct per (run or suite seed, sample index)."""
    return seed * 1_000_003 + sample_index


class SeededSampler:
    """A transformers logits processor: row ``i`` samples with a generator seeded ``seeds[i]``.

    Built for one ``generate`` call (the generators advance one draw per step). Put it last in
    the processor list, after any masks (schema decoding), so it samples what they allow.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, top_k: int | None = DEFAULT_TOP_K,
                 device: Any = "cpu") -> None:
        import torch  # torch: only once a local model is used
        from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        if temperature <= 0:
            raise ValueError("SeededSampler samples; temperature 0 is greedy decoding")
        self._generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        self._warpers: list[Any] = []
        if temperature != 1.0:
            self._warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self._warpers.append(TopKLogitsWarper(top_k=top_k))
        if top_p < 1.0:
            self._warpers.append(TopPLogitsWarper(top_p=top_p))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch  # torch: only once a local model is used

        warped = scores
        for warper in self._warpers:
            warped = warper(input_ids, warped)
        probs = torch.nn.functional.softmax(warped, dim=-1)
        # One draw per row from its own generator: a row's tokens never depend on its neighbours.
        # Rows that already finished draw too (their tokens are replaced by padding anyway), so
        # every row's stream advances the same way whatever the batch holds.
        chosen = torch.stack([torch.multinomial(probs[row:row + 1], 1, generator=generator)[0]
                              for row, generator in enumerate(self._generators)])
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, chosen, 0.0)
        return out
