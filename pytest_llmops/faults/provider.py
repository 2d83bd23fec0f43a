"""``FaultyProvider``: another provider's answers, a seeded share of them corrupted.

Which requests are corrupted depends only on the seed and the request's content key, so the
same cases are corrupted on every run, in every batch order and on every xdist worker; the
operator's random choices come from the same hash, so each corrupted answer is reproducible
too. Infra errors pass through untouched: a planted fault is a wrong answer, not an outage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import Any, Sequence

from pytest_llmops.faults.operators import OPERATORS, VERSION
from pytest_llmops.faults.spec import checked_operator, checked_rate, checked_seed
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError


def question_of(request: GenerationRequest) -> str:
    """What the model was asked: the raw prompt, else the last user message."""
    if request.raw_prompt is not None:
        return request.raw_prompt
    users = [content for role, content in request.messages if role == "user"]
    return users[-1] if users else ""


class FaultyProvider:
    """Wraps ``inner`` and corrupts the answers of a fraction ``rate`` of the requests with ``operator``."""

    def __init__(self, inner: Any, operator: str, rate: float, seed: int = 0, alias: str | None = None) -> None:
        self.inner = inner
        self.operator = checked_operator(operator)
        self.rate = checked_rate(rate)
        self.seed = checked_seed(seed)
        self.alias = alias or f"fault-{operator}"

    def _digest(self, request: GenerationRequest) -> bytes:
        return hashlib.sha256(f"{self.seed}|{request.content_key()}".encode()).digest()

    def corrupts(self, request: GenerationRequest) -> bool:
        """Whether ``request``'s answer is corrupted: a uniform number from the hash, below ``rate``."""
        return int.from_bytes(self._digest(request)[:8], "big") / 2**64 < self.rate

    def corrupt(self, text: str, request: GenerationRequest) -> str:
        """``text`` corrupted by the operator, with random choices seeded by the request alone.

        The seed picks *which* answers are corrupted; how one answer is corrupted does not
        depend on it, so repeated draws vary the corrupted set, and a benchmark scores each
        corrupted answer once.
        """
        digest = hashlib.sha256(f"corruption|{request.content_key()}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:16], "big"))
        return OPERATORS[self.operator](text, question_of(request), rng)

    @property
    def preferred_chunk_size(self) -> int | None:
        """The inner provider's chunk size, so a wrapped endpoint is kept as busy as a bare one."""
        return getattr(self.inner, "preferred_chunk_size", None)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        results = self.inner.generate_batch(requests)
        out: list[Generation | InfraError] = []
        for request, result in zip(requests, results):
            if isinstance(result, Generation) and self.corrupts(request):
                text = self.corrupt(result.text, request)
                # The inner tokenizer is not at hand: whitespace words stand in for the output's token
                # count. The prompt's tokens (and the cached-answer flag) pass through as the inner
                # model reported them: the prompt was read all the same.
                result = dataclasses.replace(result, text=text, output_tokens=len(text.split()))
            out.append(result)
        # A short answer from the inner provider stays short, so the engine reports its bug.
        return out + list(results[len(requests):])

    def fingerprint(self) -> str:
        # The operators' version too: a changed operator must not be served old cached answers.
        identity = f"fault|v{VERSION}|{self.operator}|{self.rate!r}|{self.seed}|{self.inner.fingerprint()}"
        return hashlib.sha256(identity.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "provider": "fault", "fault_operator": self.operator,
                "fault_rate": self.rate, "fault_seed": self.seed,
                "fault_inner": getattr(self.inner, "alias", type(self.inner).__name__)}

    def load(self) -> None:
        """Load the inner model now (the engine times loading apart from generation)."""
        if hasattr(self.inner, "load"):
            self.inner.load()

    @property
    def load_seconds(self) -> float:
        return float(getattr(self.inner, "load_seconds", 0.0))

    def close(self) -> None:
        self.inner.close()
