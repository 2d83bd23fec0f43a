"""One measured request and the latency figures derived from it (vLLM's benchmark conventions).

All times are seconds since the request started (``perf_counter`` based):

- TTFT: request start to the first non-empty token;
- end-to-end (E2E): request start to the last byte of the response;
- TPOT: ``(E2E - TTFT) / (output tokens - 1)``, undefined for a one-token answer;
- ITL: the gaps between successive tokens (chunks, for a streaming endpoint) after the first.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_llmops.providers.base import GenerationRequest, InfraError


@dataclass
class TimedGeneration:
    """A measured request: per-token timestamps plus what came back."""

    token_times: list[float]
    end: float
    text: str
    output_tokens: int
    finish_reason: str | None
    #: index into ``token_times`` of the first token that decodes to non-empty text
    first_content: int = 0
    #: ``perf_counter()`` when the request started (for requests/s over a window)
    started_at: float = 0.0
    #: CUDA only: GPU time of the generate call (CUDA events) and peak allocated memory
    gpu_ms: float | None = None
    peak_memory_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.token_times:
            raise InfraError("the response had no output token; nothing to time")
        if self.finish_reason is None:
            # Same rule as the openai provider: a stream cut short is infra, never a sample.
            raise InfraError("the response ended without a finish_reason (cut short)")

    @property
    def ttft(self) -> float:
        return self.token_times[min(self.first_content, len(self.token_times) - 1)]

    @property
    def tpot(self) -> float | None:
        if self.output_tokens < 2:
            return None
        return (self.end - self.ttft) / (self.output_tokens - 1)

    @property
    def itl(self) -> list[float]:
        times = self.token_times[self.first_content:]
        return [b - a for a, b in itertools.pairwise(times)]

    def sample(self) -> dict[str, Any]:
        """The request's figures in milliseconds, as stored in records."""
        tpot = self.tpot
        out: dict[str, Any] = {
            "ttft_ms": round(self.ttft * 1000, 4), "e2e_ms": round(self.end * 1000, 4),
            "tpot_ms": round(tpot * 1000, 4) if tpot is not None else None,
            "itl_ms": [round(gap * 1000, 4) for gap in self.itl], "output_tokens": self.output_tokens,
        }
        if "input_tokens" in self.extra:
            out["input_tokens"] = self.extra["input_tokens"]
        if self.gpu_ms is not None:
            out["gpu_ms"] = round(self.gpu_ms, 4)
        if self.peak_memory_mb is not None:
            out["peak_memory_mb"] = round(self.peak_memory_mb, 2)
        return out


class Timer:
    """Times requests against one subject; subclasses know how (hf streamer, openai stream...)."""

    #: whether :meth:`measure` can keep several requests in flight
    concurrent = False

    def load(self) -> None:
        """Load the model before anything is timed (load time is not latency)."""

    def measure(self, requests: list[GenerationRequest], concurrency: int = 1) -> tuple[list[TimedGeneration], float]:
        """Time every request (at most ``concurrency`` in flight); ``(results, wall seconds)``.

        Raises :class:`InfraError` when any request fails: a level with a failed request
        is not a measurement of the subject.
        """
        raise NotImplementedError

    def device(self) -> dict[str, Any]:
        """Where the subject runs (device, GPU, driver, versions, dtype), for the report."""
        return {}


class ProviderHookTimer(Timer):
    """A plugin provider's own ``stream_timed(request, max_new_tokens, fixed_output)``, one at a time."""

    def __init__(self, provider: Any, max_new_tokens: int, fixed_output: bool) -> None:
        self.provider = provider
        self.max_new_tokens = max_new_tokens
        self.fixed_output = fixed_output

    def load(self) -> None:
        if hasattr(self.provider, "load"):
            self.provider.load()

    def measure(self, requests: list[GenerationRequest], concurrency: int = 1) -> tuple[list[TimedGeneration], float]:
        start = time.perf_counter()
        results = [self.provider.stream_timed(r, self.max_new_tokens, self.fixed_output) for r in requests]
        return results, time.perf_counter() - start

    def device(self) -> dict[str, Any]:
        info = self.provider.describe()
        return {k: info.get(k) for k in ("device", "gpu", "dtype") if info.get(k) is not None}
