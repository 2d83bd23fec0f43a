"""Sharded runs in CI: the action's ``shard`` and ``merge-reports`` inputs and the example
workflow action/examples/sharded-eval.yml.

Static checks: the shard count is written once and the matrix is derived from it, the merge
job needs the shards, runs after a failed shard but not after a cancel, downloads every shard's
artifact and gates; only the merge job may write to pull requests. Simulated runs (the
harness of test_action_yaml.py, echo provider, local GitHub stub): two shard jobs and the merge
job, as the example wires them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from github_stub import GitHubStub
from test_action_yaml import (
    ACTION,
    EXAMPLES,
    ROOT,
    TOKEN,
    ActionRunner,
    condition,
    load,
    make_repo,
    render,
    runner_env,
    shims,
    strings,
)

from pytest_llmops.integrations.github import sticky_marker

SHARDED = EXAMPLES / "sharded-eval.yml"
NEW_INPUTS = ("shard", "merge-reports")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load(SHARDED)


def action_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("uses") == "./action"]
    return step


def shard_count(workflow: dict[str, Any]) -> int:
    return int(workflow["env"]["SHARDS"])


def only_paths_step(tmp_path: Path, inputs: dict[str, str]) -> ActionRunner:
    """Runs just the action's ``paths`` step (names, cache scope, validation)."""
    (tmp_path / "ws").mkdir(parents=True)
    skip = tuple(s.get("name") for s in load(ACTION)["runs"]["steps"] if s.get("id") != "paths")
    github = {"token": TOKEN, "event_name": "push", "run_id": "1", "run_attempt": "1"}
    env = {"PATH": f"{shims(tmp_path / 'bin')}:/usr/bin:/bin"}
    return ActionRunner(tmp_path / "ws", tmp_path / "temp", inputs, github, env, skip=skip).run()


# -- the action's inputs, statically ----------------------------------------------------------------


def test_the_shard_inputs_are_declared_used_by_steps_and_documented() -> None:
    action = load(ACTION)
    readme = (ROOT / "action" / "README.md").read_text(encoding="utf-8")
    for name in NEW_INPUTS:
        spec = action["inputs"][name]
        assert spec.get("description") and spec["default"] == "", name
        # Used where the runner evaluates it (env:, if:, with:), never inside shell code.
        used = [s for s in action["runs"]["steps"]
                if f"inputs.{name}" in "\n".join(strings({k: v for k, v in s.items() if k != "run"}))]
        assert used, name
        assert re.search(rf"^\| `{re.escape(name)}` \|", readme, re.MULTILINE), f"{name} missing from the inputs table"
    assert "## Sharded runs" in readme and "examples/sharded-eval.yml" in readme
    sharding = (ROOT / "docs" / "sharding.md").read_text(encoding="utf-8")
    assert "## In CI" in sharding and "action/examples/sharded-eval.yml" in sharding
    assert "shard inputs" not in sharding  # no longer "not yet done"


def test_a_shard_gets_its_own_artifact_and_cache_and_bad_shards_are_refused(tmp_path: Path) -> None:
    names, scopes = set(), set()
    for index in (1, 2, 10):
        paths = only_paths_step(tmp_path / f"s{index}", {"shard": f" {index}/10 "}).step("paths")
        assert paths.code == 0, paths.stderr + paths.stdout
        assert paths.outputs["shard"] == f"{index}/10"
        names.add(paths.outputs["artifact-name"])
        scopes.add(paths.outputs["cache-scope"])
    assert names == {"llmops-report-shard-1", "llmops-report-shard-2", "llmops-report-shard-10"}
    assert scopes == {"-shard-1", "-shard-2", "-shard-10"}
    plain = only_paths_step(tmp_path / "plain", {}).step("paths")
    assert (plain.outputs["artifact-name"], plain.outputs["cache-scope"], plain.outputs["shard"]) == (
        "llmops-report", "", "")
    cases = (({"shard": "3/2"}, "shard must be K/N"), ({"shard": "two"}, "shard must be K/N"),
             ({"shard": "1/2", "merge-reports": "shards"}, "not both"))
    for number, (inputs, message) in enumerate(cases):
        bad = only_paths_step(tmp_path / f"bad{number}", inputs).step("paths")
        assert bad.code == 1 and message in bad.stdout, (inputs, bad.stdout)


# -- the example workflow ------------------------------------------------------------------------------


