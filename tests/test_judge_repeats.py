"""A regression suite judged by a DeepEval metric: batched judge calls, repeats, spread, unstable cases.

The judge is a scripted provider registered by the test project's conftest: it answers
DeepEval's prompts with the JSON they ask for, and records each batch it is given and whether
each prompt carried a response schema. An answer containing ``wobble`` gets a verdict that
depends on the sample index, so repeated judgements of it flip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LlmProject

CONFTEST = '''
import json, os, re
from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.providers.base import Generation
from pytest_llmops.testing import register_test_providers as _echo


class ScriptedJudge:
    def __init__(self, spec):
        self.alias = spec.alias

    def fingerprint(self):
        return "scripted-judge-v1"

    def describe(self):
        return {"provider": "scripted"}

    def close(self):
        pass

    def _answer(self, prompt, repeat):
        if '"statements" key' in prompt:
            text = re.search(r"Text:\\s*\\n(.*?)\\n\\s*\\n", prompt, re.S).group(1)
            return {"statements": [text.strip()]}
        if "'verdicts' key" in prompt:
            statement = re.search(r"Statements:\\s*\\n(.*?)\\n\\s*\\n", prompt, re.S).group(1)
            if "wobble" in statement:
                verdict = "yes" if repeat % 2 == 0 else "no"
            else:
                verdict = "no" if "bananas" in statement else "yes"
            return {"verdicts": [{"verdict": verdict, "reason": None}]}
        if "JUDGE_BREAKS" in prompt:
            return "not json"
        raise AssertionError(prompt)

    def generate_batch(self, requests):
        with open(os.environ["JUDGE_LOG"], "a") as log:
            log.write(json.dumps({"batch": len(requests),
                                  "schemas": sum(r.response_schema is not None for r in requests),
                                  "temperatures": sorted({r.params.temperature for r in requests}),
                                  "samples": sorted({r.sample_index for r in requests})}) + "\\n")
        out = []
        for request in requests:
            prompt = request.messages[-1][1]
            if "JUDGE_BREAKS" in prompt:
                out.append(Generation(text="I cannot answer in JSON."))
                continue
            out.append(Generation(text=json.dumps(self._answer(prompt, request.sample_index))))
        return out


@hookimpl
def llmops_register_providers(register):
    _echo(register)
    register("scripted", ScriptedJudge, form="scripted:NAME")
'''

SUITE = """
kind: regression
suite: judged
cases:
  - {id: a, input: "Name the capital of France", expected: "Paris"}
  - {id: b, input: "Name a fruit", expected: "apple"}
  - {id: c, input: "Say wobble", expected: "wobble"}
  - {id: d, input: "Talk about bananas", expected: "bananas"}
metrics:
  - deepeval:AnswerRelevancyMetric: {include_reason: false}
