"""Per-token timing of the hf provider through a generation streamer hook.

``model.generate(streamer=...)`` hands the streamer the prompt once, then every new token
as soon as it is chosen; the hook only reads the clock (and, on CUDA, synchronizes first),
so what it adds per token is a function call and a timestamp (see benchmarks/bench_latency.py).
Requests run one at a time (concurrency 1): a local model has no server queue to sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from transformers.generation.streamers import BaseStreamer

from pytest_llmops.providers.base import GenerationRequest
from pytest_llmops.suites.latency.timing import TimedGeneration, Timer


class TokenClock(BaseStreamer):
    """A streamer that records when each new token arrives (``perf_counter`` seconds)."""

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self.times: list[float] = []
        self._prompt_seen = False
        self._sync = sync

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True  # generate() first pushes the prompt ids: not an output token
            return
        if self._sync is not None:
            self._sync()
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def first_content_index(tokenizer: Any, ids: list[int]) -> int:
    """Index of the first token after which the decoded text is non-empty (0 when none is)."""
    for position in range(len(ids)):
        if tokenizer.decode(ids[:position + 1], skip_special_tokens=True):
            return position
    return 0


class HFTimer(Timer):
    """Times :class:`~pytest_llmops.providers.hf.HFProvider` generations at batch size 1."""

    concurrent = False

    def __init__(self, provider: Any, max_new_tokens: int, fixed_output: bool) -> None:
        self.provider = provider
        self.max_new_tokens = max_new_tokens
        self.fixed_output = fixed_output

    def load(self) -> None:
        self.provider.load()

    @property
    def on_cuda(self) -> bool:
        return str(self.provider.device).startswith("cuda")

    def measure(self, requests: list[GenerationRequest], concurrency: int = 1) -> tuple[list[TimedGeneration], float]:
        start = time.perf_counter()
        results = [self.generate_timed(r) for r in requests]
        return results, time.perf_counter() - start

    def generate_kwargs(self, request: GenerationRequest) -> dict[str, Any]:
        """The ``generate`` arguments of a latency request (shared with the benchmark's bare loop)."""
        tok = self.provider.tokenizer
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": tok.pad_token_id}
        if self.fixed_output:
            kwargs["min_new_tokens"] = self.max_new_tokens  # a fixed output length: EOS is suppressed
        if request.params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=request.params.temperature, top_p=request.params.top_p)
        return kwargs

    def generate_timed(self, request: GenerationRequest) -> TimedGeneration:
        """One request, timed from before templating and tokenization (as a server would be)."""
        provider = self.provider
        model, tok = provider.model, provider.tokenizer
        cuda = self.on_cuda
        sync = None
        span: Any = None
        if cuda:
            from pytest_llmops.suites.latency import timing_cuda  # imports torch.cuda: only on a GPU

            sync = timing_cuda.synchronize
            span = timing_cuda.GpuSpan()
        kwargs = self.generate_kwargs(request)
        if not request.params.greedy:
            import torch  # only with an hf subject, which has torch installed

            torch.manual_seed(request.params.seed * 1_000_003 + request.sample_index)
        clock = TokenClock(sync)
        if span is not None:
            span.__enter__()
        started = time.perf_counter()
        enc = tok(provider.render(request), return_tensors="pt").to(provider.device)
        output = model.generate(**enc, **kwargs, streamer=clock)
        if sync is not None:
            sync()
        end = time.perf_counter() - started
        if span is not None:
            span.__exit__(None, None, None)
        ids = output[0, enc["input_ids"].shape[1]:].tolist()
        eos = {tok.eos_token_id, tok.pad_token_id}
        length = next((i for i, t in enumerate(ids) if t in eos), len(ids))
        # Tokens up to the first EOS are output; the EOS itself is not, but its arrival ends the answer.
        times = [t - started for t in clock.times[:max(1, length)]]
        return TimedGeneration(
            token_times=times, end=end, text=tok.decode(ids[:length], skip_special_tokens=True),
            output_tokens=length, finish_reason="length" if length == len(ids) else "stop",
            first_content=first_content_index(tok, ids[:length]), started_at=started,
            gpu_ms=span.gpu_ms if span is not None else None,
            peak_memory_mb=span.peak_memory_mb if span is not None else None,
            extra={"input_tokens": int(enc["input_ids"].shape[1])})

    def device(self) -> dict[str, Any]:
        from pytest_llmops.providers import device as device_mod  # reads torch's device facts

        info = device_mod.describe_device(self.provider.device, self.provider.torch_dtype)
        if self.on_cuda:
            from pytest_llmops.suites.latency import timing_cuda  # imports torch.cuda: only on a GPU

            info.update(timing_cuda.device_facts(self.provider.device))
        else:
            info["threads"] = getattr(self.provider, "cpu_threads", None)
        info["label"] = info.get("gpu") or "CPU"
        return info
