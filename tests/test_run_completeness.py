"""A run that did not finish writes a report marked incomplete, no gate ALLOWs it, and every
artifact is written whole or not at all."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from llmops_testutils import LlmProject, simple_suite
from pytest_llmops.core.atomic import write_atomic

GATES = """
environments:
  dev:
    checks:
      - "*: errors == 0"
"""


@pytest.fixture
def gated(project: LlmProject) -> LlmProject:
    project.write("llmops.yaml", GATES)
    project.suite("big", simple_suite(12, failing_every=5))
    return project


def _gate(project: LlmProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_llmops.cli", "gate", str(project.report_path()),
                           "--env", "dev"], cwd=project.path, capture_output=True, text=True, check=False)


def test_a_finished_run_is_complete_and_the_gate_allows_it(gated: LlmProject) -> None:
    gated.run("--llm-model=echo:a")
    run = gated.report()["run"]
    assert run["complete"] is True and run["incomplete"] == []
    assert _gate(gated).returncode == 0


def test_a_run_stopped_by_x_is_incomplete_and_never_allowed(gated: LlmProject) -> None:
    result = gated.run("--llm-model=echo:a", "-x", "--llm-gate-env=dev")
    result.assert_outcomes(failed=1)  # c00 fails, and -x stops the run there
    run = gated.report()["run"]
    assert run["complete"] is False and any("stopped early" in r for r in run["incomplete"])
    result.stdout.fnmatch_lines(["*FAIL* report complete *stopped early: stopping after 1 failures",
                                 "PROMOTION: BLOCK (dev)",
                                 "*report is marked INCOMPLETE (no gate allows it): stopped early*"])
    # Every check of the dev gate passes on the cases that ran: only the completeness row blocks.
    rows = gated.report()["gate"]["checks"]
    assert [r["check"] for r in rows if r["blocking"]] == ["report complete"]
    offline = _gate(gated)
    assert offline.returncode == 1 and "stopped early" in offline.stdout and "BLOCK" in offline.stdout


def test_ctrl_c_writes_an_incomplete_report(project: LlmProject) -> None:
    project.suite("big", simple_suite(4))
    project.write("test_zz_interrupt.py", """
        def test_interrupt():
            raise KeyboardInterrupt
    """)
    result = project.run_subprocess("--llm-model=echo:a")  # pytester re-raises an in-process interrupt
    assert result.ret == pytest.ExitCode.INTERRUPTED
    run = project.report()["run"]
    assert run["complete"] is False and run["incomplete"] == ["interrupted by Ctrl-C (KeyboardInterrupt)"]
    assert len(project.report()["cases"]) == 4  # nothing computed is lost


def test_sigterm_interrupts_the_run_and_leaves_no_half_written_file(project: LlmProject) -> None:
    project.suite("big", simple_suite(4))
    project.write("test_zz_terminate.py", """
        import os, signal
        def test_terminated():
            os.kill(os.getpid(), signal.SIGTERM)
        def test_never_runs():
            pass
    """)
    result = project.run_subprocess("--llm-model=echo:a")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    run = project.report()["run"]
    assert run["complete"] is False and run["incomplete"] == ["interrupted by SIGTERM"]
    assert sorted(p.name for p in (project.path / "reports").iterdir()) == [
        "llmops-report.html", "llmops-report.json", "llmops-report.md"]


def test_a_full_disk_is_a_clear_error_and_the_previous_report_stays(project: LlmProject,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    project.write("llmops.yaml", GATES)
    project.suite("big", simple_suite(3))
    project.run("--llm-model=echo:a")
    before = project.report_path().read_bytes()
    assert _gate(project).returncode == 0

    def full(path: Path, content: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    import pytest_llmops.report.json_report as json_report

    monkeypatch.setattr(json_report, "write_atomic", full)
    result = project.run("--llm-model=echo:a", "--llm-cache=off")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*llmops: could not write the report into *reports: No space left on device "
                                 "(*llmops-report.json); any previous report there is left as it was, "
                                 "marked as an earlier run's (no gate allows it)*"])
    assert project.report_path().read_bytes() == before
    stale = _gate(project)  # intact, but not this run's: never ALLOWed as if it were
    assert stale.returncode == 1 and "a later run (started" in stale.stdout


def _chunks_then_full_disk() -> Iterator[bytes]:
    yield b'{"half": '
    raise OSError(errno.ENOSPC, "No space left on device")


def test_write_atomic_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    write_atomic(target, '{"old": true}')
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, _chunks_then_full_disk())
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]
    write_atomic(target, [b'{"new": ', b"1}"])
    assert json.loads(target.read_text()) == {"new": 1}
    assert target.stat().st_mode & 0o044  # readable like any file a plain open() writes (umask permitting)


def test_a_renderer_crash_keeps_the_json_and_removes_the_previous_runs_pages(project: LlmProject,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    project.suite("big", simple_suite(3))
    project.run("--llm-model=echo:a")
    reports = project.path / "reports"
    assert (reports / "llmops-report.html").is_file()

    def broken(report: object) -> str:
        raise RuntimeError("renderer bug")

    import pytest_llmops.publish as publish

    monkeypatch.setattr(publish, "render_markdown", broken)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*rendering the HTML/Markdown report failed: RuntimeError: renderer bug "
                                 "(the previous run's llmops-report.html, llmops-report.md removed)*"])
    assert sorted(p.name for p in reports.iterdir()) == ["llmops-report.json"]
    assert project.report()["run"]["complete"] is True and len(project.report()["cases"]) == 3


FULL_DISK_SCRIPT = """
set -e
mount -t tmpfs -o size=256k tmpfs reports
cp saved/* reports/
dd if=/dev/zero of=reports/filler bs=4k 2>/dev/null || true   # until the disk is full
set +e
"$PYTHON" -m pytest --llm-model=echo:a --llm-cache=off -p no:cacheprovider -q > pytest.out 2>&1
echo "pytest exit $?" >> pytest.out
sha256sum reports/llmops-report.json | cut -d' ' -f1 > after.sha
ls -a reports > after.ls
"$PYTHON" -m pytest_llmops.cli gate reports/llmops-report.json --env dev > gate.out 2>&1
echo "gate exit $?" >> gate.out
"""


def test_a_really_full_disk_keeps_the_previous_report_whole_and_never_allowed(project: LlmProject) -> None:
    """The report folder on a full tmpfs (a mount namespace: ``unshare -Urm``), not a mocked write."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-Urm", "true"]).returncode != 0:
        pytest.skip("unshare -Urm (user and mount namespaces) is not available here")
    project.write("llmops.yaml", GATES)
    project.suite("big", simple_suite(40, failing_every=0).replace("question number", "a longer question number"))
    project.run("--llm-model=echo:a")
    saved = project.path / "saved"
    shutil.copytree(project.path / "reports", saved)
    before = hashlib.sha256((saved / "llmops-report.json").read_bytes()).hexdigest()
    project.write("full.sh", FULL_DISK_SCRIPT)
    done = subprocess.run(["unshare", "-Urm", "sh", "full.sh"], cwd=project.path, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=300)
    assert done.returncode == 0, done.stderr
    out = (project.path / "pytest.out").read_text()
    assert "pytest exit 3" in out and "No space left on device" in out and "Traceback" not in out, out
    assert (project.path / "after.sha").read_text().strip() == before  # the previous report, whole
    assert not [name for name in (project.path / "after.ls").read_text().split() if name.endswith(".tmp")]
    gate = (project.path / "gate.out").read_text()
    assert "gate exit 1" in gate and "a later run (started" in gate, gate


def test_the_in_progress_marker_names_the_report_it_supersedes(tmp_path: Path) -> None:
    """Matched by content, not time: two runs can start in the same second."""
    from pytest_llmops.report.run_marker import MARKER_NAME, clear_run_marker, mark_run_started, unfinished_run

    report = tmp_path / "llmops-report.json"
    assert mark_run_started(tmp_path, "2026-01-01T00:00:00+00:00", report.name) is None  # no report, no marker
    report.write_bytes(b"earlier")
    token = mark_run_started(tmp_path, "2026-01-01T00:00:00+00:00", report.name)
    assert token and "did not finish" in (unfinished_run(report, {}, b"earlier") or "")
    assert unfinished_run(report, {}, b"written since") is None  # the marked run (or a later one) wrote it
    later = mark_run_started(tmp_path, "2026-01-01T00:00:00+00:00", report.name)  # a second run, same second
    clear_run_marker(tmp_path, token, report.name)
    assert (tmp_path / MARKER_NAME).exists()  # the later run's marker stays
    clear_run_marker(tmp_path, later, report.name)
    assert not (tmp_path / MARKER_NAME).exists()
    (tmp_path / MARKER_NAME).write_bytes(b"")  # left empty by a full disk
    assert unfinished_run(report, {}, b"anything") is not None
