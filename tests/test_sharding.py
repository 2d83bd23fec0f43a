"""``--llm-shard K/N`` and ``llmops merge``: every case in exactly one shard, and the merged report
equal to a single run's in cases, outcomes and metrics (echo provider; the real model in CI's own
shard test is a separate, slower check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmops_testutils import LlmProject, simple_suite, without_keys

from pytest_llmops.cli import main as llmops
from pytest_llmops.sharding import SLACK, ShardError, Unit, assign, parse_shard

CONFTEST = "from pytest_llmops.testing import register_test_providers as llmops_register_providers\n"
REGRESSION = """
kind: regression
dataset: golden.jsonl
metrics:
  - contains
  - token_f1: {gate: false, threshold: 0.3}
"""
PY_TEST = """
def test_answers(llm):
    assert "hello" in llm.generate("say hello")
"""
# Fields that differ between any two runs, sharded or not.
VOLATILE = ("timings", "cached")


# --------------------------------------------------------------------------- the plan


def test_a_shard_is_k_of_n() -> None:
    assert (parse_shard("2/3").index, parse_shard(" 3 / 3 ").count) == (2, 3)
    for bad in ("0/3", "4/3", "3", "a/b", "1/0", ""):
        with pytest.raises(ShardError, match="--llm-shard"):
            parse_shard(bad)


def _units(n: int, prefix: str = "u") -> list[Unit]:
    return [Unit(key=f"{prefix}{i}", cost=float(10 + (i * 37) % 90)) for i in range(n)]


def test_every_unit_lands_in_one_shard_and_loads_stay_within_the_slack() -> None:
    units = _units(300)
    placed = assign(units, 4)
    assert set(placed) == {u.key for u in units} and set(placed.values()) == {1, 2, 3, 4}
    loads = [sum(u.cost for u in units if placed[u.key] == shard) for shard in range(1, 5)]
    average = sum(loads) / 4
    assert max(loads) <= (1 + SLACK) * average
    assert assign(list(reversed(units)), 4) == placed  # the order units arrive in does not matter


def test_adding_cases_elsewhere_moves_few_others() -> None:
    units = _units(300)
    before = assign(units, 3)
    after = assign(units + _units(10, prefix="new"), 3)
    moved = sum(before[key] != after[key] for key in before)
    # A re-plan by sorted position would move about two thirds; rendezvous hashing moves few.
    assert moved <= 0.1 * len(before), moved


def test_one_unit_larger_than_a_fair_share_still_lands_once() -> None:
    units = [Unit("huge", 1000.0), *_units(10)]
    placed = assign(units, 3)
    assert len(placed) == 11 and sum(placed[u.key] == placed["huge"] for u in units) == 1


# --------------------------------------------------------------------------- real runs


@pytest.fixture
def sharded(project: LlmProject) -> LlmProject:
    project.pytester.makeconftest(CONFTEST)
    for name, failing in (("functional/a", 3), ("functional/b", 4), ("functional/c", 0)):
        project.suite(name, simple_suite(14, name=name, failing_every=failing))
    rows = [{"id": f"q{i:02d}", "input": f"Name the word token{i} please", "expected": f"token{i}"}
            for i in range(20)]
    project.write("golden.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    project.suite("qa", REGRESSION)
    project.write("test_plain.py", PY_TEST)
    return project


def _stable(value: Any) -> Any:
    return without_keys(value, VOLATILE)


def _cases(report: dict[str, Any]) -> list[dict[str, Any]]:
    return _stable(report["cases"])


def _suites(report: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in suite.items() if k != "cached"} for name, suite in report["suites"].items()}


def _run_shards(project: LlmProject, count: int, *extra: str) -> list[Path]:
    paths = []
    for index in range(1, count + 1):
        project.run("--llm-model=echo:a", f"--llm-shard={index}/{count}", f"--llm-report-dir=shard{index}", *extra)
        paths.append(project.report_path(f"shard{index}"))
    return paths


def test_three_shards_merge_into_the_single_run(sharded: LlmProject, capsys: Any) -> None:
    sharded.run("--llm-model=echo:a")
    whole = sharded.report()
    paths = _run_shards(sharded, 3)
    shards = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    ids = [(c["suite"], c["id"]) for shard in shards for c in shard["cases"]]
    assert sorted(ids) == sorted((c["suite"], c["id"]) for c in whole["cases"])  # each case exactly once
    assert all(shard["cases"] for shard in shards)  # every shard got work
    # The regression suite is kept whole in one shard.
    assert sum(any(c["kind"] == "regression" for c in shard["cases"]) for shard in shards) == 1
    assert {shard["run"]["shard"]["selection_sha256"] for shard in shards} == {
        shards[0]["run"]["shard"]["selection_sha256"]}

    out = sharded.path / "merged" / "llmops-report.json"
    assert llmops(["merge", *map(str, paths), "-o", str(out)]) == 0
    merged = json.loads(out.read_text(encoding="utf-8"))
    assert _cases(merged) == _cases(whole)
    assert _suites(merged) == _suites(whole)
    assert merged["run"]["usage"] == whole["run"]["usage"]  # tokens folded again from the records
    assert merged["run"]["complete"] is True and len(merged["run"]["shards"]) == 3
    assert (out.parent / "llmops-report.html").is_file()
    assert "3 shards" in capsys.readouterr().out
    # Gates read it like any other report.
    assert llmops(["gate", str(out), "--env", "dev", "--config", str(_gate_file(sharded.path))]) == 1


def _gate_file(folder: Path) -> Path:
    path = folder / "gates.yaml"
    path.write_text('environments:\n  dev:\n    checks: ["functional/*: pass_rate.lb95 >= 0.9"]\n', encoding="utf-8")
    return path


def test_merge_refuses_shards_that_are_not_one_run(sharded: LlmProject, capsys: Any) -> None:
    paths = _run_shards(sharded, 3)
    out = str(sharded.path / "merged.json")
    assert llmops(["merge", str(paths[0]), str(paths[2]), "-o", out]) == 2
    assert "shard 2/3 missing" in capsys.readouterr().err
    assert llmops(["merge", str(paths[0]), str(paths[0]), str(paths[1]), str(paths[2]), "-o", out]) == 2
    assert "shard 1/3 given twice" in capsys.readouterr().err
    sharded.run("--llm-model=echo:a", "--llm-shard=2/3", "--llm-report-dir=other", "-k", "not c01")
    assert llmops(["merge", str(paths[0]), str(sharded.report_path("other")), str(paths[2]), "-o", out]) == 2
    assert "their selection" in capsys.readouterr().err
    sharded.run("--llm-model=echo:a", "--llm-shard=2/3", "--llm-report-dir=seeded", "--llm-seed=7")
    assert llmops(["merge", str(paths[0]), str(sharded.report_path("seeded")), str(paths[2]), "-o", out]) == 2
    assert "seed differ" in capsys.readouterr().err
    sharded.run("--llm-model=echo:a", "--llm-report-dir=plain")
    assert llmops(["merge", str(sharded.report_path("plain")), "-o", out]) == 2
    assert "not a shard report" in capsys.readouterr().err
    assert not Path(out).exists()


def test_merge_refuses_shards_run_on_different_versions_of_a_suite(sharded: LlmProject, capsys: Any) -> None:
    first = _run_shards(sharded, 3)
    # The same cases (so the same node ids and selection) with another check: a new version of the suite.
    sharded.suite("functional/a", simple_suite(14, name="functional/a", failing_every=5))
    sharded.run("--llm-model=echo:a", "--llm-shard=2/3", "--llm-report-dir=edited")
    out = sharded.path / "merged.json"
    assert llmops(["merge", str(first[0]), str(sharded.report_path("edited")), str(first[2]), "-o", str(out)]) == 2
    error = capsys.readouterr().err
    assert "suite 'functional/a' comes from different files" in error and "edited" in error
    assert not out.exists()


def test_a_shard_with_nothing_to_run_still_reports_and_merges(project: LlmProject) -> None:
    project.pytester.makeconftest(CONFTEST)
    project.suite("functional/tiny", simple_suite(2, name="functional/tiny"))
    paths = _run_shards(project, 3)  # two cases, three shards: one shard gets none
    shards = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    assert sorted(len(shard["cases"]) for shard in shards) == [0, 1, 1]
    out = project.path / "merged.json"
    assert llmops(["merge", *map(str, paths), "-o", str(out), "--no-render"]) == 0
    assert len(json.loads(out.read_text(encoding="utf-8"))["cases"]) == 2


def test_a_bad_shard_option_is_a_usage_error(sharded: LlmProject) -> None:
    result = sharded.run("--llm-model=echo:a", "--llm-shard=4/3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-shard: expected 1 <= K <= N, got 4/3*"])


# --------------------------------------------------------------------------- xdist

COUNTING_CONFTEST = '''
import os
from pathlib import Path

from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.testing import EchoProvider


class CountingProvider(EchoProvider):
    """echo, and a line in loads.txt per instance: which worker loaded which model."""

    def __init__(self, spec):
        super().__init__(spec)
        with open(Path(__file__).parent / "loads.txt", "a", encoding="utf-8") as log:
            log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {spec.alias}\\n")


@hookimpl
def llmops_register_providers(register):
    register("counting", CountingProvider, form="counting:NAME")


def pytest_runtest_setup(item):
    alias = getattr(item, "alias", None) or item.callspec.params.get("llm_alias")
    with open(Path(__file__).parent / "ran.txt", "a", encoding="utf-8") as log:
        log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {alias}\\n")
'''


def _pairs(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in path.read_text(encoding="utf-8").splitlines()]  # type: ignore[misc]


def test_xdist_with_two_models_gives_each_worker_one_model(project: LlmProject) -> None:
    project.pytester.makeconftest(COUNTING_CONFTEST)
    for name in ("functional/a", "functional/b"):
        project.suite(name, simple_suite(12, name=name))
    project.write("test_plain.py", PY_TEST)
    result = project.run_subprocess("--llm-model=counting:a", "--llm-model=counting:b", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=2 * 25)
    ran = _pairs(project.path / "ran.txt")
    workers_of = {alias: {worker for worker, a in ran if a == alias} for alias in ("a", "b")}
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of
    assert workers_of["a"] != workers_of["b"]  # two models, two workers: one each
    # The controller creates each provider once too, only to fingerprint the models for the
    # report (the hf provider digests the weight files without loading them).
    loads = [(worker, alias) for worker, alias in _pairs(project.path / "loads.txt") if worker != "main"]
    assert sorted(loads) == sorted(set(loads))  # no worker created a model's provider twice
    assert sorted(loads) == sorted((next(iter(workers_of[a])), a) for a in ("a", "b"))  # only its own model
    assert len(project.report()["cases"]) == 2 * 24 + 2  # the report has every case of both models


def test_one_model_under_xdist_is_not_grouped(project: LlmProject) -> None:
    project.pytester.makeconftest(COUNTING_CONFTEST)
    project.suite("functional/a", simple_suite(40, name="functional/a"))
    project.run_subprocess("--llm-model=counting:a", "-n", "2", "-p", "xdist").assert_outcomes(passed=40)
    assert {worker for worker, _ in _pairs(project.path / "ran.txt")} == {"gw0", "gw1"}


def test_a_shard_under_xdist_is_the_same_shard(project: LlmProject) -> None:
    project.pytester.makeconftest(COUNTING_CONFTEST)
    for name in ("functional/a", "functional/b"):
        project.suite(name, simple_suite(12, name=name))
    args = ("--llm-model=counting:a", "--llm-model=counting:b", "--llm-shard=2/3")
    project.run_subprocess(*args, "--llm-report-dir=plain")
    project.run_subprocess(*args, "--llm-report-dir=xdist", "-n", "2", "-p", "xdist")
    plain, xdist = project.report("plain"), project.report("xdist")
    assert plain["run"]["shard"]["selection_sha256"] == xdist["run"]["shard"]["selection_sha256"]
    assert sorted((c["suite"], c["id"], c["model"]) for c in plain["cases"]) == \
        sorted((c["suite"], c["id"], c["model"]) for c in xdist["cases"])
