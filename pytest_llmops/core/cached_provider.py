"""``CachedProvider``: a wrapped model's own answers, served through the run's response cache.

A wrapping provider (``fault:``, a test's ``degrade:``) changes some of another model's
answers. Its own answers are cached under its own fingerprint by the engine, but the answers
of the model it wraps are the *same* answers that model gives on its own: a run that compares
``fault:scramble?inner=smollm2`` with ``--llm-baseline-model=smollm2`` should generate
SmolLM2's answers once, not twice. So the registry hands a wrapper its inner provider wrapped
in this class, which looks each request up under the inner model's fingerprint first and
stores what it had to generate, honouring the cache mode like the engine does.
"""

from __future__ import annotations

from typing import Any, Sequence

from pytest_llmops.core.cache import ResponseCache, cache_key
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError


class CachedProvider:
    """Serves ``inner``'s answers from ``cache`` where it has them, generating only the misses."""

    def __init__(self, inner: Any, cache: ResponseCache) -> None:
        self.inner = inner
        self.cache = cache
        self._fingerprint: str | None = None
        #: how many answers came from the cache and how many ``inner`` generated
        self.cache_hits = 0
        self.generated = 0

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self.inner.fingerprint()
        return self._fingerprint

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        keys = [cache_key(self.fingerprint(), request) for request in requests]
        found: dict[str, Generation | InfraError] = dict(self.cache.get_many(keys))
        self.cache_hits += sum(1 for key in keys if key in found)
        todo = list({key: request for key, request in zip(keys, requests) if key not in found}.items())
        if todo:
            results = self.inner.generate_batch([request for _, request in todo])
            if len(results) != len(todo):
                # Hand the short list on: the wrapper and the engine report the provider's bug.
                return list(results)
            self.generated += len(todo)
            for (key, _), result in zip(todo, results):
                found[key] = result
            self.cache.put_many({key: result for (key, _), result in zip(todo, results)
                                 if isinstance(result, Generation)})  # errors are never cached
        return [found[key] for key in keys]

    def load(self) -> None:
        """Nothing to load until an answer is missing from the cache (``inner`` loads itself then)."""

    @property
    def load_seconds(self) -> float:
        return float(getattr(self.inner, "load_seconds", 0.0))

    def __getattr__(self, name: str) -> Any:
        # describe(), alias, close() and anything else a wrapper asks of its inner model.
        return getattr(self.inner, name)
