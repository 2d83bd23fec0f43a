"""The drift kind's transformers-free MiniLM gives the same vectors as the shipped Embedder."""

from __future__ import annotations

import numpy as np

from pytest_llmops.checks.embeddings import shared_embedder
from pytest_llmops.suites.drift.encoder import shared_lean_minilm

TEXTS = ["Where is my parcel 4411?", "I want a refund for order 17, my card was charged twice",
         "How do I reset my password?", "", "Ünïcödé and emoji 🚀 are tokenized too",
         "a long message " * 120]  # longer than 256 tokens: truncated the same way


def test_lean_vectors_match_the_embedder() -> None:
    lean = shared_lean_minilm().embed(TEXTS, batch_size=4)  # padding differs across the two batches
    reference = shared_embedder().embed(TEXTS).numpy()
    assert lean.shape == reference.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(lean, axis=1), 1.0, atol=1e-5)
    cosines = (lean * reference).sum(1)
    assert cosines.min() > 0.9999, cosines
    # and the vectors separate topics as they should: the two support questions differ
    assert float(lean[0] @ lean[1]) < 0.9
