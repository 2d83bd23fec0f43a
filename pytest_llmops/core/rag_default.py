"""An example RAG pipeline: MiniLM retrieval over a small corpus, generation by the model subject.

Name it in config as ``pytest_llmops.core.rag_default:make_pipeline`` (the default). The corpus
is ``fixtures/rag/corpus.yaml`` under the rootdir: a list of ``{id, text}`` passages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml
from pytest_llmops.checks.embeddings import shared_embedder

SYSTEM = ("Answer the question using only the context. If the context does not contain the answer, "
          "say you don't know. Answer in one short sentence.")


class ExampleRagPipeline:
    """Top-k cosine retrieval, then one chat turn with the retrieved passages as numbered context."""

    def __init__(self, llm: Any, passages: Sequence[dict[str, str]], top_k: int = 2) -> None:
        self.llm = llm
        self.passages = [p["text"] for p in passages]
        self.top_k = top_k
        self._embedder = shared_embedder()
        self._matrix = self._embedder.embed(self.passages)

    def retrieve(self, questions: Sequence[str]) -> list[list[str]]:
        scores = self._embedder.embed(list(questions)) @ self._matrix.T
        top = scores.topk(min(self.top_k, len(self.passages)), dim=1).indices.tolist()
        return [[self.passages[i] for i in row] for row in top]

    @staticmethod
    def prompt(question: str, contexts: Sequence[str]) -> str:
        numbered = "\n".join(f"[{i + 1}] {text}" for i, text in enumerate(contexts))
        return f"Context:\n{numbered}\n\nQuestion: {question}"

    def batch(self, questions: Sequence[str]) -> list[dict[str, Any]]:
        """Answer many questions with one batched generation."""
        contexts = self.retrieve(questions)
        answers = self.llm.generate_many([self.prompt(q, c) for q, c in zip(questions, contexts)], system=SYSTEM)
        return [{"answer": a, "contexts": c} for a, c in zip(answers, contexts)]

    def __call__(self, question: str) -> dict[str, Any]:
        return self.batch([question])[0]


def load_corpus(path: Path) -> list[dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in data):
        raise ValueError(f"{path}: expected a list of {{id, text}} passages")
    return data


def make_pipeline(llm: Any, rootdir: Path | None = None) -> ExampleRagPipeline:
    """Factory used by the ``rag_pipeline`` fixture and ``subject: rag`` suites."""
    root = Path(rootdir) if rootdir else Path.cwd()
    return ExampleRagPipeline(llm, load_corpus(root / "fixtures" / "rag" / "corpus.yaml"))
