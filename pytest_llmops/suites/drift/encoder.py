"""The shipped all-MiniLM-L6-v2 (``checks/embeddings.py``) run without importing transformers.

Why: the weights are a 6-layer BERT encoder of 22M parameters, but importing transformers
5 to run it pulls in accelerate, ``torch.distributed``, ``torch._dynamo``, scikit-learn and
scipy.stats: about 480 MB resident before the first sentence, which alone would break the
drift kind's memory budget (500 MB for a 100,000-line log). Here the same weights
(safetensors) and the same tokenizer (``tokenizer.json``, through the ``tokenizers`` library
that transformers itself uses) run through torch's own ``nn.TransformerEncoderLayer``, which
is a BERT layer (post-norm, exact GELU) once BERT's query/key/value weights are stacked into
its input projection. Same mean pooling and L2 normalisation as :class:`Embedder`;
``tests/test_drift_encoder.py`` checks the vectors against it (cosine > 0.9999).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 256  # as Embedder
CHUNK = 512  # texts tokenized at a time
ATTENTION_BUDGET = 12 * 2**20  # attention scores per batch (48 MB of float32)


class LeanMiniLM:
    """``embed(texts) -> float32 array (n, 384)`` of unit vectors."""

    def __init__(self, folder: Path | None = None) -> None:
        import torch  # torch: only when a drift suite embeds
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        from pytest_llmops.checks.embeddings import minilm_folder

        folder = Path(folder or minilm_folder())
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.torch = torch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()  # tokenizer.json may ask for padding: batches pad themselves here
        self.pad_id = int(config.get("pad_token_id", 0))  # each batch is padded to its own longest text
        self.heads = int(config["num_attention_heads"])
        weights = load_file(str(folder / "model.safetensors"))
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = weights["embeddings.word_embeddings.weight"]
        self.position = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self.norm = torch.nn.LayerNorm(hidden, eps=eps)
        self.norm.load_state_dict({"weight": weights["embeddings.LayerNorm.weight"],
                                   "bias": weights["embeddings.LayerNorm.bias"]})
        self.layers = [self._layer(weights, f"encoder.layer.{i}.", config) for i in range(config["num_hidden_layers"])]

    def _layer(self, w: dict[str, Any], p: str, config: dict[str, Any]) -> Any:
        torch = self.torch
        layer = torch.nn.TransformerEncoderLayer(
            config["hidden_size"], config["num_attention_heads"], config["intermediate_size"], dropout=0.0,
            activation="gelu", layer_norm_eps=config["layer_norm_eps"], batch_first=True, norm_first=False)
        a = p + "attention."
        layer.load_state_dict({
            "self_attn.in_proj_weight": torch.cat([w[a + f"self.{n}.weight"] for n in ("query", "key", "value")]),
            "self_attn.in_proj_bias": torch.cat([w[a + f"self.{n}.bias"] for n in ("query", "key", "value")]),
            "self_attn.out_proj.weight": w[a + "output.dense.weight"], "self_attn.out_proj.bias": w[a + "output.dense.bias"],
            "norm1.weight": w[a + "output.LayerNorm.weight"], "norm1.bias": w[a + "output.LayerNorm.bias"],
            "linear1.weight": w[p + "intermediate.dense.weight"], "linear1.bias": w[p + "intermediate.dense.bias"],
            "linear2.weight": w[p + "output.dense.weight"], "linear2.bias": w[p + "output.dense.bias"],
            "norm2.weight": w[p + "output.LayerNorm.weight"], "norm2.bias": w[p + "output.LayerNorm.bias"],
        })
        return layer.eval()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors of ``texts``, in input order. Texts are batched by length (less
        padding), and a batch of long texts holds fewer rows, so the attention scores of one
        batch stay under ``ATTENTION_BUDGET`` values whatever the messages' lengths."""
        out = np.zeros((len(texts), self.word.shape[1]), dtype=np.float32)
        # a chunk's tokenizations at a time (memory), each sorted into batches of similar length
        for first in range(0, len(texts), CHUNK):
            out[first:first + CHUNK] = self._embed_chunk(texts[first:first + CHUNK], batch_size)
        return out

    def _embed_chunk(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        torch = self.torch
        out = np.zeros((len(texts), self.word.shape[1]), dtype=np.float32)
        encoded = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        start = 0
        with torch.inference_mode():
            while start < len(order):
                longest = len(encoded[order[min(len(order), start + batch_size) - 1]].ids)
                rows = max(1, min(batch_size, ATTENTION_BUDGET // (self.heads * longest * longest)))
                picked = order[start:start + rows]
                start += len(picked)
                width = max(len(encoded[i].ids) for i in picked)
                ids = torch.full((len(picked), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(picked), width), dtype=torch.bool)
                for row, i in enumerate(picked):
                    ids[row, :len(encoded[i].ids)] = torch.tensor(encoded[i].ids)
                    mask[row, :len(encoded[i].ids)] = True
                x = self.norm(self.word[ids] + self.position[:width][None] + self.token_type)
                for layer in self.layers:
                    x = layer(x, src_key_padding_mask=~mask)
                keep = mask.unsqueeze(-1).to(x.dtype)
                pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1e-9)
                out[picked] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out


@functools.lru_cache(maxsize=1)
def shared_lean_minilm() -> LeanMiniLM:
    """One encoder per process."""
    return LeanMiniLM()
