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
from pytest_llmops.report.run_marker import MARKER_NAME

N = 200  # four engine chunks of 64


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    # across exec; then Python never installs its Ctrl-C handler and the run cannot be
    # interrupted. The run under test starts as from a terminal, wherever these tests run.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pytest(project: LlmProject, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "--llm-model=echo:a", "-p", "no:cacheprovider", "-q",
                             *args], cwd=project.path, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_default_sigint)


def _cases(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((c["suite"], c["id"], c["model"], c["outcome"], c["output"]) for c in report["cases"])


@pytest.fixture
def big(project: LlmProject) -> LlmProject:
    project.suite("big", simple_suite(N, failing_every=7))
    return project


# (signal, answers stored before it is sent): kill -9 before anything is stored, after the
# first chunk and during the last one; Ctrl-C and SIGTERM after the first chunk.
KILL_POINTS = [(signal.SIGKILL, 0), (signal.SIGKILL, 64), (signal.SIGKILL, 192),
               (signal.SIGINT, 64), (signal.SIGTERM, 64)]


@pytest.mark.parametrize(("sig", "stored_before"), KILL_POINTS,
                         ids=[f"{sig.name}-after-{rows}" for sig, rows in KILL_POINTS])
def test_a_run_killed_while_generating_resumes_from_the_cache(big: LlmProject, tmp_path: Path,
                                                              sig: signal.Signals, stored_before: int) -> None:
    log = tmp_path / "echo.log"
    db = big.path / ".llmops-cache" / "responses.sqlite"
    run = _pytest(big, env={"LLMOPS_ECHO_DELAY": "1.5", "LLMOPS_ECHO_LOG": str(log)})
    deadline = time.monotonic() + 120
    while _rows(db) < stored_before and time.monotonic() < deadline:  # these chunks are stored
        time.sleep(0.05)
    run.send_signal(sig)
    out, _ = run.communicate(timeout=120)
    assert "Traceback" not in out
    stored = _rows(db)
    assert stored_before <= stored < N, "killed in the middle of generation"
    before = len(echo_log_lines(log))

    again = _pytest(big, env={"LLMOPS_ECHO_LOG": str(log)})
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 1, out  # every seventh case fails its check, as in any run
    assert "Traceback" not in out
    regenerated = len(echo_log_lines(log)) - before
    assert regenerated == N - stored  # what was stored before the kill is not generated again
    resumed = big.report()
    assert resumed["run"]["complete"] is True and len(resumed["cases"]) == N

    fresh = _pytest(big, "--llm-cache=off", "--llm-report-dir=uninterrupted")
    fresh.communicate(timeout=300)
    assert _cases(resumed) == _cases(big.report("uninterrupted"))
    leftovers = [p.name for p in (big.path / "reports").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def _gate(project: LlmProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_llmops.cli", "gate", str(project.report_path()), "--env", "dev"],
                          cwd=project.path, capture_output=True, text=True, check=False)


def test_a_killed_runs_folder_is_never_read_as_finished(big: LlmProject) -> None:
    big.write("llmops.yaml", "environments:\n  dev:\n    checks:\n      - \"*: errors == 0\"\n")
    _pytest(big).communicate(timeout=300)
    assert _gate(big).returncode == 0  # a finished run: ALLOW
    marker = big.path / "reports" / MARKER_NAME
    killed = _pytest(big, "--llm-cache=off", env={"LLMOPS_ECHO_DELAY": "1.5"})
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.kill()
    killed.communicate(timeout=60)
    stale = _gate(big)  # the report in the folder is the earlier run's
    assert stale.returncode == 1 and "a later run (started" in stale.stdout and "did not finish" in stale.stdout
    assert "Traceback" not in stale.stdout + stale.stderr
    _pytest(big).communicate(timeout=300)  # the same command again finishes, and its report is read as final
    assert not marker.exists() and _gate(big).returncode == 0


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
        assert "Traceback" not in out
    reports = [project.report(f"r{i}") for i in range(runs)]
    assert all(len(r["cases"]) == N + N // 2 and r["run"]["complete"] for r in reports)
    assert all(_cases(r) == _cases(reports[0]) for r in reports)
    assert not [p for p in project.path.rglob("*.tmp")]  # no half-written artifact anywhere
    # "other" asks the same questions as the first half of "big": N distinct requests in all.
    assert _rows(project.path / ".llmops-cache" / "responses.sqlite") == N  # no write lost
    # Each run generated what the cache did not have when it asked: nothing more often than once per run.
    assert N <= len(echo_log_lines(log)) <= runs * N
