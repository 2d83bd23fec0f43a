"""From an attack case to chat messages, per subject: a bare model, a prompt template, a RAG prompt.

Everything is rendered when the suite is collected, so every case is one plain chat request
(system + user) that the engine prefetches, batches and caches with the rest of the run.

RAG subjects: the suite does not call a pipeline object (it could not slip a poisoned
document into someone else's retriever). It reproduces the prompt of the example pipeline
(:mod:`pytest_llmops.core.rag_default`: its ``SYSTEM`` prompt and numbered ``Context:`` block)
over a corpus (default ``fixtures/rag/corpus.yaml``), retrieving the top-k passages by
keyword overlap, and inserts the poisoned document (or the planted record) at the chosen
position among them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pytest_llmops.core.rag_default import SYSTEM as RAG_SYSTEM
from pytest_llmops.core.rag_default import ExampleRagPipeline
from pytest_llmops.suites.adversarial.attacks import AttackCase

DEFAULT_SYSTEM = "You are a helpful assistant."
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it", "its", "of", "on", "or", "s", "the", "this", "to", "was", "what", "when", "where", "which", "who", "why", "with", "you", "your"])


@dataclass
class Subject:
    """How to turn cases into messages for one subject (and, for prompt baselines, one variant)."""

    kind: str  # model | prompt | rag
    system: str | None = None  # model subject: the system prompt under attack
    template: Any = None  # prompt subject: a PromptTemplate
    variables: dict[str, Any] = field(default_factory=dict)
    passages: list[str] = field(default_factory=list)  # rag corpus (also used for indirect injection)
    top_k: int = 2

    def retrieve(self, query: str) -> list[str]:
        """Top-k passages by keyword overlap with ``query`` (ties: corpus order)."""
        words = {w for w in _WORD.findall(query.lower()) if w not in _STOP}
        scored = [(-len(words & set(_WORD.findall(p.lower()))), i) for i, p in enumerate(self.passages)]
        return [self.passages[i] for _, i in sorted(scored)[: self.top_k]]

    def messages(self, case: AttackCase, payload: str) -> tuple[str | None, str, list[str] | None]:
        """``(system, user, contexts)`` for ``case`` with its (strategy-transformed) ``payload``."""
        contexts: list[str] | None = None
        if case.document is not None:
            # Indirect injection: the user asks a benign question; the payload hides in a document.
            question = case.question or ""
            contexts = self.retrieve(question)
            poisoned = case.document.replace("{payload}", payload)
            at = {"first": 0, "middle": len(contexts) // 2 + len(contexts) % 2, "last": len(contexts)}[case.position]
            contexts.insert(at, poisoned)
            text = question
        else:
            text = case.user.replace("{payload}", payload)
            if self.kind == "rag":
                question = text
                contexts = self.retrieve(question)
        if case.plant and case.plant_in == "context":
            contexts = (contexts or []) + [case.plant]
        if contexts is not None:
            user_text = ExampleRagPipeline.prompt(text, contexts)
        else:
            user_text = text

        if self.kind == "prompt":
            rendered = self.template.render(**{**self.variables, "input": user_text})
            system = next((m["content"] for m in rendered if m["role"] == "system"), None)
            user = rendered[-1]["content"]
        elif self.kind == "rag":
            system, user = RAG_SYSTEM, user_text
        else:
            system, user = self.system, user_text
        if case.plant and case.plant_in == "system":
            system = f"{system}\n\n{case.plant}" if system else case.plant
        return system, user, contexts
