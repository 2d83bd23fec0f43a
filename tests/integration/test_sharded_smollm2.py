"""The shipped suites on the embedded SmolLM2, run as three shards and merged: the same cases,
outcomes and suite metrics as one run, and the same gate decisions.

One suite file of each kind that runs against the bare model (functional, adversarial,
metamorphic, latency, regression); garak's probes are covered by the echo test of every shipped
suite (tests/test_refold.py), whose shard plan is the same code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from llmops_testutils import without_keys
from pytest_llmops.cli import main as llmops

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUITES = ["evalsuites/functional", "evalsuites/adversarial/model.eval.yaml",
          "evalsuites/metamorphic/model_relations.eval.yaml", "evalsuites/latency", "evalsuites/regression"]
# Wall-clock fields, what the cache held (a cached answer's device is not known); latency is
# measured in wall-clock time, so its outcomes and metrics are compared by shape (cases and
# sample counts), not by value.
VOLATILE = {"timings", "cached", "seconds", "device", "gpu"}
TIMED_KIND = "latency"


def _stable(value: Any) -> Any:
    return without_keys(value, VOLATILE)


def _comparable(report: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    cases = [_stable(c) if c["kind"] != TIMED_KIND else (c["suite"], c["id"], c["model"])
             for c in report["cases"]]
    suites = {name: _stable(s) if s["kind"] != TIMED_KIND else s["metrics"].get("n")
              for name, s in report["suites"].items()}
    return cases, suites


@pytest.fixture
def shipped(pytester: pytest.Pytester) -> pytest.Pytester:
    """The shipped suites in a fresh project that reads and fills the repository's response cache
    (content-addressed by model fingerprint and request, so a cached answer is the model's answer;
    the main job fills it in CI)."""
    for folder in ("evalsuites", "fixtures"):
        shutil.copytree(ROOT / folder, pytester.path / folder)
    pytester.makeini(f"[pytest]\nllm_cache_dir = {ROOT / '.llmops-cache'}\n")
    return pytester


def test_three_shards_of_the_shipped_suites_merge_into_the_single_run(shipped: pytest.Pytester) -> None:
    whole = shipped.runpytest_subprocess("--llm-model=smollm2", "--llm-report-dir=whole", *SUITES)
    assert whole.ret in (0, 1), whole.stdout.str()[-2000:]  # the embedded model fails some cases
    shards = []
    for index in (1, 2, 3):
        result = shipped.runpytest_subprocess("--llm-model=smollm2", f"--llm-shard={index}/3",
                                              f"--llm-report-dir=shard{index}", *SUITES)
        assert result.ret in (0, 1), result.stdout.str()[-2000:]
        shards.append(shipped.path / f"shard{index}" / "llmops-report.json")
    merged_path = shipped.path / "merged" / "llmops-report.json"
    assert llmops(["merge", *map(str, shards), "-o", str(merged_path)]) == 0
    single = json.loads((shipped.path / "whole" / "llmops-report.json").read_text(encoding="utf-8"))
    merged = json.loads(merged_path.read_text(encoding="utf-8"))
    kinds = {c["kind"] for c in single["cases"]}
    assert kinds == {"functional", "adversarial", "metamorphic", "latency", "regression"}
    assert all(json.loads(path.read_text(encoding="utf-8"))["cases"] for path in shards)
    assert _comparable(merged) == _comparable(single)
    for env in ("dev", "qa"):
        decisions = []
        for path in (shipped.path / "whole" / "llmops-report.json", merged_path):
            out = path.with_name(f"gate-{env}.json")
            llmops(["gate", str(path), "--env", env, "--config", str(ROOT / "llmops.yaml"), "--out", str(out)])
            rows = json.loads(out.read_text(encoding="utf-8"))["checks"]
            # Latency rows depend on this machine's load at the moment; every other row must agree.
            decisions.append([row for row in rows if not str(row.get("suite", "")).startswith("latency/")])
        assert decisions[0] == decisions[1], env
