"""How the engine sizes its chunks: a provider's preferred chunk size, and the openai
provider keeping ``concurrency`` requests in flight where a 64-request chunk used to cap it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Sequence

import pytest

from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.engine import CHUNK_SIZE, Engine
from pytest_llmops.core.specs import parse_spec
from pytest_llmops.faults.provider import FaultyProvider
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.testing import EchoProvider
from pytest_llmops.providers.openai_provider import OpenAIProvider


def _prompts(n: int) -> list[GenerationRequest]:
    return [GenerationRequest.prompt(f"prompt {i}") for i in range(n)]


class PreferringEcho(EchoProvider):
    """The echo provider stating a chunk size, remembering the size of each batch."""

    preferred_chunk_size = 10

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.sizes: list[int] = []

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        self.sizes.append(len(requests))
        return super().generate_batch(requests)


def test_provider_preferred_chunk_size_replaces_the_engines(tmp_path: Path) -> None:
    providers: list[PreferringEcho] = []
    engine = Engine([parse_spec("echo:m")], ResponseCache(tmp_path / "c.sqlite"),
                    lambda spec: providers.append(PreferringEcho(spec)) or providers[-1], chunk_size=4)
    engine.prefetch("m", _prompts(25))
    assert providers[0].sizes == [10, 10, 5]
    assert len(engine.cache) == 25
    engine.close()


def test_preferred_chunk_size_still_splits_work_between_xdist_workers(tmp_path: Path) -> None:
    providers: list[PreferringEcho] = []
    engine = Engine([parse_spec("echo:m")], ResponseCache(tmp_path / "c.sqlite"),
                    lambda spec: providers.append(PreferringEcho(spec)) or providers[-1],
                    worker_index=0, worker_count=2)
    engine.prefetch("m", _prompts(20))
    # Two chunks per worker (five requests each), so the other worker can take half of them.
    assert providers[0].sizes == [5, 5, 5, 5]
    engine.close()


@pytest.mark.parametrize(("concurrency", "expected"), [(1, 64), (8, 64), (16, 128), (100, 800)])
def test_openai_provider_prefers_several_waves_per_chunk(concurrency: int, expected: int) -> None:
    provider = OpenAIProvider(parse_spec(f"openai:m@http://127.0.0.1:9/v1?concurrency={concurrency}"))
    assert provider.preferred_chunk_size == expected
    assert FaultyProvider(provider, "truncation", 0.5).preferred_chunk_size == expected


class _NoClient:
    async def close(self) -> None:
        pass


class InFlightOpenAI(OpenAIProvider):
    """The openai provider with its HTTP call replaced by a short sleep that counts calls in flight."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.in_flight = 0
        self.most_in_flight = 0
        self.batch_sizes: list[int] = []

    def _client(self) -> Any:
        return _NoClient()

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        self.batch_sizes.append(len(requests))
        return super().generate_batch(requests)

    async def _call(self, client: Any, request: GenerationRequest) -> Generation:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.005)
        self.in_flight -= 1
        return Generation(text=f"answer to {request.messages[-1][1]}", finish_reason="stop", output_tokens=3)


def test_openai_concurrency_above_the_default_chunk_is_reached(tmp_path: Path) -> None:
    concurrency = 2 * CHUNK_SIZE  # a 64-request chunk would cap the requests in flight at 64
    providers: list[InFlightOpenAI] = []
    spec = parse_spec(f"openai:m@http://127.0.0.1:9/v1?concurrency={concurrency}")
    engine = Engine([spec], ResponseCache(tmp_path / "c.sqlite"),
                    lambda s: providers.append(InFlightOpenAI(s)) or providers[-1])
    requests = _prompts(3 * CHUNK_SIZE)
    engine.prefetch("m", requests)
    provider = providers[0]
    assert provider.batch_sizes == [len(requests)]
    assert provider.most_in_flight == concurrency
    assert [r.text for r in engine.peek_many("m", requests)] == [f"answer to prompt {i}" for i in range(len(requests))]
    engine.close()
