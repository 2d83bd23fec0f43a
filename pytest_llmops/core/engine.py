"""The generation engine: prefetch, cache and batch every request of a model.

Before the first case of a model runs, the session hands the engine every selected
request of that model. The engine serves what the cache already has, generates the rest
in chunks (each chunk one provider call, its results written to the cache in one
transaction), and keeps results in memory until each case takes its own. A chunk is
``CHUNK_SIZE`` requests unless the provider states a ``preferred_chunk_size``: an endpoint
provider asks for several waves of its concurrency, so that a chunk never caps the requests
in flight and the endpoint idles at a chunk's tail only once per several waves.

Under xdist every worker sees the whole selection. Each worker walks the chunks from a
different starting point and re-reads the cache before each chunk, so workers share the
work through the cache and at most a chunk or so is generated twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from pytest_llmops.core.cache import ResponseCache, cache_key
from pytest_llmops.core.progress import NO_PROGRESS, ProgressListener
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.core.specs import ModelSpec

CHUNK_SIZE = 64


@dataclass
class ModelStats:
    """Per-model counters for the terminal summary and benchmarks."""

    generated: int = 0
    cache_hits: int = 0
    infra_errors: int = 0
    generate_seconds: float = 0.0
    load_seconds: float = 0.0


@dataclass
class _ModelState:
    spec: ModelSpec
    provider: Any = None
    fingerprint: str | None = None
    prefetched: bool = False
    loaded: bool = False  # provider.load() has returned (the load is reported once)
    # key -> result, with a count of cases still to take it (results leave memory when taken)
    ready: dict[str, Generation | InfraError] = field(default_factory=dict)
    pending: Counter[str] = field(default_factory=Counter)
    stats: ModelStats = field(default_factory=ModelStats)


class Engine:
    """Serves generations for every model subject of a run."""

    def __init__(self, specs: Sequence[ModelSpec], cache: ResponseCache,
                 provider_factory: Callable[[ModelSpec], Any], worker_index: int = 0, worker_count: int = 1,
                 chunk_size: int = CHUNK_SIZE, progress: ProgressListener | None = None) -> None:
        self._models = {spec.alias: _ModelState(spec) for spec in specs}
        self.cache = cache
        self._factory = provider_factory
        self.worker_index = worker_index
        self.worker_count = max(1, worker_count)
        self.chunk_size = chunk_size
        #: told about model loads and prefetch chunks (the terminal's progress display)
        self.progress: ProgressListener = progress or NO_PROGRESS

    def add_model(self, spec: ModelSpec) -> None:
        """Serve one more model (a judge named by a suite); a known alias is left as it is."""
        self._models.setdefault(spec.alias, _ModelState(spec))

    @property
    def aliases(self) -> list[str]:
        return list(self._models)

    def spec(self, alias: str) -> ModelSpec:
        return self._state(alias).spec

    def stats(self, alias: str) -> ModelStats:
        return self._state(alias).stats

    def _state(self, alias: str) -> _ModelState:
        try:
            return self._models[alias]
        except KeyError:
            raise KeyError(f"no model with alias {alias!r}; models in this run: {sorted(self._models)}") from None

    def provider(self, alias: str) -> Any:
        """The provider for ``alias``, created on first use (this is where weights load)."""
        state = self._state(alias)
        if state.provider is None:
            state.provider = self._factory(state.spec)
        return state.provider

    def fingerprint(self, alias: str) -> str:
        state = self._state(alias)
        if state.fingerprint is None:
            state.fingerprint = self.provider(alias).fingerprint()
        return state.fingerprint

    def is_prefetched(self, alias: str) -> bool:
        return self._state(alias).prefetched

    # -- bulk ---------------------------------------------------------------------------
    def prefetch(self, alias: str, requests: Sequence[GenerationRequest]) -> None:
        """Make every request of ``alias`` ready: cache hits first, then batched generation."""
        state = self._state(alias)
        state.prefetched = True
        fingerprint = self.fingerprint(alias)
        keyed = [(cache_key(fingerprint, r), r) for r in requests]
        for key, _ in keyed:
            state.pending[key] += 1
        unique = dict(keyed)
        hits = self.cache.get_many(unique)
        self._take_hits(state, hits)
        todo = [(k, r) for k, r in unique.items() if k not in hits]
        self.progress.on_prefetch_start(alias, len(unique), len(hits))
        try:
            self._generate_todo(state, alias, todo)
        finally:
            self.progress.on_prefetch_end(alias)  # also when interrupted, so the display ends its line

    def _generate_todo(self, state: _ModelState, alias: str, todo: list[tuple[str, GenerationRequest]]) -> None:
        if not todo:
            return
        # Longest first, so each chunk holds prompts of similar length (less padding).
        todo.sort(key=lambda kr: -sum(len(content) for _, content in kr[1].messages))
        size = self._chunk_size(alias)
        if self.worker_count > 1:
            # Several chunks per worker, so workers can split the work between them.
            size = max(1, min(size, -(-len(todo) // (2 * self.worker_count))))
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
        first = (self.worker_index * len(chunks)) // self.worker_count
        for chunk in chunks[first:] + chunks[:first]:
            if self.worker_count > 1:
                # Another worker may have generated this chunk already (during this run).
                done = self.cache.get_many((k for k, _ in chunk), shared_only=True)
                self._take_hits(state, done)
                chunk = [(k, r) for k, r in chunk if k not in done]
            if chunk:
                self._generate_into(state, alias, chunk)
                self.progress.on_generated(alias, len(chunk))

    def _chunk_size(self, alias: str) -> int:
        """Requests per provider call: the provider's ``preferred_chunk_size`` when it states one."""
        preferred = getattr(self.provider(alias), "preferred_chunk_size", None)
        return max(1, int(preferred)) if preferred else self.chunk_size

    def _take_hits(self, state: _ModelState, hits: dict[str, Generation]) -> None:
        state.ready.update(hits)
        state.stats.cache_hits += len(hits)

    def _generate_into(self, state: _ModelState, alias: str, chunk: list[tuple[str, GenerationRequest]]) -> None:
        provider = self.provider(alias)
        if hasattr(provider, "load") and not state.loaded:
            self.progress.on_load_start(alias)
            start = time.perf_counter()
            provider.load()  # loading weights is not generation time (it is reported as load_s)
            state.loaded = True
            self.progress.on_load_end(alias, time.perf_counter() - start)
        start = time.perf_counter()
        try:
            results = provider.generate_batch([r for _, r in chunk])
        except InfraError as exc:
            results = [exc] * len(chunk)
        if len(results) != len(chunk):
            # A provider bug must not shift answers onto the wrong cases.
            broken = InfraError(f"{alias}: provider returned {len(results)} results for {len(chunk)} requests")
            results = [broken] * len(chunk)
        state.stats.generate_seconds += time.perf_counter() - start
        state.stats.load_seconds = float(getattr(provider, "load_seconds", 0.0))
        good: dict[str, Generation] = {}
        for (key, _), result in zip(chunk, results):
            state.ready[key] = result
            if isinstance(result, InfraError):
                state.stats.infra_errors += 1
            else:
                state.stats.generated += 1
                good[key] = result
        self.cache.put_many(good)  # errors are never cached

    # -- one at a time ------------------------------------------------------------------
    def generate(self, alias: str, request: GenerationRequest) -> Generation:
        """One generation: from the prefetched results, else the cache, else the model.

        Raises :class:`InfraError` when the model could not be asked.
        """
        result = self.generate_many(alias, [request])[0]
        if isinstance(result, InfraError):
            raise result
        return result

    def generate_many(self, alias: str, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        """Several generations in one batch, each served like :meth:`generate`."""
        state = self._state(alias)
        fingerprint = self.fingerprint(alias)
        keys = [cache_key(fingerprint, r) for r in requests]
        out: dict[str, Generation | InfraError] = {}
        for key in keys:
            if key in state.ready:
                out[key] = self._take(state, key)
        missing = [k for k in dict.fromkeys(keys) if k not in out]
        if missing:
            hits = self.cache.get_many(missing)
            state.stats.cache_hits += len(hits)
            out.update(hits)
            todo = [(k, r) for k, r in zip(keys, requests) if k not in out]
            todo = list(dict(todo).items())
            if todo:
                self._generate_into(state, alias, todo)
                for key, _ in todo:
                    out[key] = state.ready.pop(key)
        seen: set[str] = set()
        served: list[Generation | InfraError] = []
        for key in keys:  # the same request twice in one call: the second is reused
            served.append(_reused(out[key]) if key in seen else out[key])
            seen.add(key)
        return served

    def peek_many(self, alias: str, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError | None]:
        """The prefetched results for ``requests``, left in place for the cases that will take
        them; ``None`` where nothing is ready. For a look at answers before their cases run
        (scoring a whole suite's answers in one batch) that must not cost a second generation.
        """
        state = self._state(alias)
        fingerprint = self.fingerprint(alias)
        return [state.ready.get(cache_key(fingerprint, request)) for request in requests]

    def _take(self, state: _ModelState, key: str) -> Generation | InfraError:
        result = state.ready[key]
        state.pending[key] -= 1
        if state.pending[key] <= 0:
            # Last case that needed it: free the memory (10,000-case runs stay flat).
            del state.ready[key]
            del state.pending[key]
        else:
            # Later cases get the same answer marked reused: it is paid for once (records' cost).
            state.ready[key] = _reused(result)
        return result

    def describe(self, alias: str) -> dict[str, Any]:
        state = self._state(alias)
        if state.provider is None:
            return {}
        return state.provider.describe()

    def close(self) -> None:
        for state in self._models.values():
            if state.provider is not None:
                state.provider.close()
        self.cache.close()


def _reused(result: Generation | InfraError) -> Generation | InfraError:
    """``result`` served again within the run: a copy marked ``reused`` (errors unchanged)."""
    if isinstance(result, Generation) and not result.cached and not result.reused:
        return dataclasses.replace(result, reused=True)
    return result
