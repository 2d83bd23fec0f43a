"""The progress display of model loads and prefetches: formatting, throttling (with an
injected clock), the engine's events, and what an inner pytest run prints."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmops_testutils import LlmProject, simple_suite
from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.engine import Engine
from pytest_llmops.core.specs import parse_spec
from pytest_llmops.progress_display import ProgressDisplay, Tally, format_duration, format_rate, progress_for
from pytest_llmops.providers.base import GenerationRequest
from pytest_llmops.testing import EchoProvider


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingOutput:
    """Keeps what the display wrote, as ("line" | "redraw" | "finish" | "release", text)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def line(self, text: str) -> None:
        self.calls.append(("line", text))

    def redraw(self, text: str) -> None:
        self.calls.append(("redraw", text))

    def finish(self, text: str) -> None:
        self.calls.append(("finish", text))

    def release(self) -> None:
        self.calls.append(("release", ""))

    def texts(self, kind: str) -> list[str]:
        return [text for k, text in self.calls if k == kind]


class RecordingListener:
    """Keeps the engine's progress events."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_load_start(self, alias: str) -> None:
        self.events.append(("load_start", alias))

    def on_load_end(self, alias: str, seconds: float) -> None:
        self.events.append(("load_end", alias))

    def on_prefetch_start(self, alias: str, total: int, cached: int) -> None:
        self.events.append(("start", alias, total, cached))

    def on_generated(self, alias: str, n: int) -> None:
        self.events.append(("generated", alias, n))

    def on_prefetch_end(self, alias: str) -> None:
        self.events.append(("end", alias))


class LoadingEcho(EchoProvider):
    """The echo provider with a load() step, like a local model's weights."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.loads = 0

    def load(self) -> None:
        self.loads += 1


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0.0s"), (4.24, "4.2s"), (9.96, "10s"), (42.4, "42s"), (81, "1m 21s"), (3599.6, "1h 00m"),
    (7380, "2h 03m"), (-1, "0.0s"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("rate", "text"), [(2.3, "2.3/s"), (127.84, "127.8/s"), (0.1, "0.1/s"), (0.05, "3.0/min")])
def test_format_rate(rate: float, text: str) -> None:
    assert format_rate(rate) == text


def test_running_and_final_texts_count_generated_answers_only() -> None:
    tally = Tally(total=407, cached=93, started=0.0, done=128)
    # 128 in 55.6 s is 2.30/s; the 279 left take 121 s. The 93 cache hits change neither.
    assert tally.running_text("smollm2", 55.6) == \
        "llmops smollm2: 128/407 generations (93 from cache), 2.3/s, ETA 2m 01s"
    tally.done = 407
    assert tally.final_text("smollm2", 178.0) == "llmops smollm2: 407/407 generations in 2m 58s, 2.3/s (93 from cache)"
    assert Tally(total=10, cached=0, started=0.0).running_text("m", 5.0) == "llmops m: 0/10 generations"
    assert Tally(total=10, cached=0, started=0.0, done=4).final_text("m", 2.0) == \
        "llmops m: stopped at 4/10 generations in 2.0s, 2.0/s"


def test_plain_lines_are_throttled_to_the_interval() -> None:
    clock, out = FakeClock(), RecordingOutput()
    display = ProgressDisplay(out, tty=False, interval=10.0, clock=clock)
    display.on_prefetch_start("m", total=100, cached=0)
    for _ in range(9):  # a chunk of 10 every 3 s: 27 s in all
        clock.now += 3.0
        display.on_generated("m", 10)
    clock.now += 3.0
    display.on_generated("m", 10)
    display.on_prefetch_end("m")
    lines = out.texts("line")
    assert lines[0] == "llmops m: 100 generations to make"
    # Lines at 12 s (40 done) and 24 s (80 done): never two within 10 s, none for the last chunk.
    assert lines[1:-1] == ["llmops m: 40/100 generations, 3.3/s, ETA 18s",
                           "llmops m: 80/100 generations, 3.3/s, ETA 6.0s"]
    assert lines[-1] == "llmops m: 100/100 generations in 30s, 3.3/s"
    assert out.calls[-1] == ("release", "")
    assert not out.texts("redraw")


def test_terminal_redraws_one_line_and_ends_it() -> None:
    clock, out = FakeClock(), RecordingOutput()
    display = ProgressDisplay(out, tty=True, clock=clock)
    display.on_prefetch_start("m", total=30, cached=10)
    display.on_load_start("m")
    clock.now += 5.0
    display.on_load_end("m", 5.0)
    clock.now += 2.0
    display.on_generated("m", 8)
    clock.now += 0.1  # within the redraw interval: no redraw
    display.on_generated("m", 8)
    clock.now += 2.0
    display.on_prefetch_end("m")
    assert out.calls == [
        ("redraw", "llmops m: 0/20 generations (10 from cache)"),
        ("redraw", "llmops m: loading model..."),
        ("finish", "llmops m: model loaded in 5.0s"),
        ("redraw", "llmops m: 0/20 generations (10 from cache)"),  # rate and ETA leave out the load
        ("redraw", "llmops m: 8/20 generations (10 from cache), 4.0/s, ETA 3.0s"),
        ("finish", "llmops m: stopped at 16/20 generations in 4.1s, 3.9/s (10 from cache)"),
        ("release", ""),
    ]


