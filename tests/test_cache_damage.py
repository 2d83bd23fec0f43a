"""A damaged, newer or unwritable cache file is never fatal: one warning naming it, and the run goes on."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmops_testutils import LlmProject, echo_log_lines, simple_suite
from pytest_llmops.core.cache import SCHEMA_VERSION, ResponseCache
from pytest_llmops.core.sqlite_file import CacheWarning
from pytest_llmops.providers.base import Generation

N = 5


def _gen(text: str) -> Generation:
    return Generation(text=text, output_tokens=1, finish_reason="stop")


def _filled(path: Path, n: int = 300) -> None:
    cache = ResponseCache(path)
    cache.put_many({f"k{i}": _gen(f"answer number {i} " * 20) for i in range(n)})
    cache.close()


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"this is not a database, just text someone saved here\n" * 100)


def _truncated(path: Path) -> None:
    _filled(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _pages_overwritten(path: Path) -> None:
    _filled(path)
    data = bytearray(path.read_bytes())
    data[4096:12288] = b"\xff" * 8192  # the b-tree pages after the header
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_not_a_database, _truncated, _pages_overwritten])
def test_a_damaged_file_is_moved_aside_and_rebuilt(tmp_path: Path, damage: Any) -> None:
    path = tmp_path / "responses.sqlite"
    damage(path)
    cache = ResponseCache(path)
    with pytest.warns(CacheWarning) as caught:
        found = cache.get_many(["k1"])
    assert found == {}
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(path) in message and "is damaged" in message and "rebuilt empty" in message
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].name in message  # kept for a bug report
    cache.put_many({"new": _gen("fresh")})
    cache.close()
    assert ResponseCache(path).get_many(["new"])["new"].text == "fresh"


def test_a_file_from_a_newer_schema_is_left_alone_and_not_used(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    _filled(path, 3)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    for mode in ("rw", "read"):
        cache = ResponseCache(path, mode)
        with pytest.warns(CacheWarning, match=f"newer pytest-llmops .schema {SCHEMA_VERSION + 1}"):
            assert cache.get_many(["k1"]) == {}
        cache.put_many({"k9": _gen("not stored")})
        cache.close()
    assert path.read_bytes() == before


def test_a_cache_folder_that_cannot_be_made_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    cache = ResponseCache(blocker / "responses.sqlite")
    with pytest.warns(CacheWarning, match="cannot be created"):
        cache.put_many({"k": _gen("x")})
    assert cache.get_many(["k"]) == {} and len(cache) == 0


class _FullDisk:
    """A connection whose writes fail as sqlite fails on a full disk."""

    in_transaction = False

    def execute(self, sql: str, *args: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    executemany = execute

    def close(self) -> None:
        pass


def test_a_failure_in_the_middle_of_a_run_stops_the_cache_not_the_run(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    cache.put_many({"a": _gen("a")})
    cache._conn = _FullDisk()  # type: ignore[assignment]
    with pytest.warns(CacheWarning, match=r"storing 1 entries failed \(database or disk is full\)") as caught:
        cache.put_many({"b": _gen("b")})
        cache.put_many({"c": _gen("c")})  # no second warning: the cache is off for the rest of the run
        assert cache.get_many(["a"]) == {}
    assert len(caught) == 1
    cache.close()
    assert set(ResponseCache(path).get_many(["a", "b", "c"])) == {"a"}  # what was stored stays


def test_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    _filled(path, 2)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE responses SET value = '{not json' WHERE key = 'k0'")
    assert set(ResponseCache(path).get_many(["k0", "k1"])) == {"k1"}


@pytest.mark.parametrize("damage", [_not_a_database, _truncated])
def test_a_run_on_a_damaged_cache_completes_and_warns_once(project: LlmProject, monkeypatch: pytest.MonkeyPatch,
                                                           damage: Any) -> None:
    log = project.path / "echo.log"
    monkeypatch.setenv("LLMOPS_ECHO_LOG", str(log))
    project.suite("cached", simple_suite(N, name="cached"))
    folder = project.path / ".llmops-cache"
    folder.mkdir()
    damage(folder / "responses.sqlite")
    first = project.run_subprocess("--llm-model=echo:a")
    first.assert_outcomes(passed=N)
    out = first.stdout.str()
    assert out.count("CacheWarning") == 1 and "responses.sqlite" in out and "rebuilt empty" in out
    assert "Traceback" not in out
    second = project.run_subprocess("--llm-model=echo:a")
    second.assert_outcomes(passed=N)
    assert "CacheWarning" not in second.stdout.str()
    assert len(echo_log_lines(log)) == N  # the rebuilt cache served the second run


def _without_write_permission(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``args`` where a read-only folder refuses writes even to root: in a user namespace
    (``unshare -U``) the file's owner permissions apply, with no capability to override them."""
    return subprocess.run(["unshare", "-U", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_read_only_cache_folder_serves_what_it_has_and_stores_nothing(project: LlmProject, tmp_path: Path) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-U", "true"]).returncode != 0:
        pytest.skip("unshare -U (a user namespace) is not available here")
    log = tmp_path / "echo.log"
    env = {**os.environ, "LLMOPS_ECHO_LOG": str(log)}
    project.suite("cached", simple_suite(N, name="cached"))
    command = [sys.executable, "-m", "pytest", "--llm-model=echo:a", "-p", "no:cacheprovider", "-q"]
    assert subprocess.run(command, cwd=project.path, env=env, capture_output=True).returncode == 0
    folder = project.path / ".llmops-cache"
    for path in [*folder.iterdir(), folder]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    project.suite("more", simple_suite(N // 2, name="more").replace("question number", "other question number"))
    try:
        run = _without_write_permission(command, project.path, env)
    finally:
        folder.chmod(0o755)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out  # the run completes
    assert out.count("CacheWarning") == 1 and "responses.sqlite" in out and "nothing new is stored" in out, out
    assert "Traceback" not in out
    # The cached answers were served; only the new suite's questions were generated, and none stored.
    assert len(echo_log_lines(log)) == N + N // 2
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
