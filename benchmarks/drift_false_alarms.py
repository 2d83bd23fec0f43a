"""False alarms and sensitivity of the drift kind's verdict, on one log's own traffic.

- A/A: the log's reference half (lines before ``--split``) is split at random into two
  halves, ``--splits`` times (seeded); each pair goes through the drift comparison exactly as
  a suite runs it (``measure.run_drift``: scan, embed, MMD permutation test, topics, output
  comparisons, verdict). The share of pairs flagged is the false-alarm rate (the input-shift
  test on its own, and the case's whole verdict).
- Sensitivity: the same random halves, with a share ``f`` of the second half's lines replaced
  by lines from the log's current half (its real, planted drift), for several ``f``; the
  share flagged is the detection rate at that dose.

Embeddings are computed once per distinct message (a cache around the embedder), so the
figures cost one embedding pass plus the tests. Without ``--log`` a synthetic log is
generated (tests/drift_logs.py: 2% -> 35% refund questions, refusals 5% -> 25%).

    HF_HUB_OFFLINE=1 python benchmarks/drift_false_alarms.py --log fixtures/logs/traffic.jsonl --split 2026-10-15
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # drift_logs: the tests' seeded log generator

from pytest_llmops.suites.builtins import default_registry  # noqa: E402
from pytest_llmops.suites.drift.measure import default_embed, run_drift  # noqa: E402
from pytest_llmops.suites.drift.spec import DriftSpec, Window  # noqa: E402
from pytest_llmops.suites.suite_file import parse_checks  # noqa: E402


class CachedEmbed:
    """The suite's embedder, with each distinct text embedded once across all comparisons."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def warm(self, texts: list[str]) -> None:
        todo = sorted({t for t in texts if t not in self.vectors})
        for text, vector in zip(todo, default_embed(todo)):
            self.vectors[text] = vector

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.array([self.vectors[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)


def _user(line: str) -> str:
    messages = json.loads(line)["messages"]
    return [m["content"] for m in messages if m["role"] == "user"][-1]


def compare(ref: list[str], cur: list[str], folder: Path, spec_args: dict[str, Any], embed: CachedEmbed,
            seed: int) -> dict[str, Any]:
    (folder / "a.jsonl").write_text("\n".join(ref) + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_text("\n".join(cur) + "\n", encoding="utf-8")
    registry = default_registry()
    checks = parse_checks(spec_args["checks"], registry.checks, lambda f, why: ValueError(f"{f}: {why}"))
    spec = DriftSpec(reference=Window("reference", folder / "a.jsonl"), current=Window("current", folder / "b.jsonl"),
                     checks=checks, sample=spec_args["sample"], permutations=spec_args["permutations"],
                     topics=spec_args["topics"], alpha=spec_args["alpha"], seed=seed)
    return run_drift(spec, registry.checks, {}, embed=embed)["drift"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, help="a JSON Lines log (default: a generated synthetic one)")
    parser.add_argument("--split", help="ISO time dividing the log's reference half from its current half "
                                        "(default: the middle line)")
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--doses", default="0.25,0.5,1.0", help="shares of the second half replaced by current traffic")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--alpha", type=float, default=0.01)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    log = args.log
    if log is None:
        from drift_logs import write_log

        log = write_log(folder / "synthetic.jsonl", 3000, seed=11, shift_after=1500, new_share=0.35,
                        refusal_after=0.25)
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.split:
        cut = datetime.fromisoformat(args.split.replace("Z", "+00:00"))
        if cut.tzinfo is None:  # a bare date or time is UTC midnight, as in suite windows
            cut = cut.replace(tzinfo=timezone.utc)
        stamp = [datetime.fromisoformat(json.loads(l)["timestamp"].replace("Z", "+00:00")) for l in lines]
        ref_half = [l for l, s in zip(lines, stamp) if s < cut]
        cur_half = [l for l, s in zip(lines, stamp) if s >= cut]
    else:
        ref_half, cur_half = lines[:len(lines) // 2], lines[len(lines) // 2:]
    spec_args = {"checks": [{"refusal": False}, "not-empty", "english"], "sample": args.sample,
                 "permutations": args.permutations, "topics": 8, "alpha": args.alpha}
    embed = CachedEmbed()
    started = time.perf_counter()
    embed.warm([_user(l) for l in lines])
    print(f"log {log}: {len(ref_half)} reference-half lines, {len(cur_half)} current-half lines; "
          f"{len(embed.vectors)} distinct messages embedded in {time.perf_counter() - started:.1f} s")
    full = compare(ref_half, cur_half, folder, spec_args, embed, seed=0)
    print(f"reference half vs current half: input p={full['input_shift']['p_value']}, "
          f"effect {full['input_shift']['effect_size']}, drifted {full['verdict']['drifted']}")
    doses = [float(d) for d in args.doses.split(",") if d.strip()]
    rows: dict[str, list[dict[str, Any]]] = {"A/A": [], **{f"f={d}": [] for d in doses}}
    for index in range(args.splits):
        rng = random.Random(1000 + index)
        shuffled = ref_half[:]
        rng.shuffle(shuffled)
        first, second = shuffled[:len(shuffled) // 2], shuffled[len(shuffled) // 2:]
        rows["A/A"].append(compare(first, second, folder, spec_args, embed, seed=index))
        for dose in doses:
            k = round(dose * len(second))
            mixed = rng.sample(cur_half, k) + second[k:]
            rows[f"f={dose}"].append(compare(first, mixed, folder, spec_args, embed, seed=index))
    print(f"\n{args.splits} random halves of the reference half ({len(ref_half) // 2} vs "
          f"{len(ref_half) - len(ref_half) // 2} lines), alpha {args.alpha}, sample cap {args.sample}, "
          f"{args.permutations} permutations:")
    print(f"{'comparison':<12} {'input shift flagged':>20} {'verdict: drift':>16} {'median input p':>15} "
          f"{'median effect':>14}")
    for name, results in rows.items():
        ps = [r["input_shift"]["p_value"] for r in results]
        flagged = sum(p < args.alpha for p in ps)
        drift = sum(r["verdict"]["drift"] for r in results)
        effects = [r["input_shift"]["effect_size"] for r in results]
        print(f"{name:<12} {flagged:>10}/{len(results):<9} {drift:>7}/{len(results):<8} "
              f"{float(np.median(ps)):>15.4g} {float(np.median(effects)):>14.4g}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
