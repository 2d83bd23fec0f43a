"""Per-case cost of two checkouts of the plugin, side by side, in CPU time.

    python benchmarks/per_case_cpu_ab.py OLD_TREE NEW_TREE [--cases 5000] [--rounds 5]

Each tree is a source checkout (``git worktree add /tmp/old REV``). Both run the same fully
cached echo suite (the cache is filled once, by the first tree: the echo provider's cache key
does not depend on the checkout), alternating OLD, NEW, OLD, NEW... so that both see the
same machine. The figure is the pytest process's CPU time (user + system) per case, with the
1-case run subtracted (fixed costs removed), because CPU time barely moves when other jobs
share the cores while wall time doubles. Prints every round and the medians.

Written to check that the progress display (issue 18) costs nothing on the per-case path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# The same suite writer as the scale benchmark (this folder is on sys.path when run as a script).
from bench_scale import write_suite

RUNNER = ("import resource, sys, pytest\n"
          "code = pytest.main(sys.argv[1:])\n"
          "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
          "print('CPU_S', usage.ru_utime + usage.ru_stime)\n"
          "sys.exit(code)\n")
def cpu_seconds(tree: Path, folder: Path, *args: str) -> float:
    """CPU seconds of one pytest run of ``folder`` with the plugin imported from ``tree``."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, "-c", RUNNER, "-q", "-p", "no:cacheprovider", "--llm-model=echo:bench",
                           *args], cwd=folder, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"pytest failed with {tree} in {folder}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return next(float(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("CPU_S"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--cases", type=int, default=5000)  # fewer: start-up noise swamps the figure
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory(prefix="llmops-cpu-ab-") as tmp:
        root = Path(tmp)
        one, many = root / "one", root / "many"
        write_suite(one, 1, max_new_tokens=2, cache_dir=root / "cache")
        write_suite(many, args.cases, max_new_tokens=2, cache_dir=root / "cache")
        cpu_seconds(trees["old"], many)  # fills the cache (and warms the page cache)
        cpu_seconds(trees["new"], many)
        per_case: dict[str, list[float]] = {"old": [], "new": []}
        for round_no in range(args.rounds):
            shown = []
            for name, tree in trees.items():
                marginal = (cpu_seconds(tree, many) - cpu_seconds(tree, one)) / (args.cases - 1)
                per_case[name].append(marginal * 1000)
                shown.append(f"{name} {marginal * 1000:.3f}")
            print(f"round {round_no + 1}: CPU ms/case " + ", ".join(shown), flush=True)
    old, new = statistics.median(per_case["old"]), statistics.median(per_case["new"])
    print(f"FIGURE CPU ms/case at {args.cases} cached cases (median of {args.rounds}): old {old:.3f}, "
          f"new {new:.3f}, difference {new - old:+.3f} ({100 * (new - old) / old:+.1f}%); "
          f"spread old {min(per_case['old']):.3f}-{max(per_case['old']):.3f}, "
          f"new {min(per_case['new']):.3f}-{max(per_case['new']):.3f}")


if __name__ == "__main__":
    main()
