"""The real all-MiniLM-L6-v2 embedder (the ``similar`` check, embedding similarity, the RAG example)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")


def test_paraphrases_are_closer_than_unrelated_sentences() -> None:
    from pytest_llmops.checks.embeddings import shared_embedder

    embedder = shared_embedder()
    anchor = "The capital of France is Paris."
    paraphrase = "Paris is France's capital city."
    unrelated = "Bananas are a good source of potassium."
    vectors = embedder.embed([anchor, paraphrase, unrelated])
    assert tuple(vectors.shape) == (3, 384)  # MiniLM-L6's width
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)  # unit vectors: cosine is a dot
    same, near, far = (embedder.cosine(anchor, anchor), embedder.cosine(anchor, paraphrase),
                       embedder.cosine(anchor, unrelated))
    assert same == pytest.approx(1.0, abs=1e-5)
    assert near > 0.8 and far < 0.3 and near - far > 0.5
    assert embedder.cosine(anchor, paraphrase) == pytest.approx(embedder.cosine(paraphrase, anchor), abs=1e-6)


def test_batches_embed_as_single_texts_do() -> None:
    from pytest_llmops.checks.embeddings import shared_embedder

    embedder = shared_embedder()
    texts = ["short", "a somewhat longer sentence about the weather in spring", "Paris"]
    together = embedder.embed(texts)
    alone = torch.stack([embedder.embed([text])[0] for text in texts])
    assert torch.allclose(together, alone, atol=1e-5)  # padding does not leak into the mean pooling
