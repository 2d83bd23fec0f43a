"""The response cache: modes end-to-end (via the echo log) and ResponseCache / cache_key units."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from llmops_testutils import LlmProject, echo_log_lines, simple_suite
from pytest_llmops.core.cache import ResponseCache, cache_key
from pytest_llmops.providers.base import Generation, GenerationParams, GenerationRequest

N = 7


@pytest.fixture
def logged(project: LlmProject, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with an N-case suite whose echo generations are logged to a file."""
    log = project.path / "echo.log"
    monkeypatch.setenv("LLMOPS_ECHO_LOG", str(log))
    project.suite("cached", simple_suite(N, name="cached"))
    return log


def _rows(project: LlmProject) -> int:
    db = project.path / ".llmops-cache" / "responses.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


def _run(project: LlmProject, *args: str) -> None:
    project.run_subprocess("--llm-model=echo:a", *args).assert_outcomes(passed=N)


def test_second_run_is_served_from_the_cache(project: LlmProject, logged: Path) -> None:
    _run(project)
    assert len(echo_log_lines(logged)) == N
    assert _rows(project) == N
    assert not any(c["cached"] for c in project.report()["cases"])

    _run(project)
    assert len(echo_log_lines(logged)) == N  # nothing generated
    report = project.report()
    assert all(c["cached"] for c in report["cases"])
    assert report["suites"]["cached"]["cached"] == N
    assert report["run"]["engine"]["a"]["generated"] == 0
    assert report["run"]["engine"]["a"]["cache_hits"] == N


def test_cache_off_generates_and_stores_nothing(project: LlmProject, logged: Path) -> None:
    _run(project)
    _run(project, "--llm-cache=off")
    assert len(echo_log_lines(logged)) == 2 * N
    assert _rows(project) == N
    assert not any(c["cached"] for c in project.report()["cases"])


def test_cache_off_on_a_fresh_project_creates_no_database(project: LlmProject, logged: Path) -> None:
    _run(project, "--llm-cache=off")
    assert len(echo_log_lines(logged)) == N
    assert not (project.path / ".llmops-cache" / "responses.sqlite").exists()


def test_cache_refresh_regenerates_and_rewrites(project: LlmProject, logged: Path) -> None:
    _run(project)
    _run(project, "--llm-cache=refresh")
    assert len(echo_log_lines(logged)) == 2 * N
    assert not any(c["cached"] for c in project.report()["cases"])
    assert _rows(project) == N
    _run(project)  # the refreshed entries serve the next run
    assert len(echo_log_lines(logged)) == 2 * N


def test_cache_read_generates_but_does_not_store(project: LlmProject, logged: Path) -> None:
    _run(project, "--llm-cache=read")
    assert len(echo_log_lines(logged)) == N
    assert _rows(project) == 0
    _run(project)  # rw: nothing was stored, so everything is generated again
    assert len(echo_log_lines(logged)) == 2 * N
    _run(project, "--llm-cache=read")  # now read mode is served from the cache
    assert len(echo_log_lines(logged)) == 2 * N
    assert all(c["cached"] for c in project.report()["cases"])


def test_changing_generation_params_misses_the_cache(project: LlmProject, logged: Path) -> None:
    _run(project)
    project.suite("cached", simple_suite(N, name="cached").replace("cases:", "generation:\n  max_new_tokens: 16\ncases:"))
    _run(project)
    assert len(echo_log_lines(logged)) == 2 * N
    _run(project)
    assert len(echo_log_lines(logged)) == 2 * N
    assert _rows(project) == 2 * N


def test_changing_the_seed_or_model_misses_the_cache(project: LlmProject, logged: Path) -> None:
    _run(project)
    _run(project, "--llm-seed=1")
    assert len(echo_log_lines(logged)) == 2 * N
    project.run_subprocess("--llm-model=echo:other").assert_outcomes(passed=N)
    assert len(echo_log_lines(logged)) == 3 * N


def test_duplicate_inputs_are_generated_once(project: LlmProject, logged: Path) -> None:
    project.suite("dups", """
        cases:
          - id: d1
            input: same question
            checks: [contains: same]
          - id: d2
            input: same question
            checks: [contains: question]
    """)
    project.run_subprocess("--llm-model=echo:a", "dups.eval.yaml").assert_outcomes(passed=2)
    assert echo_log_lines(logged) == ["same question"]


def test_cache_dir_ini_key(project: LlmProject, logged: Path) -> None:
    project.write("pytest.ini", """
        [pytest]
        llm_cache_dir = somewhere/else
    """)
    _run(project)
    assert (project.path / "somewhere" / "else" / "responses.sqlite").is_file()
    assert not (project.path / ".llmops-cache").exists()


# -- ResponseCache -------------------------------------------------------------------------------
def _gen(text: str) -> Generation:
    return Generation(text=text, output_tokens=len(text.split()), finish_reason="stop", seconds=0.25, batch_size=3)


