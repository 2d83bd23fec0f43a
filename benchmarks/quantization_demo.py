"""Did quantization regress SmolLM2? The regression suite's shipped demonstration.

The baseline is the embedded SmolLM2-135M-Instruct through the hf provider: its Q4_1 GGUF
dequantized to float32 and run by transformers. The candidate is the very same GGUF file
served by llama.cpp (``python -m llama_cpp.server`` on a loopback port) through the openai
provider, i.e. llama.cpp's quantized Q4_1 kernels. Both answer every golden row in one
pytest run (``--llm-baseline-model``), and the report says, per metric, whether the
candidate is ``non_inferior``, ``regressed`` or ``inconclusive``::

    python -m pytest_llmops.quantization_demo                 # evalsuites/regression, reports/quantization

Needs the ``dev`` extra (``llama-cpp-python[server]``). Exits with pytest's status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_llmops.integrations.llama_server import LlamaServer
from pytest_llmops.report.comparison_table import compared_metrics

CANDIDATE_ALIAS = "smollm2-q4_1"


def summarize(report_path: Path) -> list[str]:
    """One line per compared metric of every regression suite in the report."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    lines = []
    for name, suite in report.get("suites", {}).items():
        decision = (suite.get("metrics") or {}).get("decision")
        if decision is None:
            continue
        lines.append(f"{name}: {decision}")
        for metric, m in compared_metrics(suite):
            low, high = m["delta"]["ci95"]
            lines.append(f"  {metric:<22} baseline {m['baseline_mean']:.3f} -> candidate {m['candidate_mean']:.3f}  "
                         f"delta {m['delta']['value']:+.3f} [{low:+.3f}, {high:+.3f}]  McNemar p {m['p_value']:.3f}  "
                         f"flips +{m['flips']['improved']}/-{m['flips']['regressed']}  {m['decision']}"
                         + ("" if m.get("gate", True) else " (not gated)"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="?", default="evalsuites/regression", help="regression suites to run")
    parser.add_argument("--report-dir", default="reports/quantization", help="where the report goes")
    # Anything else on the command line goes to pytest (e.g. -p no:cacheprovider, -k capital).
    args, pytest_args = parser.parse_known_args(argv)
    report_dir = Path(args.report_dir)
    with LlamaServer(report_dir / "llama-server.log") as server:
        command = [sys.executable, "-m", "pytest", args.suites, f"--llm-model={server.spec}?alias={CANDIDATE_ALIAS}",
                   "--llm-baseline-model=smollm2", f"--llm-report-dir={report_dir}", "-q", *pytest_args]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        print("$", " ".join(command), flush=True)
        status = subprocess.run(command, env=env, check=False).returncode
    report = report_dir / "llmops-report.json"
    if report.is_file():
        print("\nDid quantization regress this model? (candidate: llama.cpp Q4_1; baseline: the same weights "
              "dequantized to float32 in transformers)")
        for line in summarize(report):
            print(line)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
