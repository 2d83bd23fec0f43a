"""The composite action (action/action.yml) and the example workflows.

Static checks: the files parse, every input the action uses is declared, no input is
interpolated into shell code, the examples pass only declared inputs, the release
workflow's deploy job needs the gate and the protected ``production`` environment.

Simulated runs: the action's own steps run under a simulated GitHub Actions environment
(a ``pull_request`` event payload file, per-step ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY`` files, ``${{ }}`` expressions evaluated by a small evaluator,
``uses:`` steps stood in for) against a git repository with the in-process echo provider
and the local GitHub stub. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from github_stub import GitHubStub
from pytest_llmops.integrations.github import sticky_marker

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action" / "action.yml"
EXAMPLES = ROOT / "action" / "examples"
TOKEN = "ghs_ActionT0kenNeverPrinted9876543210"
ARTIFACT_URL = "https://github.example.invalid/octo-org/octo-repo/actions/runs/4242/artifacts/99"
EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
INPUT_REF = re.compile(r"inputs\.([A-Za-z0-9_-]+)")
STEP_REF = re.compile(r"steps\.([A-Za-z0-9_-]+)\.(outputs|outcome|conclusion)")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """``on:`` (YAML 1.1 reads the bare key as ``True``)."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {name: None for name in on}
    return on or {}


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    return load(ACTION)


# -- the action, statically ---------------------------------------------------------------------------


def test_action_is_composite_with_the_documented_interface(action: dict[str, Any]) -> None:
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    for name in ("models", "suites", "gate-env", "python-version", "pip-args", "github-token", "comment",
                 "base-report", "report-dir"):
        assert name in inputs and inputs[name].get("description"), name
    assert inputs["github-token"]["default"] == "${{ github.token }}"
    assert inputs["comment"]["default"] == "true" and inputs["gate-env"]["default"] == "dev"
    assert {"decision", "report"} <= set(action["outputs"])
    for output in action["outputs"].values():
        assert output.get("description") and "${{" in output["value"]


def test_every_input_used_is_declared(action: dict[str, Any]) -> None:
    text = ACTION.read_text(encoding="utf-8")
    used = set(INPUT_REF.findall(text))
    declared = set(action["inputs"])
    assert used - declared == set(), f"used but not declared: {sorted(used - declared)}"
    assert declared - used == set(), f"declared but never used: {sorted(declared - used)}"


def test_no_expression_is_interpolated_into_shell_code(action: dict[str, Any]) -> None:
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], f"step {step.get('name')!r}: pass values through env:, not ${{{{ }}}}"
            assert step.get("shell") == "bash", step.get("name")


def test_step_references_resolve(action: dict[str, Any]) -> None:
    seen: set[str] = set()
    for step in action["runs"]["steps"]:
        for ref, _ in STEP_REF.findall("\n".join(strings({k: v for k, v in step.items() if k != "run"}))):
            assert ref in seen, f"step {step.get('name')!r} refers to steps.{ref} before it ran"
        if "id" in step:
            assert step["id"] not in seen
            seen.add(step["id"])
    for name, output in action["outputs"].items():
        for ref, _ in STEP_REF.findall(output["value"]):
            assert ref in seen, f"output {name} refers to unknown step {ref}"


def test_steps_writing_outputs_have_ids(action: dict[str, Any]) -> None:
    for step in action["runs"]["steps"]:
        if ">> \"$GITHUB_OUTPUT\"" in step.get("run", ""):
            assert step.get("id"), step.get("name")


# -- the examples -------------------------------------------------------------------------------------


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yml"))


