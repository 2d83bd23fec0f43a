"""Streaming timing against an OpenAI-compatible endpoint, with several requests in flight.

Each request is timed from the moment it is sent (after it got a concurrency slot) to its
last chunk. A chunk with non-empty content counts as one token (llama.cpp and vLLM stream
one token per chunk) unless the server reports usage. Latency requests are never retried:
a retried request's latency describes the retry policy, not the model, so any failure or
a stream without a ``finish_reason`` makes the whole level an infra error.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from pytest_llmops.providers.base import GenerationRequest, InfraError
from pytest_llmops.suites.latency.timing import TimedGeneration, Timer


class OpenAITimer(Timer):
    """Times :class:`~pytest_llmops.providers.openai_provider.OpenAIProvider` streams."""

    concurrent = True

    def __init__(self, provider: Any, max_new_tokens: int, fixed_output: bool) -> None:
        self.provider = provider
        self.max_new_tokens = max_new_tokens
        self.fixed_output = fixed_output

    def measure(self, requests: list[GenerationRequest], concurrency: int = 1) -> tuple[list[TimedGeneration], float]:
        return asyncio.run(self._measure(requests, max(1, concurrency)))

    async def _measure(self, requests: list[GenerationRequest], concurrency: int) -> tuple[list[TimedGeneration], float]:
        from openai import AsyncOpenAI  # openai: only when an endpoint is called

        provider = self.provider
        key = os.environ.get(provider.api_key_env) or "no-key"
        client = AsyncOpenAI(base_url=provider.base_url, api_key=key, timeout=provider.timeout, max_retries=0)
        gate = asyncio.Semaphore(concurrency)
        try:
            try:
                # Open a pooled connection first, so the first timed request does not pay for the
                # TCP (and TLS) handshake that every later request skips.
                await client.models.list()
            except Exception:  # noqa: BLE001, S110 - a server without /models is still measured
                pass
            start = time.perf_counter()
            results = await asyncio.gather(*(self._one(client, gate, r) for r in requests), return_exceptions=True)
            wall = time.perf_counter() - start
        finally:
            await client.close()
        for result in results:
            if isinstance(result, BaseException):
                raise result if isinstance(result, InfraError) else InfraError(f"{provider.alias}: {result}")
        return list(results), wall  # type: ignore[arg-type]

    def request_kwargs(self, request: GenerationRequest) -> dict[str, Any]:
        """The streaming chat-completion arguments (shared with the benchmark's raw client loop)."""
        params = request.params
        kwargs: dict[str, Any] = {"model": self.provider.model_name, "messages": request.message_dicts(),
                                  "max_tokens": self.max_new_tokens, "temperature": params.temperature,
                                  "top_p": params.top_p, "seed": params.seed + request.sample_index, "stream": True}
        if self.fixed_output:
            # vLLM and llama.cpp's server both accept min_tokens: the answer cannot stop early.
            kwargs["extra_body"] = {"min_tokens": self.max_new_tokens}
        return kwargs

    async def _one(self, client: Any, gate: asyncio.Semaphore, request: GenerationRequest) -> TimedGeneration:
        from pytest_llmops.providers.openai_provider import _describe  # the provider's key-free error text

        async with gate:
            times: list[float] = []
            pieces: list[str] = []
            finish = None
            usage_tokens = None
            started = time.perf_counter()
            try:
                stream = await client.chat.completions.create(**self.request_kwargs(request))
                async for chunk in stream:
                    usage = getattr(chunk, "usage", None)
                    if usage is not None and getattr(usage, "completion_tokens", None):
                        usage_tokens = int(usage.completion_tokens)
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta.content if choice.delta is not None else None
                    if delta:
                        times.append(time.perf_counter() - started)
                        pieces.append(delta)
                    if choice.finish_reason is not None:
                        finish = choice.finish_reason
                end = time.perf_counter() - started
            except Exception as exc:  # noqa: BLE001 - any transport failure is infra
                raise InfraError(f"{self.provider.alias}: stream failed: {_describe(exc)}") from None
        if finish is None:
            raise InfraError(f"{self.provider.alias}: the stream ended without a finish_reason (cut short by "
                             "the server); not a latency sample")
        if not times:
            raise InfraError(f"{self.provider.alias}: the stream carried no content; nothing to time")
        return TimedGeneration(token_times=times, end=end, text="".join(pieces),
                               output_tokens=usage_tokens or len(times), finish_reason=finish, started_at=started)

    def device(self) -> dict[str, Any]:
        return {"device": "remote", "label": f"endpoint {self.provider.base_url}", "gpu": None}
