"""Peak memory of pytest-xdist workers with two local models: grouped by model, and not.

    HF_HUB_OFFLINE=1 python benchmarks/xdist_models_rss.py [--cases 16] [--rounds 1]

Runs a small functional suite against two local models (the embedded SmolLM2 with and without
its chat template: two fingerprints, so two loads of the weights) on two xdist workers, with
the cache off so both models really generate:

- ``--dist load`` (xdist's default with ``-n``), which pytest-llmops turns into ``loadgroup``
  with one group per model (``pytest_llmops/worker_groups.py``);
- ``--dist worksteal``, left alone: any worker may get any model's tests.

Polls every worker's resident set size (psutil) and prints each worker's peak, their sum and
the run's wall time. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

MODELS = ("--llm-model=smollm2?alias=chat", "--llm-model=smollm2?chat_template=off&alias=raw")


def _suite(cases: int) -> str:
    lines = ["suite: functional/rss", "generation:", "  max_new_tokens: 16", "cases:"]
    for i in range(cases):
        lines += [f"  - id: q{i:02d}", f"    input: Name a colour and the number {i}.", "    checks:",
                  "      - max-length: 2000"]
    return "\n".join(lines) + "\n"


def _watch(proc: subprocess.Popen[bytes], peaks: dict[int, int], stop: threading.Event) -> None:
    """Record the peak RSS of every descendant of ``proc`` (the xdist workers) until ``stop``."""
    parent = psutil.Process(proc.pid)
    while not stop.is_set():
        try:
            for child in parent.children(recursive=True):
                try:
                    peaks[child.pid] = max(peaks.get(child.pid, 0), child.memory_info().rss)
                except psutil.Error:
                    pass
        except psutil.Error:
            return
        time.sleep(0.1)


def run(folder: Path, dist: str) -> tuple[list[int], float, int]:
    """One pytest run; each worker's peak RSS (bytes, largest first), the wall time, the exit code."""
    args = [sys.executable, "-m", "pytest", "-p", "xdist", "-n", "2", "--dist", dist, "--llm-cache=off",
            "-p", "no:cacheprovider", "-q", "-q", *MODELS, "rss.eval.yaml"]
    peaks: dict[int, int] = {}
    stop = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher = threading.Thread(target=_watch, args=(proc, peaks, stop), daemon=True)
    watcher.start()
    code = proc.wait()
    seconds = time.perf_counter() - start
    stop.set()
    watcher.join()
    # The workers are the two largest descendants (execnet's helpers are small).
    return sorted(peaks.values(), reverse=True)[:2], seconds, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=16, help="cases in the suite (each run for both models)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mode, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "rss.eval.yaml").write_text(_suite(args.cases), encoding="utf-8")
        print(f"2 models x 2 xdist workers, {args.cases} cases per model, cache off")
        print(f"{'dist':<10} {'worker peaks (MiB)':<22} {'sum (MiB)':>10} {'wall (s)':>9} {'exit':>5}")
        for _ in range(args.rounds):
            for dist in ("load", "worksteal"):
                peaks, seconds, code = run(folder, dist)
                mib = [p / 2**20 for p in peaks]
                label = "load->grp" if dist == "load" else dist
                print(f"{label:<10} {', '.join(f'{m:.0f}' for m in mib):<22} {sum(mib):>10.0f} {seconds:>9.1f} {code:>5}")


if __name__ == "__main__":
    main()
