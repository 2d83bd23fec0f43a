"""Latency instrumentation: its overhead, and its TTFT against an independent measurement.

Prints two figures (issue 6), each measured side by side, interleaved, in one process:

1. instrumentation overhead: the hf timer (a streamer hook reading the clock per token)
   against a bare ``model.generate`` call on the same prompts with the same arguments,
   as a share of end-to-end time (target: at most 2%);
2. TTFT agreement: our streaming timer against a raw streaming ``openai`` client loop
   (first non-empty content chunk) on the same llama.cpp server and prompts, as the
   ratio of median TTFTs (target: within 5%).

Shared, loaded machines make both figures noisy: check ``uptime`` first and rerun.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _prompts(per_set: int) -> list[str]:
    from pytest_llmops.suites.latency.workload import load_prompt_set

    out = []
    for name in ("short", "medium", "long"):
        out += load_prompt_set(ROOT / "fixtures" / "latency" / f"{name}.yaml")[:per_set]
    return out


def overhead(rounds: int, tokens: int, per_set: int) -> None:
    from pytest_llmops.providers.base import GenerationParams, GenerationRequest
    from pytest_llmops.providers.hf import HFProvider
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.suites.latency.timing_hf import HFTimer

    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    timer = HFTimer(provider, tokens, fixed_output=True)
    requests = [GenerationRequest.prompt(p, params=GenerationParams(max_new_tokens=tokens)) for p in _prompts(per_set)]

    def bare(request: GenerationRequest) -> float:
        start = time.perf_counter()
        enc = provider.tokenizer(provider.render(request), return_tensors="pt").to(provider.device)
        provider.model.generate(**enc, **timer.generate_kwargs(request))
        return time.perf_counter() - start

    for request in requests[:2]:  # warm-up, discarded
        bare(request)
        timer.generate_timed(request)
    ratios, ours_all, bare_all = [], [], []
    for round_index in range(rounds):
        for position, request in enumerate(requests):
            if (round_index + position) % 2 == 0:
                b = bare(request)
                o = timer.generate_timed(request).end
            else:
                o = timer.generate_timed(request).end
                b = bare(request)
            ratios.append(o / b)
            ours_all.append(o)
            bare_all.append(b)
    median_ratio = statistics.median(ratios)
    print(f"instrumentation overhead (hf, {provider.device}, {len(ratios)} pairs, {tokens} output tokens):")
    print(f"  bare generate e2e median   {statistics.median(bare_all) * 1000:9.1f} ms")
    print(f"  instrumented e2e median    {statistics.median(ours_all) * 1000:9.1f} ms")
    print(f"  median paired ratio        {median_ratio:9.4f}  -> overhead {100 * (median_ratio - 1):+.2f}% "
          f"of end-to-end (target <= 2%)")


def ttft_agreement(rounds: int, tokens: int, per_set: int) -> None:
    from openai import OpenAI

    from pytest_llmops.integrations.llama_server import LlamaServer
    from pytest_llmops.providers.base import GenerationParams, GenerationRequest
    from pytest_llmops.providers.openai_provider import OpenAIProvider
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.suites.latency.timing_openai import OpenAITimer

    requests = [GenerationRequest.prompt(p, params=GenerationParams(max_new_tokens=tokens)) for p in _prompts(per_set)]
    with tempfile.TemporaryDirectory() as tmp, LlamaServer(Path(tmp) / "server.log") as server:
        timer = OpenAITimer(OpenAIProvider(parse_spec(server.spec)), tokens, fixed_output=True)
        client = OpenAI(base_url=server.base_url, api_key="no-key", max_retries=0)
        client.models.list()  # open the connection, as our timer does

        def raw(request: GenerationRequest) -> float:
            """An independent loop: time to the first chunk with content, straight from the client."""
            start = time.perf_counter()
            first = None
            stream = client.chat.completions.create(**timer.request_kwargs(request))
            for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - start
            assert first is not None, "the stream carried no content"
            return first

        timer.measure(requests[:1], 1)  # warm-up, discarded
        raw(requests[0])
        ours, theirs = [], []
        for round_index in range(rounds):
            if round_index % 2 == 0:
                results, _ = timer.measure(requests, 1)
                raws = [raw(r) for r in requests]
            else:
                raws = [raw(r) for r in requests]
                results, _ = timer.measure(requests, 1)
            ours += [r.ttft for r in results]
            theirs += raws
        client.close()
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"TTFT agreement (llama.cpp server, {len(ours)} requests each):")
    print(f"  raw openai client median   {statistics.median(theirs) * 1000:9.1f} ms")
    print(f"  our streaming timer median {statistics.median(ours) * 1000:9.1f} ms")
    print(f"  median ratio ours / raw    {ratio:9.4f}  -> {100 * (ratio - 1):+.2f}% (target within 5%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=16, help="fixed output tokens per request")
    parser.add_argument("--per-set", type=int, default=3, help="prompts per input-length set")
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if not args.skip_hf:
        overhead(args.rounds, args.tokens, args.per_set)
    if not args.skip_server:
        ttft_agreement(args.rounds, args.tokens, args.per_set)


if __name__ == "__main__":
    main()
