"""Progress of model loads and prefetches in pytest's terminal.

Before a model's first case, the engine loads the model and generates every uncached answer
of the run in bulk; on a small CPU that is minutes of work. :class:`ProgressDisplay` hears
about it through the engine's :class:`~pytest_llmops.core.progress.ProgressListener` events
and shows, per model, done / total generations, the rate and the time left:

* on a terminal, one line redrawn in place after each chunk
  (``llmops smollm2: 128/407 generations, 2.3/s, ETA 1m 21s``);
* elsewhere (CI logs, pipes), plain lines, at most one every ``interval`` seconds, so a log
  does not fill up with one line per chunk, plus a final line with the totals;
* nothing under ``-q -q``, on xdist workers (they have no terminal) or without pytest's
  terminal reporter.

Rate and ETA count generated answers only: cache hits are instant and would make both lie.

The prefetch runs inside a case's setup, while pytest captures output, so every write goes
through pytest's own terminal reporter with capturing suspended for the moment of the write,
the way pytest's live logging does. Progress-bar libraries (rich, tqdm) write to
``sys.stdout``/``sys.stderr`` from a refresh thread of their own, which pytest would capture
into the case's output instead of showing it.
"""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from pytest_llmops.core.progress import ProgressListener

#: seconds between two plain progress lines when the output is not a terminal
PLAIN_INTERVAL = 10.0
#: seconds between two redraws on a terminal (fast providers finish a chunk in microseconds)
REDRAW_INTERVAL = 0.2


def format_duration(seconds: float) -> str:
    """``4.2s`` under ten seconds, then ``42s``, ``1m 21s``, ``2h 03m``."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f}s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_rate(per_second: float) -> str:
    """``2.3/s``; below 0.1 a second, per minute (``4.0/min``) so slow models do not read ``0.0/s``."""
    if per_second >= 0.1:
        return f"{per_second:.1f}/s"
    return f"{per_second * 60:.1f}/min"


@dataclass
class Tally:
    """One model's prefetch: what it must generate and how far it got."""

    total: int  #: answers to generate (cache misses)
    cached: int  #: answers the cache already had
    started: float  #: when generation started (after the model load, if any)
    done: int = 0

    def running_text(self, alias: str, now: float) -> str:
        """``llmops smollm2: 128/407 generations (93 from cache), 2.3/s, ETA 1m 21s``."""
        text = f"llmops {alias}: {self.done}/{self.total} generations{self.cached_text()}"
        elapsed = now - self.started
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            text += f", {format_rate(rate)}, ETA {format_duration((self.total - self.done) / rate)}"
        return text

    def final_text(self, alias: str, now: float) -> str:
        """``llmops smollm2: 407/407 generations in 2m 58s, 2.3/s (93 from cache)``, or where it stopped."""
        elapsed = now - self.started
        rate = f", {format_rate(self.done / elapsed)}" if self.done and elapsed > 0 else ""
        stopped = "" if self.done >= self.total else "stopped at "
        return (f"llmops {alias}: {stopped}{self.done}/{self.total} generations in {format_duration(elapsed)}"
                f"{rate}{self.cached_text()}")

    def cached_text(self) -> str:
        """`` (93 from cache)``, or nothing when the cache had none."""
        return f" ({self.cached} from cache)" if self.cached else ""


class Output(Protocol):
    """Where the display writes: whole lines, or one line redrawn in place."""

    def line(self, text: str) -> None:
        """``text`` on a line of its own."""

    def redraw(self, text: str) -> None:
        """Replace the line being redrawn (start one if none is) with ``text``."""

    def finish(self, text: str) -> None:
        """Replace the line being redrawn with ``text`` and end it."""

    def release(self) -> None:
        """The display is done for now: give the terminal back to pytest."""