def test_a_prefetch_served_from_the_cache_shows_nothing() -> None:
    out = RecordingOutput()
    display = ProgressDisplay(out, tty=False, clock=FakeClock())
    display.on_prefetch_start("m", total=50, cached=50)
    display.on_generated("m", 0)
    display.on_prefetch_end("m")
    assert out.calls == []


def test_models_keep_their_own_tallies() -> None:
    clock, out = FakeClock(), RecordingOutput()
    display = ProgressDisplay(out, tty=False, interval=0.0, clock=clock)
    display.on_prefetch_start("a", total=4, cached=0)
    clock.now += 1.0
    display.on_generated("a", 2)
    display.on_prefetch_end("a")
    display.on_prefetch_start("b", total=6, cached=3)
    clock.now += 1.0
    display.on_prefetch_end("b")
    assert out.texts("line") == ["llmops a: 4 generations to make", "llmops a: 2/4 generations, 2.0/s, ETA 1.0s",
                                 "llmops a: stopped at 2/4 generations in 1.0s, 2.0/s",
                                 "llmops b: 3 generations to make (3 from cache)",
                                 "llmops b: stopped at 0/3 generations in 1.0s (3 from cache)"]


def test_engine_reports_prefetch_chunks_and_one_load(tmp_path: Path) -> None:
    listener = RecordingListener()
    providers: list[LoadingEcho] = []

    def factory(spec: Any) -> LoadingEcho:
        providers.append(LoadingEcho(spec))
        return providers[-1]

    engine = Engine([parse_spec("echo:m")], ResponseCache(tmp_path / "c.sqlite"), factory, chunk_size=4,
                    progress=listener)
    requests = [GenerationRequest.prompt(f"p{i}") for i in range(10)]
    engine.generate("m", requests[0])  # one answer cached (and the model loaded) before the prefetch
    engine.prefetch("m", requests + requests[:3])  # duplicates are one request each
    assert listener.events == [("load_start", "m"), ("load_end", "m"), ("start", "m", 10, 1),
                               ("generated", "m", 4), ("generated", "m", 4), ("generated", "m", 1), ("end", "m")]
    assert providers[0].loads == 1
    listener.events.clear()
    for request in requests:  # the per-case path tells the listener nothing
        engine.generate("m", request)
    assert listener.events == []
    engine.close()


def test_engine_ends_the_display_when_generation_raises(tmp_path: Path) -> None:
    class Broken(EchoProvider):
        def generate_batch(self, requests: Any) -> Any:
            raise KeyboardInterrupt

    listener = RecordingListener()
    engine = Engine([parse_spec("echo:m")], ResponseCache(tmp_path / "c.sqlite"), Broken, progress=listener)
    with pytest.raises(KeyboardInterrupt):
        engine.prefetch("m", [GenerationRequest.prompt("x")])
    assert listener.events[-1] == ("end", "m")
    engine.close()


def test_no_display_on_xdist_workers_or_under_double_quiet() -> None:
    plugins = SimpleNamespace(get_plugin=lambda name: SimpleNamespace(isatty=False))
    worker = SimpleNamespace(workerinput={}, get_verbosity=lambda: 0, pluginmanager=plugins)
    quiet = SimpleNamespace(get_verbosity=lambda: -2, pluginmanager=plugins)
    plain = SimpleNamespace(get_verbosity=lambda: -1, pluginmanager=plugins)
    assert progress_for(worker) is None
    assert progress_for(quiet) is None
    assert isinstance(progress_for(plain), ProgressDisplay)


def test_an_inner_run_prints_progress_lines_and_a_final_line(pytester: pytest.Pytester) -> None:
    project = LlmProject(pytester)
    project.suite("big", simple_suite(70))
    result = project.run("--llm-model=echo:m")
    assert result.ret == pytest.ExitCode.OK
    lines = result.stdout.lines
    assert "llmops m: 70 generations to make" in lines
    final = [line for line in lines if line.startswith("llmops m: 70/70 generations in ")]
    assert len(final) == 1
    # pytest's file prefix comes back after the display, so the results do not start a bare line.
    after = lines[lines.index(final[0]) + 1]
    assert after.startswith("big.eval.yaml ."), after
    # Cached on the second run: nothing to show.
    again = project.run("--llm-model=echo:m")
    assert not [line for line in again.stdout.lines if line.startswith("llmops m:")]


def test_an_inner_run_under_double_quiet_prints_no_progress(pytester: pytest.Pytester) -> None:
    project = LlmProject(pytester)
    project.suite("big", simple_suite(70))
    result = project.run("--llm-model=echo:m", "-qq")
    assert result.ret == pytest.ExitCode.OK
    assert not [line for line in result.stdout.lines if "generations" in line]
    # the same run at -q does show it (so the -qq check above is not vacuous)
    shown = project.run("--llm-model=echo:m", "-q", "--llm-cache=refresh")
    assert "llmops m: 70 generations to make" in shown.stdout.lines