def test_the_examples_exist() -> None:
    assert {p.name for p in EXAMPLE_FILES} >= {"pr-eval.yml", "release-gate.yml", "sharded-eval.yml"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_uses_only_declared_inputs(path: Path, action: dict[str, Any]) -> None:
    workflow = load(path)
    declared = set(action["inputs"])
    required = {name for name, spec in action["inputs"].items() if spec.get("required") and "default" not in spec}
    uses = 0
    for job_name, job in workflow["jobs"].items():
        assert "runs-on" in job, job_name
        steps = job.get("steps", [])
        action_ids = set()
        for step in steps:
            if step.get("uses") in ("./action", "./action/"):
                uses += 1
                given = set((step.get("with") or {}).keys())
                assert given <= declared, f"{path.name}:{job_name}: undeclared input(s) {sorted(given - declared)}"
                assert required <= given
                if "id" in step:
                    action_ids.add(step["id"])
        # Outputs read from the action's step must be declared outputs.
        text = "\n".join(strings(job))
        for ref, name in re.findall(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", text):
            if ref in action_ids:
                assert name in action["outputs"], f"{path.name}: steps.{ref}.outputs.{name} is not an action output"
    assert uses >= 1


def test_pr_eval_runs_on_pull_requests_with_write_permissions() -> None:
    workflow = load(EXAMPLES / "pr-eval.yml")
    on = triggers(workflow)
    assert "pull_request" in on and "push" in on  # push on main keeps a base artifact
    permissions = workflow["permissions"]
    assert permissions["pull-requests"] == "write" and permissions["statuses"] == "write"
    assert permissions["contents"] == "read" and permissions["actions"] == "read"


def test_release_gate_deploys_only_after_the_gate_and_an_approval() -> None:
    workflow = load(EXAMPLES / "release-gate.yml")
    on = triggers(workflow)
    assert "workflow_dispatch" in on and on["release"]["types"] == ["published"]
    jobs = workflow["jobs"]
    gate_steps = jobs["gate"]["steps"]
    (eval_step,) = [s for s in gate_steps if s.get("uses") == "./action"]
    assert eval_step["with"]["gate-env"] == "prod"
    uploads = [s for s in gate_steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert any(s["with"]["name"] == "gate-prod" for s in uploads)
    deploy = jobs["deploy"]
    needs = deploy["needs"] if isinstance(deploy["needs"], list) else [deploy["needs"]]
    assert "gate" in needs
    environment = deploy["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "production"
    deploy_text = "\n".join(strings(deploy["steps"]))
    assert "gate-prod" in deploy_text and "jq -e '.decision == \"ALLOW\"" in deploy_text
    # The signed approval: of the report the gate job uploaded, checked before the deploy step.
    names = [s.get("name", "") for s in deploy["steps"]]
    check = names.index("Check the approval is for this report, this gate file and prod")
    assert check < names.index("Deploy")
    assert "--require-approval approvals --approvers .github/llmops-approvers" in deploy["steps"][check]["run"]
    assert "llmops gate evidence/llmops-report.json --env prod" in deploy["steps"][check]["run"]
    downloads = [s["with"]["name"] for s in deploy["steps"] if str(s.get("uses", "")).startswith("actions/download")]
    assert "llmops-report-prod" in downloads and eval_step["with"]["artifact-name"] == "llmops-report-prod"
    # The artifact the gate job uploads is the file the action names.
    assert "gate-file" in (load(ACTION)["outputs"])


# -- a small evaluator for the ${{ }} expressions the action uses ---------------------------------------


_TOKENS = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\))|(?P<num>\d+(?:\.\d+)?)"
                     r"|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*))")
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


class Expr:
    """GitHub Actions expressions, the subset used here: literals, dotted context references,
    ``!``, ``==``, ``!=``, ``&&``, ``||`` (value-returning), parentheses and status functions."""

    def __init__(self, text: str, context: dict[str, Any], job_failed: bool = False,
                 cancelled: bool = False) -> None:
        self.tokens = []
        pos, text = 0, text.strip()
        while pos < len(text):
            match = _TOKENS.match(text, pos)
            assert match and match.end() > pos, f"cannot parse {text[pos:]!r}"
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0
        self.context = context
        self.job_failed = job_failed
        self.cancelled = cancelled

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def value(self) -> Any:
        result = self.or_()
        assert self.i == len(self.tokens), f"trailing tokens {self.tokens[self.i:]}"
        return result

    def or_(self) -> Any:
        left = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.eq()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.eq()
            left = right if truthy(left) else left
        return left

    def eq(self) -> Any:
        left = self.unary()
        if self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.unary()
            same = norm(left) == norm(right)
            return same if op == "==" else not same
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if (kind, text) == ("op", "("):
            result = self.or_()
            assert self.take() == ("op", ")")
            return result
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        assert kind == "name", text
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            assert self.take() == ("op", ")"), "only argument-less functions"
            return {"success": not self.job_failed and not self.cancelled, "failure": self.job_failed,
                    "always": True, "cancelled": self.cancelled}[text]
        node: Any = self.context
        for part in text.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node


def truthy(value: Any) -> bool:
    return value not in (None, "", 0, False)


def norm(value: Any) -> Any:
    return "" if value is None else (value.lower() if isinstance(value, str) else value)


def render(template: Any, context: dict[str, Any]) -> str:
    """A string with every ``${{ }}`` replaced by its value."""
    def one(match: re.Match[str]) -> str:
        value = Expr(match.group(1), context).value()
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return EXPR.sub(one, str(template))


def condition(text: Any, context: dict[str, Any], job_failed: bool, cancelled: bool = False) -> bool:
    """A step's (or a job's) ``if:``; without a status function it is ``success() && (...)``."""
    if text is None:
        return not job_failed and not cancelled
    expr = str(text).strip()
    wrapped = EXPR.fullmatch(expr)
    if wrapped:
        expr = wrapped.group(1)
    result = truthy(Expr(expr, context, job_failed, cancelled).value())
    if not any(re.search(rf"\b{f}\(\)", expr) for f in STATUS_FUNCTIONS):
        result = result and not job_failed and not cancelled
    return result


def test_the_evaluator() -> None:
    context = {"inputs": {"a": "", "b": "x", "flag": "true"}, "steps": {"s": {"outputs": {"o": "v"}}},
               "github": {"event_name": "pull_request"}}
    assert render("${{ inputs.a || steps.s.outputs.o || inputs.b }}", context) == "v"
    assert render("-${{ inputs.missing }}-", context) == "--"
    assert condition("github.event_name == 'pull_request' && inputs.a == ''", context, False)
    assert not condition("inputs.flag == 'true'", context, True)
    assert condition("${{ !cancelled() && inputs.flag == 'true' }}", context, True)
    assert not condition("steps.nope.outputs.x != ''", context, False)
    assert not condition("${{ !cancelled() }}", context, True, cancelled=True)
    assert condition("always()", context, True, cancelled=True)


# -- running the action's steps -------------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    ran: bool
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    with_: dict[str, str] = field(default_factory=dict)  # a ``uses:`` step's rendered inputs


def read_output_file(path: Path) -> dict[str, str]:
    """``name=value`` and ``name<<DELIM ... DELIM`` entries of a GITHUB_OUTPUT file."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            j = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1:j])
            i = j + 1
            continue
        name, _, value = line.partition("=")
        values[name] = value
        i += 1
    return values


class ActionRunner:
    """Runs action.yml's steps in order, the way the runner would, with stand-ins for ``uses:``."""

    def __init__(self, workspace: Path, temp: Path, inputs: dict[str, str], github: dict[str, Any],
                 env: dict[str, str], skip: tuple[str, ...] = ("Set up Python", "Install pytest-llmops"),
                 stand_in: dict[str, dict[str, str]] | None = None) -> None:
        self.action = load(ACTION)
        self.workspace, self.temp = workspace, temp
        declared = self.action["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"undeclared inputs {unknown}"
        self.github = github
        context: dict[str, Any] = {"github": github, "runner": {"temp": str(temp), "os": "Linux"},
                                   "steps": {}, "env": {}}
        # Input defaults are expressions too (github-token: ${{ github.token }}).
        context["inputs"] = {name: inputs.get(name, render(spec.get("default", ""), context))
                             for name, spec in declared.items()}
        self.context = context
        self.env = env
        self.skip = skip
        self.stand_in = stand_in or {}  # step id -> outputs, for steps not run here
        self.runs: list[StepRun] = []
        self.job_failed = False

    def run(self) -> "ActionRunner":
        for index, step in enumerate(self.action["runs"]["steps"]):
            name = step.get("name") or step.get("id") or f"step {index}"
            if step.get("id") in self.stand_in:
                self.runs.append(StepRun(name, False, outputs=self.stand_in[step["id"]]))
                self.record(step, self.stand_in[step["id"]], "success")
                continue
            if not condition(step.get("if"), self.context, self.job_failed) or name in self.skip:
                self.runs.append(StepRun(name, False))
                self.record(step, {}, "skipped")
                continue
            result = self.uses(step, name) if "uses" in step else self.shell(step, name, index)
            self.runs.append(result)
            failed = result.code != 0
            self.record(step, result.outputs, "failure" if failed else "success")
            if failed and not step.get("continue-on-error"):
                self.job_failed = True
        return self

    def record(self, step: dict[str, Any], outputs: dict[str, str], outcome: str) -> None:
        if step.get("id"):
            self.context["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome}

    def uses(self, step: dict[str, Any], name: str) -> StepRun:
        uses = step["uses"]
        with_ = {k: render(v, self.context) for k, v in (step.get("with") or {}).items()}
        if uses.startswith("actions/upload-artifact@"):
            assert Path(with_["path"]).exists(), with_
            return StepRun(name, True, outputs={"artifact-id": "99", "artifact-url": ARTIFACT_URL}, with_=with_)
        assert uses.startswith(("actions/cache/restore@", "actions/cache/save@", "actions/setup-python@")), uses
        return StepRun(name, True, with_=with_)

    def shell(self, step: dict[str, Any], name: str, index: int) -> StepRun:
        files = self.temp / "_runner_files" / f"{index:02d}"
        files.mkdir(parents=True, exist_ok=True)
        script = files / "script.sh"
        script.write_text(step["run"], encoding="utf-8")
        env = dict(self.env)
        env.update({key: render(value, self.context) for key, value in (step.get("env") or {}).items()})
        env["GITHUB_OUTPUT"] = str(files / "output")
        env["GITHUB_STEP_SUMMARY"] = str(files / "summary.md")
        cwd = self.workspace / render(step.get("working-directory", "."), self.context)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)
        summary = (files / "summary.md").read_text(encoding="utf-8") if (files / "summary.md").exists() else ""
        return StepRun(name, True, proc.returncode, proc.stdout, proc.stderr,
                       read_output_file(files / "output"), summary)

    def step(self, name_or_id: str) -> StepRun:
        ids = {s.get("id"): s.get("name") for s in self.action["runs"]["steps"]}
        name = ids.get(name_or_id, name_or_id)
        return next(r for r in self.runs if r.name == name)

    def action_outputs(self) -> dict[str, str]:
        return {name: render(spec["value"], self.context) for name, spec in self.action["outputs"].items()}

    def all_text(self) -> str:
        return "\n".join(r.stdout + r.stderr + r.summary for r in self.runs)


def suite_yaml(failing: tuple[int, ...] = (), n: int = 12) -> str:
    lines = ["suite: functional/qa", "kind: functional", "cases:"]
    for i in range(n):
        expected = "zzz-not-there" if i in failing else f"number {i}"
        lines += [f"  - id: case-{i:02d}", f"    input: question number {i}", "    checks:",
                  f"      - contains: '{expected}'"]
    return "\n".join(lines) + "\n"


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path) -> tuple[str, str]:
    """A project whose base commit passes every case and whose head fails three; (base sha, head sha)."""
    root.mkdir()
    (root / "conftest.py").write_text(
        "from pytest_llmops.testing import register_echo_provider as llmops_register_providers\n", encoding="utf-8")
    (root / "pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        addopts = -p no:hypothesispytest -p no:benchmark -p no:anyio -p no:cacheprovider
        """), encoding="utf-8")
    (root / "llmops.yaml").write_text(textwrap.dedent("""\
        environments:
          dev:
            checks:
              - "*: errors == 0"
              - "functional/*: pass_rate.lb95 >= 0.5"
        """), encoding="utf-8")
    (root / ".gitignore").write_text(".llmops-cache/\nreports/\n", encoding="utf-8")
    suites = root / "evalsuites" / "functional"
    suites.mkdir(parents=True)
    (suites / "qa.eval.yaml").write_text(suite_yaml(), encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    base = git(root, "rev-parse", "HEAD")
    (suites / "qa.eval.yaml").write_text(suite_yaml(failing=(1, 4, 7)), encoding="utf-8")
    git(root, "commit", "-q", "-am", "head: three cases now fail")
    return base, git(root, "rev-parse", "HEAD")


def shims(directory: Path) -> Path:
    """``python`` and ``llmops`` for this interpreter, and a ``gh`` that finds no runs."""
    directory.mkdir()
    for name, body in (("python", f'exec "{sys.executable}" "$@"\n'),
                       ("llmops", f'exec "{sys.executable}" -m pytest_llmops.cli "$@"\n'),
                       ("gh", 'echo "gh: no runs (offline test)" >&2\nexit 1\n')):
        path = directory / name
        path.write_text("#!/bin/bash\n" + body, encoding="utf-8")
        path.chmod(0o755)
    return directory


def runner_env(tmp_path: Path, stub: GitHubStub, event: dict[str, Any], workspace: Path, event_name: str,
               sha: str) -> tuple[dict[str, str], dict[str, Any]]:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
    base_env.update({
        "PATH": f"{shims(tmp_path / 'bin')}{os.pathsep}{base_env.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1", "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path), "GITHUB_SHA": sha,
        "GITHUB_REPOSITORY": stub.full_name, "GITHUB_API_URL": stub.base_url,
        "GITHUB_SERVER_URL": "https://github.example.invalid", "GITHUB_RUN_ID": "4242",
        "GITHUB_WORKFLOW_REF": f"{stub.full_name}/.github/workflows/pr-eval.yml@refs/pull/7/merge",
        "LLMOPS_ECHO_LOG": str(tmp_path / "echo.log"),
    })
    github = {"token": TOKEN, "event_name": event_name, "event": event, "sha": sha, "repository": stub.full_name,
              "action_path": str(ACTION.parent), "workflow_ref": base_env["GITHUB_WORKFLOW_REF"],
              "run_id": "4242", "run_attempt": "1", "workspace": str(workspace)}
    return base_env, github


def test_the_action_on_a_pull_request(tmp_path: Path) -> None:
    """Base from the base commit (no artifact), head run, comment, status, summary, outputs, gate."""
    workspace = tmp_path / "repo"
    base_sha, head_sha = make_repo(workspace)
    event = {"action": "synchronize", "number": 7,
             "pull_request": {"number": 7, "head": {"sha": head_sha, "ref": "feature"},
                              "base": {"sha": base_sha, "ref": "main"}}}
    with GitHubStub(TOKEN) as stub:
        env, github = runner_env(tmp_path, stub, event, workspace, "pull_request", "f" * 40)
        runner = ActionRunner(workspace, tmp_path / "runner_temp",
                              {"models": "echo:m1", "suites": "evalsuites/"}, github, env).run()
        comments, statuses = stub.comments(7), stub.statuses(head_sha)
        requests = stub.request_lines()

    ran = {r.name: r for r in runner.runs}
    assert not ran["Set up Python"].ran and not ran["Install pytest-llmops"].ran
    artifact = runner.step("base-artifact")
    assert artifact.ran and artifact.code == 0 and "the base commit will be evaluated here" in artifact.stdout
    base_run = runner.step("base-run")
    assert base_run.code == 0, base_run.stdout + base_run.stderr
    base_report = Path(base_run.outputs["report"])
    assert base_report.is_file() and json.loads(base_report.read_text())["run"]["git_sha"] == base_sha
    assert "base-tree" not in git(workspace, "worktree", "list")  # the worktree is gone again

    head = runner.step("head")
    assert head.outputs["exit-code"] == "1"  # three failed cases, and the gate blocks
    report = json.loads((workspace / "reports" / "llmops-report.json").read_text())
    assert report["gate"]["decision"] == "BLOCK" and report["run"]["git_sha"] == head_sha
    # Cache-aware: the head run's prompts are the base's, so nothing is generated twice.
    assert report["run"]["engine"]["m1"]["generated"] == 0
    assert len((tmp_path / "echo.log").read_text().splitlines()) == 12

    publish = runner.step("publish")
    assert publish.code == 0, publish.stderr
    assert publish.outputs["decision"] == "BLOCK"
    assert publish.outputs["report"] == str(workspace / "reports" / "llmops-report.json")
    assert "PROMOTION: **BLOCK** (dev)" in publish.summary and "| suite | metric |" in publish.summary

    (comment,) = comments
    body = comment["body"]
    assert body.startswith(sticky_marker("dev"))
    assert "**Gate (dev): ALLOW \u2192 BLOCK**" in body and "### Regressions: passed \u2192 failed (3)" in body
    assert "### Top regressions (3)" in body and "`case-04`" in body
    assert f"]({ARTIFACT_URL})" in body
    assert [s["state"] for s in statuses] == ["failure"] and statuses[0]["context"] == "llmops/dev"
    assert sum(1 for line in requests if line.startswith("POST")) == 2

    enforce = runner.step("Enforce the gate")
    assert enforce.ran and enforce.code == 1
    assert "::error title=llmops gate::PROMOTION: BLOCK (dev)" in enforce.stdout

    outputs = runner.action_outputs()
    assert outputs["decision"] == "BLOCK" and outputs["report"].endswith("llmops-report.json")
    assert outputs["pytest-exit-code"] == "1" and outputs["artifact-url"] == ARTIFACT_URL
    assert outputs["gate-file"].endswith("gate-dev.json") and Path(outputs["gate-file"]).is_file()
    assert TOKEN not in runner.all_text()


def prebuilt_report(path: Path, decision: str) -> Path:
    report = {"schema_version": 1, "run": {"git_sha": "a" * 40, "models": []},
              "suites": {"functional/qa": {"kind": "functional", "model": "m1", "n": 2, "passed": 2, "failed": 0,
                                           "errors": 0, "metrics": {"pass_rate": {"value": 1.0, "ci95": [0.34, 1.0],
                                                                                  "n": 2}}}},
              "cases": [], "gate": {"env": "dev", "decision": decision, "checks": [], "warnings": []}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


@pytest.mark.parametrize("comment, forbid", [("false", False), ("true", True)], ids=["comment-off", "fork-pr"])
def test_publish_and_enforce_steps(tmp_path: Path, comment: str, forbid: bool) -> None:
    """Only the publish and enforce steps, on a report already there: comment off, or a read-only token."""
    workspace = tmp_path / "ws"
    prebuilt_report(workspace / "reports" / "llmops-report.json", "ALLOW")
    head_sha = "9" * 40
    event = {"pull_request": {"number": 7, "head": {"sha": head_sha}, "base": {"sha": "8" * 40, "ref": "main"}}}
    with GitHubStub(TOKEN, forbid_writes=forbid) as stub:
        env, github = runner_env(tmp_path, stub, event, workspace, "pull_request", "f" * 40)
        action = load(ACTION)
        skip = tuple(s.get("name") for s in action["runs"]["steps"]
                     if s.get("id") not in ("paths", "head", "publish") and s.get("name") != "Enforce the gate")
        # The head step would run pytest: stand in for it (the report is already there).
        runner = ActionRunner(workspace, tmp_path / "runner_temp", {"comment": comment, "compare-base": "false"},
                              github, env, skip=skip, stand_in={"head": {"exit-code": "0"}}).run()
        comments, statuses = stub.comments(7), stub.statuses(head_sha)
    publish = runner.step("publish")
    assert publish.code == 0, publish.stderr
    assert publish.outputs["decision"] == "ALLOW"
    assert "PROMOTION: **ALLOW** (dev)" in publish.summary
    assert comments == []
    enforce = runner.step("Enforce the gate")
    assert enforce.ran and enforce.code == 0 and "PROMOTION: ALLOW (dev)" in enforce.stdout
    if forbid:
        assert "skipped the PR comment: the token cannot write to octo-org/octo-repo (HTTP 403" in publish.stderr
        assert statuses == []
    else:
        assert [s["state"] for s in statuses] == ["success"]
    assert TOKEN not in runner.all_text()
