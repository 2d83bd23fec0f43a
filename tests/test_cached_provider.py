"""A wrapper's inner model answers through the run's response cache (``CachedProvider``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import pytest

from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.cached_provider import CachedProvider
from pytest_llmops.core.engine import Engine
from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.core.specs import parse_spec
from pytest_llmops.faults.provider import FaultyProvider
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.suites.builtins import registry_with


class CountingProvider:
    """Answers ``answer to <question>``; ``FAIL`` in a question is an infra error. Counts what it generates."""

    def __init__(self, spec: Any = None) -> None:
        self.alias = "counting"
        self.asked: list[str] = []
        self.loaded = False

    def fingerprint(self) -> str:
        return "counting-v1"

    def describe(self) -> dict[str, Any]:
        return {"provider": "counting"}

    def load(self) -> None:
        self.loaded = True

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        out: list[Generation | InfraError] = []
        for request in requests:
            question = request.messages[-1][1]
            self.asked.append(question)
            out.append(InfraError("down") if "FAIL" in question else
                       Generation(text=f"answer to {question}", output_tokens=3))
        return out

    def close(self) -> None:
        pass


def requests(*questions: str) -> list[GenerationRequest]:
    return [GenerationRequest.prompt(q) for q in questions]


def test_hits_are_served_misses_generated_once_and_errors_never_stored(tmp_path: Path) -> None:
    inner = CountingProvider()
    cached = CachedProvider(inner, ResponseCache(tmp_path / "responses.sqlite"))
    first = cached.generate_batch(requests("a", "b", "FAIL", "a"))
    assert [getattr(r, "text", None) for r in first] == ["answer to a", "answer to b", None, "answer to a"]
    assert isinstance(first[2], InfraError)
    assert inner.asked == ["a", "b", "FAIL"]  # the repeated request is generated once
    second = cached.generate_batch(requests("b", "FAIL", "c"))
    assert [getattr(r, "text", None) for r in second] == ["answer to b", None, "answer to c"]
    assert inner.asked == ["a", "b", "FAIL", "FAIL", "c"]  # the error is asked again, b is not
    assert (cached.cache_hits, cached.generated) == (1, 5)
    assert not inner.loaded  # loading is left to the inner model, when it generates


def test_the_cache_mode_holds_for_inner_answers(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    CachedProvider(CountingProvider(), ResponseCache(path)).generate_batch(requests("a"))
    for mode, generates in (("off", True), ("refresh", True), ("read", False), ("rw", False)):
        inner = CountingProvider()
        CachedProvider(inner, ResponseCache(path, mode)).generate_batch(requests("a"))
        assert (inner.asked == ["a"]) is generates, mode


def test_a_short_answer_list_is_handed_on_for_the_engine_to_report(tmp_path: Path) -> None:
    inner = CountingProvider()
    inner.generate_batch = lambda batch: []  # type: ignore[method-assign]
    cache = ResponseCache(tmp_path / "responses.sqlite")
    assert CachedProvider(inner, cache).generate_batch(requests("a", "b")) == []
    assert len(cache) == 0


def _register_counting(register: Callable[..., None]) -> None:
    register("counting", CountingProvider, form="counting:NAME")


def test_a_fault_run_beside_its_inner_model_generates_each_answer_once(tmp_path: Path) -> None:
    """The engine and the registry as the session wires them: plain and wrapped model, one run."""
    registry = registry_with([SimpleNamespace(llmops_register_providers=hookimpl(_register_counting))])
    cache = ResponseCache(tmp_path / "responses.sqlite")
    made: list[Any] = []

    def factory(spec: Any) -> Any:
        made.append(registry.create_provider(spec, wrap_inner=lambda inner: CachedProvider(inner, cache)))
        return made[-1]

    plain, faulty = parse_spec("counting:x"), parse_spec("fault:scramble?rate=1&seed=1&inner=counting:x")
    engine = Engine([plain, faulty], cache, factory)
    batch = requests("what is one plus one", "name a city in France", "FAIL")
    engine.prefetch(plain.alias, batch)
    engine.prefetch(faulty.alias, batch)
    fault = made[1]
    assert isinstance(fault, FaultyProvider) and isinstance(fault.inner, CachedProvider)
    assert sorted(made[0].asked) == sorted(r.messages[-1][1] for r in batch)  # each once (longest first)
    assert fault.inner.inner.asked == ["FAIL"]  # only the error, which no cache keeps, is asked again
    clean = engine.generate_many(plain.alias, batch[:2])
    wrong = engine.generate_many(faulty.alias, batch[:2])
    assert all(isinstance(r, Generation) for r in clean + wrong)
    assert [sorted(c.text.split()) for c in clean] == [sorted(w.text.split()) for w in wrong]
    assert [c.text for c in clean] != [w.text for w in wrong]


def test_providers_that_wrap_nothing_are_not_wrapped() -> None:
    registry = registry_with([SimpleNamespace(llmops_register_providers=hookimpl(_register_counting))])
    wrapped: list[Any] = []
    provider = registry.create_provider(parse_spec("counting:x"), wrap_inner=wrapped.append)
    assert isinstance(provider, CountingProvider) and wrapped == []
    unwrapped = registry.create_provider(parse_spec("fault:empty?inner=counting:x"))
    assert isinstance(unwrapped.inner, CountingProvider)


@pytest.mark.parametrize("spec", ["fault:empty?inner=counting:x",
                                  "fault:empty?inner=fault:negation%3Finner%3Dcounting:x"])
def test_every_inner_level_goes_through_the_cache(spec: str, tmp_path: Path) -> None:
    registry = registry_with([SimpleNamespace(llmops_register_providers=hookimpl(_register_counting))])
    cache = ResponseCache(tmp_path / "responses.sqlite")
    provider = registry.create_provider(parse_spec(spec), wrap_inner=lambda inner: CachedProvider(inner, cache))
    level = provider
    while isinstance(level, FaultyProvider):
        assert isinstance(level.inner, CachedProvider)
        level = level.inner.inner
    assert isinstance(level, CountingProvider)