def test_the_shard_count_is_written_once(workflow: dict[str, Any]) -> None:
    count = shard_count(workflow)
    assert count >= 2
    rest = dict(workflow, env={k: v for k, v in workflow["env"].items() if k != "SHARDS"})
    literal = re.compile(rf"(?<![\w/.-]){count}(?![\w/.-])")

    def scalars(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [s for key, value in node.items() for s in scalars(key) + scalars(value)]
        if isinstance(node, list):
            return [s for item in node for s in scalars(item)]
        return [node]

    for value in scalars(rest):
        assert value != count and not (isinstance(value, str) and literal.search(value)), value
    shards = workflow["jobs"]["shards"]
    assert shards["strategy"]["matrix"] == {"shard": "${{ fromJSON(needs.plan.outputs.shards) }}"}
    assert shards["needs"] == "plan" and shards["strategy"]["fail-fast"] is False
    assert action_step(shards)["with"]["shard"] == "${{ matrix.shard }}"


def run_plan(step: dict[str, Any], shards: str, output: Path) -> subprocess.CompletedProcess[str]:
    """The plan step's script, as the runner would run it with ``env: SHARDS``."""
    return subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], capture_output=True, text=True,
                          check=False, env={"PATH": "/usr/bin:/bin", "SHARDS": shards, "GITHUB_OUTPUT": str(output)})


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq (on every GitHub runner) is not installed here")
def test_the_plan_job_turns_the_count_into_the_matrix(workflow: dict[str, Any], tmp_path: Path) -> None:
    plan = workflow["jobs"]["plan"]
    (step,) = plan["steps"]
    assert plan["outputs"]["shards"] == f"${{{{ steps.{step['id']}.outputs.shards }}}}"
    count = shard_count(workflow)
    for shards, expected in ((str(count), [f"{k}/{count}" for k in range(1, count + 1)]),
                             ("5", ["1/5", "2/5", "3/5", "4/5", "5/5"]), ("1", ["1/1"])):
        output = tmp_path / f"out{shards}"
        proc = run_plan(step, shards, output)
        assert proc.returncode == 0, proc.stderr
        name, _, value = output.read_text(encoding="utf-8").strip().partition("=")
        assert name == "shards" and json.loads(value) == expected
    proc = run_plan(step, "0", tmp_path / "bad")
    assert proc.returncode == 1 and "SHARDS must be a positive integer" in proc.stdout


