"""Repeated sampling costs: k samples batched together, against one sample and against a loop.

    HF_HUB_OFFLINE=1 python benchmarks/repeats_batching.py [--part suite|provider|both] [--prompts 16]

1. ``suite``: ``pytest evalsuites/functional/`` on the embedded SmolLM2, each run in a fresh
   process with a fresh cache folder (``-o llm_cache_dir=...``):
   a. one greedy sample per case;
   b. ``--llm-repeats 5 --llm-temperature 0.7`` (5 sampled answers per case, RAG pipeline
      cases excepted: they answer once);
   c. b again on b's cache: every sample should come from the cache (0 generated).
   Prints, for each, the generation time the engine measured (``run.engine.*.generate_s``:
   the model's time answering, without its load), the session's duration and the process
   wall time, and the ratio b / a. The model is warm in the sense the issue means: its
   converted weights are in the conversion cache, so a load takes about a second and is
   reported apart (``load_s``), not counted in the generation time.
2. ``provider``: the hf provider alone on ``--prompts`` of the functional suites' questions,
   5 samples each at temperature 0.7: all of them in one ``generate_batch`` call (batched
   sampling, each row with its own seeded generator) against one call per request (what
   sampled requests cost before they batched). Both give the same texts (checked and printed).
3. ``batch`` (only when asked): time per decode step and per row at batch sizes 1 to 128,
   greedy and sampled, on one prompt: what the CPU batch sizes in ``providers/device.py`` rest on.

Prints figures; asserts nothing about speed (shared machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONAL = ROOT / "evalsuites" / "functional"


def pytest_run(label: str, cache_dir: Path, report_dir: Path, *extra: str) -> dict[str, float]:
    """One pytest run of the functional suites; its engine figures and wall time."""
    args = [sys.executable, "-m", "pytest", str(FUNCTIONAL.relative_to(ROOT)), "--llm-model=smollm2",
            "-p", "no:cacheprovider", "-q", "-q", "-o", f"llm_cache_dir={cache_dir}",
            f"--llm-report-dir={report_dir}", *extra]
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    report = json.loads((report_dir / "llmops-report.json").read_text(encoding="utf-8"))
    engine = report["run"]["engine"]["smollm2"]
    suites = report["suites"]
    flaky = {name: s["metrics"]["flakiness"] for name, s in suites.items() if "flakiness" in s["metrics"]}
    figures = {"generate_s": float(engine.get("generate_s") or 0.0), "load_s": float(engine.get("load_s") or 0.0),
               "generated": int(engine.get("generated") or 0), "cache_hits": int(engine.get("cache_hits") or 0),
               "duration_s": float(report["run"]["duration_s"]), "wall_s": wall, "cases": len(report["cases"])}
    print(f"{label:<34} cases {figures['cases']:>3}  generated {figures['generated']:>4}  "
          f"cache hits {figures['cache_hits']:>4}  generate {figures['generate_s']:7.1f} s  "
          f"load {figures['load_s']:4.1f} s  session {figures['duration_s']:7.1f} s  process {wall:7.1f} s")
    for name, metric in flaky.items():
        print(f"    {name:<40} flaky {metric['flaky']}/{metric['n']} = {metric['value']:.2f} "
              f"[{metric['ci95'][0]:.2f}, {metric['ci95'][1]:.2f}]")
    return figures


def suite_part() -> None:
    with tempfile.TemporaryDirectory(prefix="llmops-repeats-bench-") as folder:
        base = Path(folder)
        single = pytest_run("a. one greedy sample", base / "cache-a", base / "report-a")
        # The like-for-like baseline: one sample at the repeated run's temperature (sampled
        # answers differ in length from greedy ones, and sampled batches are larger).
        single_t = pytest_run("a2. one sample, temperature 0.7", base / "cache-a2", base / "report-a2",
                              "--llm-temperature=0.7")
        repeated = pytest_run("b. --llm-repeats 5, temperature 0.7", base / "cache-b", base / "report-b",
                              "--llm-repeats=5", "--llm-temperature=0.7")
        cached = pytest_run("c. b again, from b's cache", base / "cache-b", base / "report-c",
                            "--llm-repeats=5", "--llm-temperature=0.7")
    print(f"generation time b / a: {repeated['generate_s'] / single['generate_s']:.2f}x "
          f"for {repeated['generated'] / max(1, single['generated']):.2f}x the generations")
    print(f"generation time b / a2: {repeated['generate_s'] / single_t['generate_s']:.2f}x "
          f"for {repeated['generated'] / max(1, single_t['generated']):.2f}x the generations")
    print(f"session time b / a:    {repeated['duration_s'] / single['duration_s']:.2f}x")
    print(f"session time b / a2:   {repeated['duration_s'] / single_t['duration_s']:.2f}x")
    print(f"second repeated run:   {cached['generated']} generated, {cached['cache_hits']} from the cache, "
          f"session {cached['duration_s']:.1f} s")


def questions(count: int) -> list[str]:
    found: list[str] = []
    for path in sorted(FUNCTIONAL.glob("*.eval.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("subject", "model") != "model":
            continue
        found += [case["input"] for case in data.get("cases") or [] if isinstance(case.get("input"), str)]
    return found[:count]


def provider_part(prompts: int, samples: int, max_new_tokens: int) -> None:
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.providers.base import GenerationParams, GenerationRequest
    from pytest_llmops.providers.hf import HFProvider

    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.7)
    requests = [GenerationRequest.prompt(q, params=params, sample_index=i)
                for q in questions(prompts) for i in range(samples)]
    provider.generate_batch(requests[:2])  # torch's first-call warm-up, outside both timings
    start = time.perf_counter()
    batched = provider.generate_batch(requests)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    looped = [provider.generate_batch([request])[0] for request in requests]
    looped_s = time.perf_counter() - start
    same = sum(a.text == b.text for a, b in zip(batched, looped))
    tokens = sum(g.output_tokens or 0 for g in batched)
    print(f"{len(requests)} sampled requests ({len(requests) // samples} prompts x {samples} samples, "
          f"max_new_tokens {max_new_tokens}, {tokens} tokens):")
    print(f"  batched (one generate_batch call): {batched_s:7.1f} s  {len(requests) / batched_s:6.2f} req/s  "
          f"{tokens / batched_s:7.1f} tok/s")
    print(f"  one by one:                        {looped_s:7.1f} s  {len(requests) / looped_s:6.2f} req/s  "
          f"{tokens / looped_s:7.1f} tok/s")
    print(f"  speed-up {looped_s / batched_s:.2f}x; identical texts {same}/{len(requests)}")


def batch_part(sizes: list[int], max_new_tokens: int) -> None:
    """Seconds per decode step and per row, greedy and sampled, at each batch size (one prompt)."""
    from transformers import LogitsProcessorList

    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.providers.hf import HFProvider
    from pytest_llmops.providers.sampling import SeededSampler, sample_seed

    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    tok, model = provider.tokenizer, provider.model
    text = tok.apply_chat_template([{"role": "user", "content": questions(1)[0]}], tokenize=False,
                                   add_generation_prompt=True)
    settings = dict(max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False,
                    pad_token_id=tok.pad_token_id, temperature=None, top_p=None, top_k=None)
    model.generate(**tok([text], return_tensors="pt"), **settings)  # first-call warm-up
    for size in sizes:
        enc = tok([text] * size, return_tensors="pt", padding=True)
        start = time.perf_counter()
        model.generate(**enc, **settings)
        greedy = time.perf_counter() - start
        sampler = SeededSampler([sample_seed(0, i) for i in range(size)], 0.7, 1.0)
        start = time.perf_counter()
        model.generate(**enc, **settings, logits_processor=LogitsProcessorList([sampler]))
        sampled = time.perf_counter() - start
        print(f"batch {size:>4}: greedy {greedy / max_new_tokens * 1000:6.0f} ms/step {greedy / size:6.3f} s/row   "
              f"sampled {sampled / max_new_tokens * 1000:6.0f} ms/step {sampled / size:6.3f} s/row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("suite", "provider", "batch", "both"), default="both")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    if args.part in ("suite", "both"):
        suite_part()
    if args.part in ("provider", "both"):
        provider_part(args.prompts, args.samples, args.max_new_tokens)
    if args.part == "batch":
        batch_part([1, 8, 16, 32, 64, 128], args.max_new_tokens)


if __name__ == "__main__":
    main()
