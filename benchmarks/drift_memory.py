"""Peak memory and time per line of a drift comparison over a large generated log.

Writes a seeded synthetic log of ``--lines`` lines (tests/drift_logs.py; the second half
shifted), then runs the drift comparison exactly as a ``kind: drift`` suite does
(``measure.run_drift``: stream, fold every line through the output checks, reservoir-sample
``--sample`` messages per window, embed them, MMD permutation test, topics) in this fresh
process, and prints the peak resident set size (``resource.getrusage``, the whole process:
Python, torch and the embedding model included) before and after, with the time per line.

    HF_HUB_OFFLINE=1 python benchmarks/drift_memory.py --lines 100000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # drift_logs: the tests' seeded log generator


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="write the log here instead of a temporary folder")
    args = parser.parse_args()
    from drift_logs import write_log

    path = args.keep or Path(tempfile.mkdtemp(prefix="drift-mem-")) / "big.jsonl"
    started = time.perf_counter()
    write_log(path, args.lines, seed=5, shift_after=args.lines // 2, new_share=0.3, refusal_after=0.1,
              hours=24 * 28 / args.lines)
    print(f"wrote {args.lines} lines ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    # The generator held the log's lines in memory; measure the comparison in a fresh process.
    import subprocess

    code = f"""
import resource, time, json
from pathlib import Path
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.drift.measure import run_drift, default_embed
from pytest_llmops.suites.drift.spec import parse_drift
mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
registry = default_registry()
default_embed(["warm up the embedder"])
loaded = mb()
data = {{"log": {str(path)!r}, "reference": {{"to": "2026-10-15"}}, "current": {{"from": "2026-10-15"}},
        "checks": [{{"refusal": False}}, "not-empty", "english"], "slices": ["metadata.segment"],
        "sample": {args.sample}, "permutations": {args.permutations}}}
spec = parse_drift(data, Path({str(path)!r}), registry, lambda f, why: ValueError(f"{{f}}: {{why}}"))
t0 = time.perf_counter()
out = run_drift(spec, registry.checks, {{}})
wall = time.perf_counter() - t0
d = out["drift"]
print(json.dumps({{"rss_after_imports_and_model_mb": round(loaded, 1), "peak_rss_mb": round(mb(), 1),
                  "wall_s": round(wall, 1), "timings": d["timings"], "windows": {{k: v["n"] for k, v in d["windows"].items()}},
                  "input_p": d["input_shift"]["p_value"], "effect": d["input_shift"]["effect_size"],
                  "drifted": d["verdict"]["drifted"]}}, indent=1))
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