def test_the_merge_job_merges_every_shard_and_gates(workflow: dict[str, Any], tmp_path: Path) -> None:
    jobs = workflow["jobs"]
    merge = jobs["merge"]
    assert merge["needs"] in ("shards", ["shards"])
    # Runs after a shard job failed (failed cases are the gate's to judge), not after a cancel.
    needs = {"needs": {"shards": {"result": "failure"}}}
    assert condition(merge["if"], needs, job_failed=True)
    assert not condition(merge["if"], needs, job_failed=False, cancelled=True)
    assert not condition(merge["if"], {"needs": {"shards": {"result": "skipped"}}}, job_failed=True)
    assert "always()" not in merge["if"]

    (download,) = [s for s in merge["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    names = [action_step(merge)["with"].get("artifact-name", "llmops-report")]
    for index in range(1, shard_count(workflow) + 1):
        # The shard job's inputs as the runner would pass them to matrix entry K/N.
        matrix = {"matrix": {"shard": f"{index}/{shard_count(workflow)}"}}
        inputs = {k: render(v, matrix) for k, v in action_step(jobs["shards"])["with"].items()}
        names.append(only_paths_step(tmp_path / f"s{index}", inputs).step("paths").outputs["artifact-name"])
    merged_name, shard_names = names[0], names[1:]
    assert len(set(shard_names)) == len(shard_names)  # a distinct artifact per shard
    pattern = download["with"]["pattern"]
    assert all(fnmatch.fnmatchcase(name, pattern) for name in shard_names)
    assert not fnmatch.fnmatchcase(merged_name, pattern)
    # One folder per shard: every shard's report has the same file name.
    assert str(download["with"].get("merge-multiple", "false")).lower() == "false"
    names_in_order = [s.get("name") or s.get("uses") for s in merge["steps"]]
    assert names_in_order.index(download["name"]) < names_in_order.index(action_step(merge)["name"])

    merge_with = action_step(merge)["with"]
    assert merge_with["merge-reports"] == download["with"]["path"]
    assert merge_with["gate-env"] and "shard" not in merge_with


def test_only_the_merge_job_writes_to_pull_requests(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        writes = {key for key, value in permissions.items() if value == "write"}
        assert writes == ({"pull-requests", "statuses"} if name == "merge" else set()), name
    assert "comment" not in action_step(workflow["jobs"]["shards"])["with"]


# -- simulated runs: two shard jobs, then the merge job -------------------------------------------------


def test_two_shard_jobs_and_the_merge_job(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    base_sha, head_sha = make_repo(workspace)
    event = {"number": 7, "pull_request": {"number": 7, "head": {"sha": head_sha, "ref": "feature"},
                                           "base": {"sha": base_sha, "ref": "main"}}}
    artifacts = tmp_path / "artifacts"
    with GitHubStub(TOKEN) as stub:
        env, github = runner_env(tmp_path, stub, event, workspace, "pull_request", "f" * 40)
        for index in (1, 2):
            shard = ActionRunner(workspace, tmp_path / f"temp{index}",
                                 {"models": "echo:m1", "shard": f"{index}/2"}, github, env).run()
            head = shard.step("head")
            assert head.code == 0 and head.outputs["exit-code"] in ("0", "1"), head.stdout + head.stderr
            report = json.loads((workspace / "reports" / "llmops-report.json").read_text(encoding="utf-8"))
            assert report["run"]["shard"]["index"] == index and report.get("gate") is None
            assert (workspace / "reports" / "pytest-exit-code").read_text().strip() == head.outputs["exit-code"]
            assert not shard.step("publish").ran and not shard.step("base-artifact").ran
            enforce = shard.step("Enforce the gate")
            assert enforce.code == 0 and "the merge job gates the run" in enforce.stdout
            upload = shard.step("upload").with_
            assert upload["name"] == f"llmops-report-shard-{index}"
            restore = shard.step("Restore the response cache").with_
            assert f"llmops-cache-Linux-shard-{index}-4242-1" == restore["key"]
            assert restore["restore-keys"].splitlines()[0] == f"llmops-cache-Linux-shard-{index}-"
            assert shard.step("Save the response cache").with_["key"] == restore["key"]
            shutil.move(str(workspace / "reports"), artifacts / upload["name"])  # upload-artifact
        assert stub.comments(7) == [] and stub.statuses(head_sha) == []  # a shard is not the run

        shutil.copytree(artifacts, workspace / "shards")  # download-artifact, one folder per artifact
        merge = ActionRunner(workspace, tmp_path / "temp-merge", {"merge-reports": "shards"}, github, env).run()
        comments, statuses = stub.comments(7), stub.statuses(head_sha)

    assert not merge.step("head").ran and not merge.step("Restore the response cache").ran
    assert not merge.step("base-run").ran  # the base is never the whole selection in this one job
    merged_step = merge.step("merge")
    assert merged_step.code == 0, merged_step.stdout + merged_step.stderr
    assert merged_step.outputs["exit-code"] == "1"  # the worst shard: three cases fail
    merged = json.loads((workspace / "reports" / "llmops-report.json").read_text(encoding="utf-8"))
    assert len(merged["cases"]) == 12 and len(merged["run"]["shards"]) == 2
    gate = json.loads(Path(merged_step.outputs["gate-file"]).read_text(encoding="utf-8"))
    assert gate["decision"] == "BLOCK" and gate["env"] == "dev"
    publish = merge.step("publish")
    assert publish.code == 0 and publish.outputs["decision"] == "BLOCK", publish.stderr
    (comment,) = comments
    assert comment["body"].startswith(sticky_marker("dev")) and "BLOCK" in comment["body"]
    assert [s["state"] for s in statuses] == ["failure"]
    enforce = merge.step("Enforce the gate")
    assert enforce.code == 1 and "PROMOTION: BLOCK (dev)" in enforce.stdout
    assert merge.step("upload").with_["name"] == "llmops-report"
    outputs = merge.action_outputs()
    assert outputs["pytest-exit-code"] == "1" and outputs["gate-file"].endswith("gate-dev.json")
    assert outputs["artifact-name"] == "llmops-report" and outputs["decision"] == "BLOCK"
    assert TOKEN not in merge.all_text()

    # A shard missing (here given by a glob that matches one): refused, and the action fails.
    (tmp_path / "again").mkdir()
    with GitHubStub(TOKEN) as stub:
        env, github = runner_env(tmp_path / "again", stub, event, workspace, "pull_request", "f" * 40)
        partial = ActionRunner(workspace, tmp_path / "temp-partial",
                               {"merge-reports": "shards/*-shard-1/llmops-report.json", "report-dir": "partial",
                                "comment": "false"}, github, env).run()
    step = partial.step("merge")
    assert step.outputs["exit-code"] == "2" and "shard 2/2 missing" in step.stderr
    enforce = partial.step("Enforce the gate")
    assert enforce.code == 1 and "could not be merged" in enforce.stdout
