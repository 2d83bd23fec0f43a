"""Aggregators fold from records alone: every shipped suite's metrics, recomputed from a finished
report's records, equal the metrics the run wrote (what merging shards of a run will rely on)."""

from __future__ import annotations

import shutil
from pathlib import Path

from llmops_testutils import LlmProject

from pytest_llmops.report.refold import refold_suites
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.kinds import kind_named

ROOT = Path(__file__).resolve().parents[1]
CLOCK_SOURCE = Path(__file__).with_name("latency_clock.py").read_text(encoding="utf-8")


def test_every_shipped_suite_refolds_to_the_reported_metrics(project: LlmProject) -> None:
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
