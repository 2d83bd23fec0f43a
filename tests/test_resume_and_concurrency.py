"""Killed runs resume from the cache; several runs share one cache folder at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmops_testutils import LlmProject, echo_log_lines, simple_suite

N = 200  # four engine chunks of 64


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _pytest(project: LlmProject, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "--llm-model=echo:a", "-p", "no:cacheprovider", "-q",
                             *args], cwd=project.path, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _cases(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((c["suite"], c["id"], c["model"], c["outcome"], c["output"]) for c in report["cases"])


@pytest.fixture
def big(project: LlmProject) -> LlmProject:
    project.suite("big", simple_suite(N, failing_every=7))
    return project


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_a_run_killed_while_generating_resumes_from_the_cache(big: LlmProject, tmp_path: Path,
                                                              sig: signal.Signals) -> None:
    log = tmp_path / "echo.log"
    db = big.path / ".llmops-cache" / "responses.sqlite"
    run = _pytest(big, env={"LLMOPS_ECHO_DELAY": "1.5", "LLMOPS_ECHO_LOG": str(log)})
    deadline = time.monotonic() + 120
    while _rows(db) < 64 and time.monotonic() < deadline:  # the first chunk is stored
        time.sleep(0.05)
    run.send_signal(sig)
    run.communicate(timeout=120)
    stored = _rows(db)
    assert 64 <= stored < N, "killed in the middle of generation"
    before = len(echo_log_lines(log))

    again = _pytest(big, env={"LLMOPS_ECHO_LOG": str(log)})
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 1, out  # every seventh case fails its check, as in any run
    regenerated = len(echo_log_lines(log)) - before
    assert regenerated == N - stored  # what was stored before the kill is not generated again
    resumed = big.report()
    assert resumed["run"]["complete"] is True and len(resumed["cases"]) == N

    fresh = _pytest(big, "--llm-cache=off", "--llm-report-dir=uninterrupted")
    fresh.communicate(timeout=300)
    assert _cases(resumed) == _cases(big.report("uninterrupted"))
    leftovers = [p.name for p in (big.path / "reports").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("runs", [2, 4])
def test_runs_sharing_one_cache_folder_all_complete_with_equal_outputs(project: LlmProject, tmp_path: Path,
                                                                       runs: int) -> None:
    project.suite("big", simple_suite(N, failing_every=7))
    project.suite("other", simple_suite(N // 2, name="other"))
    log = tmp_path / "echo.log"
    procs = [_pytest(project, f"--llm-report-dir=r{i}", env={"LLMOPS_ECHO_LOG": str(log), "LLMOPS_ECHO_DELAY": "0.1"})
             for i in range(runs)]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 1 and "locked" not in out, out  # 1: the failing checks, nothing else
    reports = [project.report(f"r{i}") for i in range(runs)]
    assert all(len(r["cases"]) == N + N // 2 and r["run"]["complete"] for r in reports)
    assert all(_cases(r) == _cases(reports[0]) for r in reports)
    # "other" asks the same questions as the first half of "big": N distinct requests in all.
    assert _rows(project.path / ".llmops-cache" / "responses.sqlite") == N  # no write lost
    # Each run generated what the cache did not have when it asked: nothing more often than once per run.
    assert N <= len(echo_log_lines(log)) <= runs * N
