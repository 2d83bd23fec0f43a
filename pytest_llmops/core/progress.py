"""What the engine says while it loads a model and prefetches its answers.

The engine reports to a :class:`ProgressListener`; the session gives it one that draws
progress in pytest's terminal (``pytest_llmops/progress_display.py``). The engine itself
knows nothing about terminals, and without a listener it talks to :data:`NO_PROGRESS`.

Listeners hear about bulk work only (a model load, a prefetch and its chunks), never about
single cases, so the per-case path pays nothing for them.
"""

from __future__ import annotations

from typing import Protocol


class ProgressListener(Protocol):
    """Receives the engine's progress events, in this order per model:
    ``on_prefetch_start``, then (when the model must generate) ``on_load_start`` and
    ``on_load_end`` once, ``on_generated`` after each chunk, and ``on_prefetch_end``.
    A load can also happen outside a prefetch (a test's own ``llm.generate``)."""

    def on_load_start(self, alias: str) -> None:
        """The weights of ``alias`` start loading."""

    def on_load_end(self, alias: str, seconds: float) -> None:
        """``alias`` finished loading after ``seconds``."""

    def on_prefetch_start(self, alias: str, total: int, cached: int) -> None:
        """A prefetch of ``total`` distinct requests starts; ``cached`` of them came from the cache."""

    def on_generated(self, alias: str, n: int) -> None:
        """``n`` more requests of the prefetch were generated (or failed as infra errors)."""

    def on_prefetch_end(self, alias: str) -> None:
        """The prefetch of ``alias`` is over (finished, or stopped by an exception)."""


class NoProgress:
    """The listener that ignores everything (the engine's default)."""

    def on_load_start(self, alias: str) -> None:
        """Ignored."""

    def on_load_end(self, alias: str, seconds: float) -> None:
        """Ignored."""

    def on_prefetch_start(self, alias: str, total: int, cached: int) -> None:
        """Ignored."""

    def on_generated(self, alias: str, n: int) -> None:
        """Ignored."""

    def on_prefetch_end(self, alias: str) -> None:
        """Ignored."""


NO_PROGRESS: ProgressListener = NoProgress()
