"""How many functional cases end as ``error`` through a faulty endpoint, and is any misjudged?

The 52 functional cases run against the real llama.cpp server (SmolLM2 GGUF) through
``pytest_llmops.integrations.fault_proxy``, which fails a share of requests with HTTP 500 and
answers another share with a cut-off JSON body, drawn per seed. For each seed and retry
budget it prints the cases that ended as ``error`` and those whose output or outcome differs
from the run without faults (misjudged), then the mean and the worst seed::

    python benchmarks/endpoint_faults.py                 # seeds 1-20, max_retries 3 and 5, 30% 500 + 10% malformed
    python benchmarks/endpoint_faults.py --seeds 5 --retries 5 --rate-500 0.5

The proxy remembers the server's answer to each request (greedy decoding: the same request
gets the same answer), so only the first run waits for the model; the faults, the retries
and the backoff are real in every run. Needs the ``dev`` extra (``llama-cpp-python[server]``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_llmops.integrations.fault_proxy import FaultyProxy, seeded_faults
from pytest_llmops.integrations.llama_server import LlamaServer

ROOT = Path(__file__).resolve().parents[1]


def run_suites(spec: str, report_dir: Path) -> tuple[dict[tuple[str, str], dict[str, Any]], str]:
    """The functional suites' cases by (suite, id), and pytest's output."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "evalsuites/functional", f"--llm-model={spec}",
                           "--llm-cache=off", f"--llm-report-dir={report_dir}", "-p", "no:cacheprovider", "-q"],
                          cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    report = json.loads((report_dir / "llmops-report.json").read_text(encoding="utf-8"))
    return {(c["suite"], c["id"]): c for c in report["cases"]}, proc.stdout + proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--retries", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--rate-500", type=float, default=0.3)
    parser.add_argument("--rate-malformed", type=float, default=0.1)
    args = parser.parse_args()
    rates = {500: args.rate_500, "malformed": args.rate_malformed}
    with tempfile.TemporaryDirectory() as tmp, LlamaServer(Path(tmp) / "server.log") as server, \
            FaultyProxy(server.base_url, remember_answers=True) as proxy:
        clean, _ = run_suites(f"openai:smollm2@{proxy.base_url}", Path(tmp) / "clean")
        print(f"{len(clean)} cases; faults per request: {rates}; seeds 1-{args.seeds}")
        print("max_retries seed  injected(500/malformed)  errored  misjudged  tracebacks")
        for retries in args.retries:
            errored_counts = []
            for seed in range(1, args.seeds + 1):
                proxy.restart(seeded_faults(seed, rates))
                cases, out = run_suites(f"openai:smollm2@{proxy.base_url}?max_retries={retries}",
                                        Path(tmp) / f"r{retries}-s{seed}")
                errored = [key for key, case in cases.items() if case["outcome"] == "error"]
                misjudged = [key for key, case in cases.items() if key not in errored and
                             (case["output"], case["outcome"]) != (clean[key]["output"], clean[key]["outcome"])]
                lost = len(clean) - len(cases)
                seen = Counter(proxy.seen)
                errored_counts.append(len(errored) + lost)
                print(f"{retries:>11} {seed:>4}  {seen[500]:>9}/{seen['malformed']:<9}    {len(errored) + lost:>7}"
                      f"  {len(misjudged):>9}  {out.count('Traceback'):>10}", flush=True)
            print(f"max_retries={retries}: errored per run mean {statistics.mean(errored_counts):.2f}, "
                  f"max {max(errored_counts)}, runs with more than 1: "
                  f"{sum(n > 1 for n in errored_counts)}/{len(errored_counts)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
