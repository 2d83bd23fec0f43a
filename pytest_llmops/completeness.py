"""Whether a run finished: what the report says in ``run.complete`` and ``run.incomplete``.

A report is only as good as the cases in it. A run that was interrupted (Ctrl-C, SIGTERM), lost
an xdist worker, hit a collection error or stopped early (``-x``, ``--maxfail``) still writes
its report, so nothing computed is lost, but marks it incomplete with the reasons, and no
gate ALLOWs it (``gates/evaluate.py``).

SIGTERM (what CI runners and ``timeout`` send) would otherwise end the process without
pytest's end of session, leaving the previous run's report in place as if it were this one's:
while a run is on, it is turned into the same ``KeyboardInterrupt`` as Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest


class RunCompleteness:
    """A pytest plugin object that notes every reason the run did not finish."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self._previous_sigterm: Any = None

    def note(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        origin = "SIGTERM" if "SIGTERM" in str(excinfo.value) else "Ctrl-C (KeyboardInterrupt)"
        self.note(f"interrupted by {origin}")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.note(f"collection error in {report.nodeid or 'the session'}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error:
            worker = getattr(node, "gateway", None)
            self.note(f"xdist worker {getattr(worker, 'id', '?')} went down: {str(error).strip()[:200]}")

    def finish(self, session: pytest.Session) -> list[str]:
        """Every reason, the early stops pytest knows of included; empty for a finished run."""
        if session.shouldfail:
            self.note(f"stopped early: {session.shouldfail}")
        elif session.shouldstop:
            self.note(f"stopped early: {session.shouldstop}")
        if session.exitstatus == pytest.ExitCode.INTERRUPTED and not self.reasons:
            self.note("interrupted")
        return list(self.reasons)

    # -- SIGTERM ---------------------------------------------------------------------------
    def catch_sigterm(self) -> None:
        """While the run is on, SIGTERM interrupts it like Ctrl-C (main thread, default handler only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # somebody else (a runner, another plugin) handles it: leave theirs alone
        self._previous_sigterm = signal.SIG_DFL
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)

    def release_sigterm(self) -> None:
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def _interrupt_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")
