"""Harness throughput against a bare batched ``model.generate`` loop, on the same prompts.

Prints three figures (issue: foundation), measured side by side in one run:

1. end-to-end harness throughput (a pytest run of a YAML suite, cache off) against a bare
   loop that loads the converted model and calls ``model.generate`` at batch 32;
2. a second run of the same suite served from the cache, against the first;
3. model load time from the converted-GGUF cache folder.

The harness figure uses the session duration the report records (plugin configured ->
report written: collection, model load, generation, checks, records, report), and the
bare loop's figure includes its model load too, so both sides pay for the same work. Each
side runs in a fresh process, as a user would run it, so both pay torch's first-call
warm-up; they alternate, so drift in machine load hits both.
Process wall times, which add interpreter start-up and imports, are printed as well.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ("rivers mountains deserts forests oceans volcanoes glaciers islands cities villages bridges "
          "castles libraries museums gardens markets trains bicycles airplanes ships rockets satellites "
          "planets comets stars galaxies atoms magnets batteries computers keyboards printers cameras "
          "telescopes microscopes clocks calendars maps compasses umbrellas lanterns candles kettles "
          "teapots bread cheese apples oranges lemons carrots potatoes rice coffee chocolate honey "
          "bees owls whales dolphins tigers elephants penguins").split()


def write_suite(folder: Path, n: int, max_new_tokens: int) -> Path:
    lines = ["kind: functional", "generation:", f"  max_new_tokens: {max_new_tokens}", "cases:"]
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        lines += [f"  - id: case-{i:04d}", f"    input: Write one sentence about {topic} (variant {i // len(TOPICS)}).",
                  "    checks:", "      - max-length: 2000"]
    path = folder / "bench.eval.yaml"
    path.write_text("\n".join(lines) + "\n")
    (folder / "pytest.ini").write_text("[pytest]\n")
    return path


def prompts(n: int) -> list[str]:
    return [f"Write one sentence about {TOPICS[i % len(TOPICS)]} (variant {i // len(TOPICS)})." for i in range(n)]


def bare_loop(n: int, max_new_tokens: int, batch_size: int) -> dict[str, float]:
    """What a user would write by hand: load, chat template, left padding, batched greedy generate.

    The load figure includes importing torch and transformers, as the harness's session does.
    """
    start = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pytest_llmops.providers.model_store import converted_gguf_folder, smollm2_gguf_path

    folder = converted_gguf_folder(smollm2_gguf_path())
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    load = time.perf_counter() - start
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in prompts(n)]
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, n, batch_size):
            enc = tok(texts[i:i + batch_size], return_tensors="pt", padding=True)
            model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                           temperature=None, top_p=None, top_k=None)
    generate = time.perf_counter() - start
    return {"load_s": load, "generate_s": generate}


def bare_loop_in_fresh_process(n: int, max_new_tokens: int, batch_size: int) -> dict[str, float]:
    """The bare loop as a user runs it: its own process, so it pays torch's first-call warm-up
    (thread pool, kernel selection) exactly as the harness's pytest process does."""
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_engine as b; "
            f"print(json.dumps(b.bare_loop({n}, {max_new_tokens}, {batch_size})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    if proc.returncode != 0:
        sys.exit(f"bare loop failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def harness_run(folder: Path, cache: str) -> dict[str, float]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--llm-model=smollm2", f"--llm-cache={cache}", "-q",
                           "-p", "no:cacheprovider", str(folder)], cwd=folder, env=env, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"harness run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    report = json.loads((folder / "reports" / "llmops-report.json").read_text())
    engine = report["run"]["engine"]["smollm2"]
    return {"wall_s": wall, "session_s": report["run"]["duration_s"], "generate_s": engine["generate_s"],
            "load_s": engine["load_s"], "generated": engine["generated"], "cache_hits": engine["cache_hits"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats of bare and harness")
    args = parser.parse_args()
    n = args.cases
    with tempfile.TemporaryDirectory(prefix="llmops-bench-") as tmp:
        folder = Path(tmp)
        write_suite(folder, n, args.max_new_tokens)
        harness_run(folder, "off")  # warm-up: converts the GGUF if needed, warms the page cache
        bare_runs, harness_runs = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both sides
            bare_runs.append(bare_loop_in_fresh_process(n, args.max_new_tokens, args.batch_size))
            harness_runs.append(harness_run(folder, "off"))
        first = harness_run(folder, "refresh")   # generates and fills the cache
        cached = harness_run(folder, "rw")       # served from the cache

    bare_total = statistics.median(r["load_s"] + r["generate_s"] for r in bare_runs)
    bare_gen = statistics.median(r["generate_s"] for r in bare_runs)
    harness_session = statistics.median(r["session_s"] for r in harness_runs)
    harness_gen = statistics.median(r["generate_s"] for r in harness_runs)
    load = statistics.median(r["load_s"] for r in harness_runs)
    print(f"cases={n} max_new_tokens={args.max_new_tokens} bare batch={args.batch_size} repeats={args.repeats}")
    print(f"bare loop:  {n / bare_total:.2f} cases/s incl. load ({bare_total:.2f} s), "
          f"{n / bare_gen:.2f} cases/s generate only")
    print(f"harness:    {n / harness_session:.2f} cases/s per session ({harness_session:.2f} s, incl. load), "
          f"{n / harness_gen:.2f} cases/s generate only")
    print(f"FIGURE 1 harness/bare throughput: {bare_total / harness_session:.2f}x end-to-end "
          f"(generate only {bare_gen / harness_gen:.2f}x)  target >= 0.9")
    print(f"FIGURE 2 cached rerun speed-up: {first['session_s'] / cached['session_s']:.0f}x per session "
          f"({first['session_s']:.2f} s -> {cached['session_s']:.3f} s; process wall "
          f"{first['wall_s']:.2f} s -> {cached['wall_s']:.2f} s = {first['wall_s'] / cached['wall_s']:.1f}x); "
          f"cache hits {cached['cache_hits']}/{n}  target >= 50")
    print(f"FIGURE 3 model load from the converted cache: {load:.2f} s  target <= 5")


if __name__ == "__main__":
    main()
