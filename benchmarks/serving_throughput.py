"""Serving throughput: does the openai provider keep an endpoint as busy as a raw client does?

Starts the real llama.cpp server (``LlamaServer``: ``python -m llama_cpp.server`` serving the
embedded SmolLM2 GGUF) and, for each concurrency, runs the same distinct requests two ways:

- raw: one ``openai.AsyncOpenAI`` client, ``asyncio.gather`` under ``Semaphore(c)`` over all
  requests at once (the best a client can do at concurrency ``c``);
- ours: an :class:`Engine` with a fresh, empty response cache and the OpenAI provider at
  ``concurrency=c``, calling ``Engine.prefetch`` over all requests (so the engine's chunking
  and its per-chunk cache writes are included).

Prints requests/s and output tokens/s of both and their ratio (ours / raw; target: at least
0.90 at concurrency 1, 4 and 16). Runs are interleaved (rounds alternate which path goes first)
because shared machines drift; the median ratio per concurrency is the figure to read.

llama-cpp-python's server runs one request at a time (a global lock around the model), so its
throughput barely moves with concurrency; what this measures is the client side: how much of the
server's time each path leaves idle (between requests and at chunk boundaries).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOPICS = ("rivers", "clocks", "bread", "owls", "bridges", "glass", "tea", "maps", "snow", "bees",
          "trains", "salt", "kites", "moss", "copper", "lanterns")


def build_requests(count: int, max_tokens: int) -> list[Any]:
    """``count`` distinct short prompts (so no request is a cache hit of another), greedy."""
    from pytest_llmops.providers.base import GenerationParams, GenerationRequest

    params = GenerationParams(max_new_tokens=max_tokens, temperature=0.0)
    return [GenerationRequest.prompt(f"Write one sentence about {TOPICS[i % len(TOPICS)]} and the number {i}.",
                                     params=params) for i in range(count)]


async def _raw_all(base_url: str, model: str, requests: list[Any], concurrency: int) -> list[int]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="no-key", timeout=600, max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(request: Any) -> int:
        params = request.params
        async with gate:
            response = await client.chat.completions.create(
                model=model, messages=request.message_dicts(), max_tokens=params.max_new_tokens,
                temperature=params.temperature, top_p=params.top_p, seed=params.seed + request.sample_index)
        return int(response.usage.completion_tokens)

    try:
        return list(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        await client.close()


def run_raw(base_url: str, model: str, requests: list[Any], concurrency: int) -> tuple[float, int]:
    """Seconds and output tokens of the raw client over all ``requests``."""
    start = time.perf_counter()
    tokens = asyncio.run(_raw_all(base_url, model, requests, concurrency))
    return time.perf_counter() - start, sum(tokens)


def run_ours(base_url: str, model: str, requests: list[Any], concurrency: int) -> tuple[float, int]:
    """Seconds and output tokens of ``Engine.prefetch`` (fresh cache, openai provider) over ``requests``."""
    from pytest_llmops.core.cache import ResponseCache
    from pytest_llmops.core.engine import Engine
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.providers.base import InfraError
    from pytest_llmops.providers.openai_provider import OpenAIProvider

    spec = parse_spec(f"openai:{model}@{base_url}?concurrency={concurrency}&timeout=600")
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine([spec], ResponseCache(Path(tmp) / "responses.sqlite"), OpenAIProvider)
        alias = engine.aliases[0]
        try:
            start = time.perf_counter()
            engine.prefetch(alias, requests)
            seconds = time.perf_counter() - start
            results = engine.peek_many(alias, requests)
        finally:
            engine.close()
    failed = [r for r in results if r is None or isinstance(r, InfraError)]
    if failed:
        raise RuntimeError(f"{len(failed)} requests failed, e.g. {failed[0]}")
    return seconds, sum(r.output_tokens or 0 for r in results)  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=72, help="requests per run (more than 64 crosses a chunk)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats per concurrency")
    parser.add_argument("--max-tokens", type=int, default=12)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--threads", type=int, default=1,
                        help="server threads, for decoding and prompts (1 keeps llama.cpp's spinning threads "
                             "from stalling for seconds on a shared, oversubscribed machine)")
    args = parser.parse_args()

    from pytest_llmops.integrations.llama_server import LlamaServer

    requests = build_requests(args.requests, args.max_tokens)
    with tempfile.TemporaryDirectory() as tmp, LlamaServer(Path(tmp) / "server.log", n_threads=args.threads,
                                                                n_threads_batch=args.threads) as server:
        model = server.model_alias
        run_raw(server.base_url, model, requests[:4], 2)  # warm-up (first requests pay for page faults)
        runs: dict[tuple[int, str], list[tuple[float, int]]] = {}
        for round_index in range(args.rounds):
            for c in args.concurrency:
                order = ("raw", "ours") if (round_index + c) % 2 == 0 else ("ours", "raw")
                for path in order:
                    fn = run_raw if path == "raw" else run_ours
                    seconds, tokens = fn(server.base_url, model, requests, c)
                    runs.setdefault((c, path), []).append((seconds, tokens))
                    print(f"  round {round_index + 1} c={c:<2} {path:<4} {seconds:6.2f} s "
                          f"{len(requests) / seconds:6.2f} req/s {tokens / seconds:7.1f} tok/s", flush=True)

    print(f"\n{len(requests)} requests, max_tokens {args.max_tokens}, {args.rounds} rounds "
          f"(medians of per-round figures; ratio = ours / raw, paired by round)")
    print(f"{'conc':>4} | {'raw req/s':>9} | {'ours req/s':>10} | {'raw tok/s':>9} | {'ours tok/s':>10} | "
          f"{'ratio':>5} | per-round ratios")
    for c in args.concurrency:
        raw, ours = runs[(c, "raw")], runs[(c, "ours")]
        ratios = [r_s / o_s for (r_s, _), (o_s, _) in zip(raw, ours)]
        print(f"{c:>4} | {statistics.median(len(requests) / s for s, _ in raw):9.2f} | "
              f"{statistics.median(len(requests) / s for s, _ in ours):10.2f} | "
              f"{statistics.median(t / s for s, t in raw):9.1f} | {statistics.median(t / s for s, t in ours):10.1f} | "
              f"{statistics.median(ratios):5.3f} | {' '.join(f'{x:.3f}' for x in ratios)}")


if __name__ == "__main__":
    main()
