"""Aggregators fold from records alone: every shipped suite's metrics, recomputed from a finished
report's records, equal the metrics the run wrote; and the shipped suites run as three shards
merge into that same report (``--llm-shard``, ``llmops merge``), which gates the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llmops_testutils import LlmProject, without_keys

from pytest_llmops.cli import main as llmops
from pytest_llmops.report.refold import refold_suites
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.kinds import kind_named

ROOT = Path(__file__).resolve().parents[1]
CLOCK_SOURCE = Path(__file__).with_name("latency_clock.py").read_text(encoding="utf-8")


# Fields that differ between any two runs of the same selection: wall-clock times (a garak
# probe's seconds, a latency level's wall time and throughput) and what the cache held.
VOLATILE = {"timings", "cached", "seconds", "wall_s", "requests_per_s", "output_tokens_per_s", "good_requests_per_s"}


def _stable(value: Any) -> Any:
    return without_keys(value, VOLATILE)


def test_every_shipped_suite_refolds_and_three_shards_merge_into_the_single_run(project: LlmProject) -> None:
    for folder in ("evalsuites", "fixtures"):
        shutil.copytree(ROOT / folder, project.path / folder)
    # The clock provider answers like echo and has synthetic timings, so latency suites run too.
    project.write("latency_clock.py", CLOCK_SOURCE)
    project.pytester.makeconftest("from latency_clock import llmops_register_providers  # noqa: F401\n")
    project.run_subprocess("--llm-model=clock:40", "evalsuites/", "--llm-cache=off")
    report = project.report()
    registry = default_registry()
    kinds = {suite["kind"] for suite in report["suites"].values()}
    assert kinds == set(registry.kinds)  # every built-in kind is exercised (garak's probes skip without garak)
    refolded = refold_suites(report["cases"], lambda name: kind_named(registry, name))
    assert list(refolded) == list(report["suites"])
    for name, suite in report["suites"].items():
        assert refolded[name] == suite, name

    # The same selection as three shards (one run of pytest each), merged, is the single run.
    for index in (1, 2, 3):
        project.run_subprocess("--llm-model=clock:40", "evalsuites/", "--llm-cache=off",
                               f"--llm-shard={index}/3", f"--llm-report-dir=shard{index}")
    shards = [str(project.report_path(f"shard{index}")) for index in (1, 2, 3)]
    merged_path = project.path / "merged" / "llmops-report.json"
    assert llmops(["merge", *shards, "-o", str(merged_path), "--no-render"]) == 0
    merged = json.loads(merged_path.read_text(encoding="utf-8"))
    per_shard = [{c["kind"] for c in json.loads(Path(p).read_text(encoding="utf-8"))["cases"]} for p in shards]
    assert all(per_shard) and set().union(*per_shard) == kinds  # every shard ran something; all kinds ran
    assert len(merged["cases"]) == len(report["cases"])
    assert _stable(merged["cases"]) == _stable(report["cases"])
    assert _stable(merged["suites"]) == _stable(report["suites"])
    assert merged["run"]["usage"] == report["run"]["usage"] and report["run"]["usage"]["output_tokens"] > 0
    # ... and the shipped gates decide the same on both, row by row.
    for env in ("dev", "qa", "prod"):
        verdicts = []
        for name, path in (("single", project.report_path()), ("merged", merged_path)):
            out = project.path / f"gate-{env}-{name}.json"
            code = llmops(["gate", str(path), "--env", env, "--config", str(ROOT / "llmops.yaml"), "--out", str(out)])
            verdicts.append((code, _stable(_gate_rows(out))))
        assert verdicts[0] == verdicts[1], env


def _gate_rows(path: Path) -> Any:
    """A gate artifact without what differs between two reports of equal content (their hash, the time)."""
    artifact = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in artifact.items() if k not in {"report_sha256", "created_at"}}