class ProgressDisplay:
    """The engine's progress listener for pytest's terminal (see the module docstring)."""

    def __init__(self, out: Output, tty: bool, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.tty = tty
        #: least seconds between two progress writes (the start and final lines are always written)
        self.interval = interval if interval is not None else REDRAW_INTERVAL if tty else PLAIN_INTERVAL
        self.clock = clock
        self._tallies: dict[str, Tally] = {}
        self._last_write = 0.0

    def on_load_start(self, alias: str) -> None:
        """Say the model is loading (this can take a while: weights, a GGUF conversion)."""
        self._show(f"llmops {alias}: loading model...")

    def on_load_end(self, alias: str, seconds: float) -> None:
        """Say how long the load took; generation time (for rate and ETA) starts now."""
        self._end(f"llmops {alias}: model loaded in {format_duration(seconds)}")
        tally = self._tallies.get(alias)
        if tally is None:  # a load outside a prefetch (a test's own llm.generate)
            self.out.release()
        elif tally.done == 0:
            tally.started = self._last_write = self.clock()
            if self.tty:  # back to the prefetch's line while the first chunk generates
                self.out.redraw(tally.running_text(alias, tally.started))

    def on_prefetch_start(self, alias: str, total: int, cached: int) -> None:
        """Start a model's tally; a prefetch served wholly from the cache shows nothing."""
        if total <= cached:
            self._tallies.pop(alias, None)
            return
        now = self.clock()
        tally = self._tallies[alias] = Tally(total=total - cached, cached=cached, started=now)
        self._last_write = now
        if self.tty:
            self.out.redraw(tally.running_text(alias, now))
        else:
            self.out.line(f"llmops {alias}: {tally.total} generations to make{tally.cached_text()}")

    def on_generated(self, alias: str, n: int) -> None:
        """Count a chunk; redraw or print a line when enough time has passed since the last."""
        tally = self._tallies.get(alias)
        if tally is None:
            return
        tally.done += n
        now = self.clock()
        if now - self._last_write < self.interval or tally.done >= tally.total:
            return  # the final line (on_prefetch_end) covers the last chunk
        self._last_write = now
        self._show(tally.running_text(alias, now))

    def on_prefetch_end(self, alias: str) -> None:
        """The final line with the totals."""
        tally = self._tallies.pop(alias, None)
        if tally is None:
            return
        self._end(tally.final_text(alias, self.clock()))
        self.out.release()

    def _show(self, text: str) -> None:
        """Progress so far: redrawn in place on a terminal, a line of its own elsewhere."""
        if self.tty:
            self.out.redraw(text)
        else:
            self.out.line(text)

    def _end(self, text: str) -> None:
        """A result that stays on screen (a finished load or prefetch)."""
        if self.tty:
            self.out.finish(text)
        else:
            self.out.line(text)


class TerminalOutput:
    """:class:`Output` through pytest's terminal reporter, with capturing suspended while writing."""

    def __init__(self, reporter: Any, capture_manager: Any = None) -> None:
        self.reporter = reporter
        self.capture_manager = capture_manager
        self._drawing = False
        # pytest's line that the display broke into: a test file's path (``path/to/suite.yaml ``)
        # or, under -v, a test's location; written again on release() for the results to follow
        self._paused: Path | str | None = None

    def _uncaptured(self) -> AbstractContextManager[Any]:
        # The prefetch runs in a case's setup: without this, the text would land in the case's captured output.
        if self.capture_manager is None:
            return nullcontext()
        return self.capture_manager.global_and_fixture_disabled()  # type: ignore[no-any-return]

    def line(self, text: str) -> None:
        """A whole line (the reporter starts a new line first when pytest was in the middle of one)."""
        with self._uncaptured():
            self._break_in()
            self.reporter.write_line(text)
            self.reporter.flush()

    def redraw(self, text: str) -> None:
        """``\\r`` and the text, padded to the terminal's width to erase a longer previous text."""
        with self._uncaptured():
            if not self._drawing:
                self._break_in()
                self._drawing = True
            self.reporter.rewrite(text, erase=True)
            self.reporter.flush()

    def finish(self, text: str) -> None:
        """The last redraw, then a newline; pytest's next result starts its own line again."""
        self.redraw(text)
        with self._uncaptured():
            self.reporter.write("\n", flush=True)
        self._drawing = False

    def release(self) -> None:
        """Write pytest's interrupted prefix again, so the case results that follow are not left
        on a line of their own (or, under -v, without their test's name)."""
        paused, self._paused = self._paused, None
        if isinstance(paused, Path):
            prefix = os.path.relpath(paused, self.reporter.startpath) + " "
        elif isinstance(paused, str):
            prefix = paused
        else:
            return
        with self._uncaptured():
            self.reporter.write(prefix, flush=True)
            self.reporter.currentfspath = paused

    def _break_in(self) -> None:
        """Start on a fresh line, remembering the line of pytest's that was left."""
        if self._paused is None and isinstance(self.reporter.currentfspath, (Path, str)):
            self._paused = self.reporter.currentfspath
        self.reporter.ensure_newline()


def progress_for(config: Any) -> ProgressListener | None:
    """The display for this run, or ``None`` where it must stay silent (see the module docstring)."""
    if hasattr(config, "workerinput") or config.get_verbosity() <= -2:
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return None
    out = TerminalOutput(reporter, config.pluginmanager.get_plugin("capturemanager"))
    return ProgressDisplay(out, tty=bool(reporter.isatty))