def test_put_many_then_get_many_round_trip(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c" / "r.sqlite")
    assert cache.get_many(["missing"]) == {}
    cache.put_many({"k1": _gen("one"), "k2": _gen("two")})
    found = cache.get_many(["k2", "k1", "k3", "k1"])
    assert set(found) == {"k1", "k2"}
    assert found["k1"].text == "one"
    # Written by this same cache (this run, e.g. by another xdist worker): not "cached".
    assert found["k1"].cached is False
    assert (found["k2"].output_tokens, found["k2"].finish_reason, found["k2"].batch_size) == (1, "stop", 3)
    assert len(cache) == 2
    cache.close()
    reopened = ResponseCache(tmp_path / "c" / "r.sqlite")
    again = reopened.get_many(["k1"])["k1"]
    assert again.text == "one" and again.cached is True  # served from an earlier run
    reopened.close()


def test_put_many_replaces_existing_entries(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "r.sqlite")
    cache.put_many({"k": _gen("old")})
    cache.put_many({"k": _gen("new")})
    assert cache.get_many(["k"])["k"].text == "new"
    assert len(cache) == 1


def test_get_many_with_more_keys_than_one_query_holds(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "r.sqlite")
    stored = {f"key-{i}": _gen(f"text {i}") for i in range(1234)}
    cache.put_many(stored)
    wanted = [f"key-{i}" for i in range(1300)]  # 66 misses, three SQL chunks
    found = cache.get_many(iter(wanted))
    assert len(found) == 1234
    assert found["key-1233"].text == "text 1233"
    assert "key-1299" not in found
    assert cache.get_many([]) == {}


@pytest.mark.parametrize("mode, reads, writes", [("rw", True, True), ("read", True, False),
                                                 ("off", False, False), ("refresh", False, True)])
def test_modes(tmp_path: Path, mode: str, reads: bool, writes: bool) -> None:
    path = tmp_path / "r.sqlite"
    seed = ResponseCache(path)
    seed.put_many({"old": _gen("old")})
    seed.close()
    cache = ResponseCache(path, mode)
    assert (cache.reads, cache.writes) == (reads, writes)
    assert bool(cache.get_many(["old"])) is reads
    cache.put_many({"new": _gen("new")})
    cache.close()
    check = ResponseCache(path)
    assert ("new" in check.get_many(["new"])) is writes
    check.close()


def test_off_mode_never_touches_the_disk(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "sub" / "r.sqlite", "off")
    cache.get_many(["a"])
    cache.put_many({"a": _gen("a")})
    assert not (tmp_path / "sub").exists()
    assert len(cache) == 0


def test_bad_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache mode must be one of"):
        ResponseCache(tmp_path / "r.sqlite", "sometimes")


def _open_and_write(path: str, barrier: "multiprocessing.synchronize.Barrier", index: int) -> None:  # type: ignore[name-defined]
    barrier.wait()
    cache = ResponseCache(Path(path))
    cache.get_many(["x"])
    cache.put_many({f"k{index}": _gen(str(index))})
    cache.close()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_two_processes_opening_a_new_cache_at_once(tmp_path: Path) -> None:
    """xdist workers open the same fresh database at the same moment; neither may fail."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(8):
        path = tmp_path / str(attempt) / "r.sqlite"
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_open_and_write, args=(str(path), barrier, i)) for i in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [proc.exitcode for proc in procs] == [0, 0], f"attempt {attempt}"
        assert len(ResponseCache(path)) == 2


# -- cache_key -------------------------------------------------------------------------------------
def _request(text: str = "hi", sample_index: int = 0, **params: object) -> GenerationRequest:
    return GenerationRequest.prompt(text, params=GenerationParams.from_mapping(dict(params)),
                                    sample_index=sample_index)


def test_cache_key_is_stable_for_equal_requests() -> None:
    assert cache_key("fp", _request()) == cache_key("fp", _request())
    assert len(cache_key("fp", _request())) == 64


@pytest.mark.parametrize("other", [
    ("fp2", _request()),
    ("fp", _request(max_new_tokens=65)),
    ("fp", _request(temperature=0.5)),
    ("fp", _request(seed=1)),
    ("fp", _request(stop=["\n"])),
    ("fp", _request(sample_index=1)),
    ("fp", _request("hi!")),
    ("fp", GenerationRequest.prompt("hi", system="be nice")),
    ("fp", GenerationRequest.chat([{"role": "assistant", "content": "hi"}])),
], ids=["fingerprint", "max_new_tokens", "temperature", "seed", "stop", "sample", "text", "system", "role"])
def test_cache_key_changes_with_what_is_asked(other: tuple[str, GenerationRequest]) -> None:
    assert cache_key("fp", _request()) != cache_key(*other)