judge: scripted:j
"""


@pytest.fixture
def judged(project: LlmProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LlmProject:
    pytest.importorskip("deepeval")  # tests/conftest.py fails this instead where CI requires it
    project.pytester.makeconftest(CONFTEST)
    monkeypatch.setenv("JUDGE_LOG", str(tmp_path / "judge.log"))
    return project


def _batches(tmp_path: Path) -> list[dict]:
    path = tmp_path / "judge.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_suites_judge_prompts_go_in_one_batch_per_step_with_a_schema(judged: LlmProject, tmp_path: Path) -> None:
    judged.suite("judged", SUITE)
    result = judged.run("--llm-model=echo:m")
    result.assert_outcomes(passed=4)
    batches = _batches(tmp_path)
    # Four answers, two DeepEval steps (statements, verdicts): two batches of four, not eight calls.
    assert [b["batch"] for b in batches] == [4, 4]
    assert all(b["schemas"] == b["batch"] for b in batches)
    assert all(b["temperatures"] == [0.0] and b["samples"] == [0] for b in batches)
    cases = {c["id"]: c for c in judged.report()["cases"]}
    judge = cases["a"]["judge"]
    assert judge["repeats"] == 1 and judge["fingerprint"] == "scripted-judge-v1" and judge["error"] is None
    assert judge["judgements"] == [{"metric": "deepeval:AnswerRelevancyMetric", "scores": [1.0], "mean": 1.0,
                                    "spread": 0.0, "self_agreement": 1.0, "unstable": False}]
    assert cases["d"]["regression"]["scores"]["deepeval:AnswerRelevancyMetric"] == 0.0
    # A rerun is served from the cache: the judge is not asked again.
    judged.run("--llm-model=echo:m").assert_outcomes(passed=4)
    assert len(_batches(tmp_path)) == 2


def test_a_run_temperature_leaves_the_judge_greedy(judged: LlmProject, tmp_path: Path) -> None:
    judged.suite("judged", SUITE)
    judged.run("--llm-model=echo:m", "--llm-temperature=0.9").assert_outcomes(passed=4)
    batches = _batches(tmp_path)
    assert batches and all(b["temperatures"] == [0.0] for b in batches)


def test_judge_repeats_record_spread_and_a_flipping_verdict_is_an_error(judged: LlmProject, tmp_path: Path) -> None:
    judged.suite("judged", SUITE + "judge_repeats: 3\njudge_temperature: 0.9\n")
    result = judged.run("--llm-model=echo:m")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*JudgeUnstable*verdict flipped across 3 repeats*"
                                 "deepeval:AnswerRelevancyMetric scored 1.00, 0.00, 1.00*"])
    batches = _batches(tmp_path)
    # Each repeat is its own batched pass: greedy first, then sampled with its own sample index.
    assert [(b["batch"], b["temperatures"], b["samples"]) for b in batches] == [
        (4, [0.0], [0]), (4, [0.0], [0]), (4, [0.9], [1]), (4, [0.9], [1]), (4, [0.9], [2]), (4, [0.9], [2])]
    cases = {c["id"]: c for c in judged.report()["cases"]}
    wobble = cases["c"]
    assert wobble["outcome"] == "error" and "JudgeUnstable" in wobble["error"]
    (judgement,) = wobble["judge"]["judgements"]
    assert judgement["scores"] == [1.0, 0.0, 1.0] and judgement["unstable"] is True
    assert judgement["self_agreement"] == pytest.approx(2 / 3) and judgement["spread"] == pytest.approx(0.57735, abs=1e-5)
    steady = cases["a"]["judge"]["judgements"][0]
    assert steady["scores"] == [1.0, 1.0, 1.0] and not steady["unstable"] and steady["self_agreement"] == 1.0
    suite = judged.report()["suites"]["judged"]["metrics"]["judge"]
    assert suite["judgements"] == 4 and suite["unstable"] == 1 and suite["errors"] == 1
    assert suite["error_rate"]["value"] == pytest.approx(0.25) and suite["self_agreement"] == pytest.approx(11 / 12)


def test_unusable_judge_answers_are_errors_and_the_terminal_shows_the_judge_error_rate(
        judged: LlmProject, tmp_path: Path) -> None:
    judged.suite("judged", SUITE.replace('"Say wobble"', '"JUDGE_BREAKS"'))
    result = judged.run("--llm-model=echo:m")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*judged*judge errors 1/4 (25%)*"])
    (broken,) = [c for c in judged.report()["cases"] if c["id"] == "c"]
    assert broken["outcome"] == "error" and "JudgeFailed" in broken["error"]
    assert broken["judge"]["error"].startswith("JudgeFailed")
    # A gate on the judge's error rate blocks the run; the same gate allows a judge that never failed.
    judged.write("llmops.yaml", 'environments:\n  dev:\n    checks:\n'
                                '      - "judged: judge.error_rate.value <= 0"\n')
    gate = subprocess.run([sys.executable, "-m", "pytest_llmops.cli", "gate", "reports/llmops-report.json",
                           "--env", "dev"], cwd=judged.path, capture_output=True, text=True, timeout=120)
    assert gate.returncode == 1 and "BLOCK" in gate.stdout, gate.stdout + gate.stderr
    judged.suite("judged", SUITE)
    judged.run("--llm-model=echo:m").assert_outcomes(passed=4)
    gate = subprocess.run([sys.executable, "-m", "pytest_llmops.cli", "gate", "reports/llmops-report.json",
                           "--env", "dev"], cwd=judged.path, capture_output=True, text=True, timeout=120)
    assert gate.returncode == 0 and "ALLOW" in gate.stdout, gate.stdout + gate.stderr


@pytest.mark.parametrize(("extra", "message"), [
    ("judge_repeats: 0\n", "field 'judge_repeats': expected a whole number of at least 1, got 0"),
    ("judge_temperature: 0\n", "field 'judge_temperature': expected a number above 0 and at most 2, got 0"),
])
def test_bad_judge_settings_name_the_field(judged: LlmProject, extra: str, message: str) -> None:
    judged.suite("judged", SUITE + extra)
    result = judged.run("--llm-model=echo:m")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])
