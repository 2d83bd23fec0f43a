"""The DeepEval bridge with a scripted judge: DeepEval's real metric code, deterministic answers.

The judge is a plain ``prompt -> text`` callable that answers DeepEval's prompts the way a
careful judge would (it recognises each step by the JSON key the prompt asks for), so the
scores below are computed by DeepEval itself from known verdicts.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.integrations.deepeval import batch, bridge
from pytest_llmops.providers.base import InfraError

needs_deepeval = pytest.mark.skipif(
    importlib.util.find_spec("deepeval") is None,  # find_spec: importing it here would start its telemetry
    reason='deepeval is not installed (optional extra: pip install "pytest-llmops[deepeval]")')

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is the capital of France?"
CONTEXT = ["Paris is the capital and largest city of France."]


class ScriptedJudge:
    """Answers each DeepEval step with the JSON it asks for; verdicts by a keyword rule.

    A statement (or claim, or context node) is relevant/supported when it mentions
    ``keyword``; ``verdict`` forces every verdict instead; ``score`` is GEval's 0-10 score.
    """

    def __init__(self, keyword: str = "paris", verdict: str | None = None, score: float = 9) -> None:
        self.keyword = keyword
        self.verdict = verdict
        self.score = score
        self.prompts: list[str] = []

    def _verdict(self, item: str) -> str:
        if self.verdict:
            return self.verdict
        return "yes" if self.keyword in item.lower() else "no"

    @staticmethod
    def _section(prompt: str, title: str) -> str:
        """The text between ``title:`` and the next blank line (DeepEval's prompt layout)."""
        match = re.search(rf"{title}:\s*\n(.*?)\n\s*\n", prompt, re.DOTALL)
        assert match, f"no {title!r} section in the prompt:\n{prompt}"
        return match.group(1).strip()

    def _answer(self, prompt: str) -> dict[str, Any]:
        if "'reason' key providing the reason" in prompt:
            return {"reason": "scripted reason"}
        if '"statements" key' in prompt:
            text = self._section(prompt, "Text")
            return {"statements": [s.strip() + "." for s in text.split(".") if s.strip()]}
        if '"truths" key' in prompt:
            return {"truths": ["Paris is the capital of France."]}
        if '"claims" key' in prompt:
            text = self._section(prompt, "Text") if "Text:" in prompt else ""
            return {"claims": [s.strip() + "." for s in text.split(".") if s.strip()]}
        if '"steps" key' in prompt:
            return {"steps": ["Check that the answer names the capital of France."]}
        if "list of 'verdicts'" in prompt:  # ContextualRelevancy: one verdict per context statement
            return {"verdicts": [{"statement": c, "verdict": self._verdict(c), "reason": "scripted"}
                                 for c in CONTEXT]}
        if "'verdicts' key" in prompt:
            if "Statements:" in prompt:
                items = ast.literal_eval(self._section(prompt, "Statements"))
            elif "Claims:" in prompt:
                items = ast.literal_eval(self._section(prompt, "Claims"))
            else:  # contextual precision / recall: one verdict per node or sentence
                items = CONTEXT
            return {"verdicts": [{"verdict": self._verdict(i), "reason": "scripted"} for i in items]}
        if '"score"' in prompt or "'score'" in prompt:
            return {"score": self.score, "reason": "scripted reason"}
        raise AssertionError(f"scripted judge does not know this prompt:\n{prompt}")

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return "Here is the JSON:\n```json\n" + json.dumps(self._answer(prompt)) + "\n```"


def score(name: str, judge: Callable[[str], str], options: dict[str, Any] | None = None,
          actual_output: str = "Paris is the capital of France.", **fields: Any) -> tuple[float, str]:
    return batch.score_with_deepeval(
        name, options or {}, input=QUESTION, actual_output=actual_output,
        expected_output=fields.get("expected_output"), retrieval_context=fields.get("retrieval_context"),
        judge=judge, judge_name="scripted")


# -- names and options: no DeepEval needed ---------------------------------------------

def test_known_metrics_lists_the_tested_ones() -> None:
    assert {"AnswerRelevancyMetric", "FaithfulnessMetric", "ContextualRelevancyMetric",
            "ContextualPrecisionMetric", "ContextualRecallMetric", "GEval"} <= set(bridge.known_metrics())


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown DeepEval metric 'AnswerRelevance'; known metrics: "
                                         "AnswerRelevancyMetric, ContextualPrecisionMetric"):
        bridge.validate_metric("AnswerRelevance", {})


@pytest.mark.parametrize(("name", "options", "message"), [
    ("AnswerRelevancyMetric", {"treshold": 0.5}, (r"unknown option\(s\) \['treshold'\]; accepted: "
                                                  r"\['include_reason', 'strict_mode', 'threshold'\]")),
    ("AnswerRelevancyMetric", {"threshold": 1.5}, "'threshold' must be a number between 0 and 1"),
    ("AnswerRelevancyMetric", {"model": "gpt-4o"}, r"unknown option\(s\) \['model'\]"),
    ("FaithfulnessMetric", {"truths_extraction_limit": 0}, "must be a whole number >= 1"),
    ("GEval", {}, "GEval needs 'criteria' or 'evaluation_steps'"),
    ("GEval", {"criteria": "x", "evaluation_params": ["context"]}, "'evaluation_params' must be a non-empty list"),
])
def test_bad_options_are_value_errors(name: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bridge.validate_metric(name, options)


def test_validate_returns_what_the_metric_is_built_with() -> None:
    assert bridge.validate_metric("AnswerRelevancyMetric", {"threshold": 1}) == {"threshold": 1.0}
    assert bridge.validate_metric("GEval", {"criteria": "Is it correct?"}) == {
        "criteria": "Is it correct?", "name": "GEval", "evaluation_params": ["input", "actual_output"]}
    assert bridge.metric_needs("ContextualRecallMetric") == ("expected_output", "retrieval_context")


def test_names_and_options_do_not_import_deepeval() -> None:
    code = ("import sys\n"
            "import pytest_llmops.integrations.deepeval.bridge as b\n"
            "b.known_metrics(); b.validate_metric('GEval', {'criteria': 'c'})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'deepeval'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_without_deepeval_the_error_says_how_to_install(tmp_path: Path) -> None:
    code = ("import sys\n"
            "sys.modules['deepeval'] = None  # as if not installed\n"
            "from pytest_llmops.integrations.deepeval.batch import score_with_deepeval\n"
            "from pytest_llmops.integrations.deepeval.bridge import DeepEvalUnavailable\n"
            "try:\n"
            "    score_with_deepeval('AnswerRelevancyMetric', {}, input='q', actual_output='a',\n"
            "                        expected_output=None, retrieval_context=None, judge=str, judge_name='j')\n"
            "except DeepEvalUnavailable as exc:\n"
            "    print(exc)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=tmp_path, env=env)
    assert 'pip install "pytest-llmops[deepeval]"' in out.stdout


# -- real DeepEval metrics, scripted judge ---------------------------------------------

@needs_deepeval
def test_relevant_answer_scores_high() -> None:
    judge = ScriptedJudge()
    value, reason = score("AnswerRelevancyMetric", judge)
    assert value == 1.0 and reason == "scripted reason"
    assert len(judge.prompts) == 3  # statements, verdicts, reason


@needs_deepeval
def test_irrelevant_answer_scores_low() -> None:
    value, _ = score("AnswerRelevancyMetric", ScriptedJudge(),
                     actual_output="Bananas are yellow. Turtles are slow.")
    assert value == 0.0


@needs_deepeval
def test_partly_relevant_answer_scores_the_relevant_share() -> None:
    value, _ = score("AnswerRelevancyMetric", ScriptedJudge(),
                     actual_output="Paris is the capital of France. Bananas are yellow.")
    assert value == pytest.approx(0.5)


@needs_deepeval
def test_include_reason_off_gives_an_empty_reason() -> None:
    judge = ScriptedJudge()
    assert score("AnswerRelevancyMetric", judge, {"include_reason": False}) == (1.0, "")
    assert len(judge.prompts) == 2


RAG_FIELDS = {"expected_output": "Paris.", "retrieval_context": CONTEXT}


@needs_deepeval
@pytest.mark.parametrize(("name", "options"), [
    ("FaithfulnessMetric", {}),
    ("ContextualRelevancyMetric", {}),
    ("ContextualPrecisionMetric", {}),
    ("ContextualRecallMetric", {}),
    ("GEval", {"criteria": "Does the answer name the capital of France?"}),
    ("GEval", {"evaluation_steps": ["Check the capital."], "evaluation_params": ["input", "actual_output",
                                                                               "expected_output"]}),
])
def test_each_metric_follows_its_verdicts(name: str, options: dict[str, Any]) -> None:
    good, reason = score(name, ScriptedJudge(verdict="yes", score=10), options, **RAG_FIELDS)
    bad, _ = score(name, ScriptedJudge(verdict="no", score=0), options, **RAG_FIELDS)
    assert (good, bad) == (1.0, 0.0)
    assert reason == "scripted reason"


@needs_deepeval
def test_geval_score_is_scaled_to_one() -> None:
    value, _ = score("GEval", ScriptedJudge(score=7), {"criteria": "Is it right?"})
    assert value == pytest.approx(0.7)


@needs_deepeval
def test_summarization_runs() -> None:
    judge = ScriptedJudge(verdict="yes")
    judge_answers = judge._answer

    def answer(prompt: str) -> dict[str, Any]:  # the coverage steps of SummarizationMetric
        if "'questions' key" in prompt:
            return {"questions": ["Is Paris the capital of France?"]}
        if "'answers' key" in prompt:
            return {"answers": ["yes"]}
        return judge_answers(prompt)

    judge._answer = answer  # type: ignore[method-assign]
    value, reason = score("SummarizationMetric", judge, {"n": 1})
    assert 0.0 <= value <= 1.0 and reason == "scripted reason"


@needs_deepeval
def test_missing_case_field_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="FaithfulnessMetric needs retrieval_context in the case"):
        score("FaithfulnessMetric", ScriptedJudge())
    with pytest.raises(ValueError, match="GEval needs expected_output"):
        score("GEval", ScriptedJudge(), {"criteria": "c", "evaluation_params": ["input", "expected_output"]})


# -- judge answers that cannot be used -------------------------------------------------

@needs_deepeval
@pytest.mark.parametrize(("answer", "why"), [
    ("Paris is the capital of France, so the statement is relevant.", "no complete JSON object"),
    ('{"statements": ["Paris is the capital', "no complete JSON object"),  # cut short by max_new_tokens
    ('{"answer": {"statements": ["Paris is the capital of France."]}', "no complete JSON object"),  # inner part
    ('{"statement": "Paris is the capital of France."}', "first at statements: Field required"),
    ('{"statements": "Paris"}', "first at statements: Input should be a valid list"),
])
def test_unusable_answer_is_judge_failed(answer: str, why: str) -> None:
    with pytest.raises(bridge.JudgeFailed, match=why) as info:
        score("AnswerRelevancyMetric", lambda prompt: answer)
    assert "Statements step" in str(info.value)
    assert answer[:20] in str(info.value)  # the judge's raw answer, for the report


@needs_deepeval
def test_bad_verdict_word_is_judge_failed() -> None:
    judge = ScriptedJudge(verdict="maybe")
    with pytest.raises(bridge.JudgeFailed, match="Verdicts step") as info:
        score("AnswerRelevancyMetric", judge)
    assert '"verdict": "maybe"' in str(info.value)


@needs_deepeval
def test_geval_score_out_of_range_is_judge_failed() -> None:
    with pytest.raises(bridge.JudgeFailed, match=r"scored 1\.5 .* outside \[0, 1\]"):
        score("GEval", ScriptedJudge(score=15), {"criteria": "Is it right?"})


@needs_deepeval
def test_judge_infra_error_is_not_judge_failed() -> None:
    def down(prompt: str) -> str:
        raise InfraError("endpoint down")

    with pytest.raises(InfraError, match="endpoint down"):
        score("AnswerRelevancyMetric", down)


@needs_deepeval
def test_judge_type_error_is_not_retried_without_schema() -> None:
    calls: list[str] = []

    def broken(prompt: str) -> str:
        calls.append(prompt)
        raise TypeError("bug in the judge")

    with pytest.raises(TypeError, match="bug in the judge"):
        score("AnswerRelevancyMetric", broken)
    assert len(calls) == 1


# -- no files, no network, no telemetry ------------------------------------------------

def _guard_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail (and record) any connection or name lookup that is not loopback."""
    attempts: list[Any] = []
    loopback = ("127.0.0.1", "::1", "localhost")

    def is_loopback(address: Any) -> bool:
        return not isinstance(address, tuple) or str(address[0]) in loopback  # AF_UNIX paths are local

    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if not is_loopback(address):
            attempts.append(address)
            raise OSError(f"test forbids non-loopback connection to {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in loopback and host is not None:
            attempts.append(host)
            raise socket.gaierror(f"test forbids looking up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@needs_deepeval
def test_no_files_no_network_telemetry_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    attempts = _guard_network(monkeypatch)
    for name in bridge._DEEPEVAL_ENV:  # the bridge must set them itself
        monkeypatch.delenv(name, raising=False)
    assert score("AnswerRelevancyMetric", ScriptedJudge())[0] == 1.0
    assert score("FaithfulnessMetric", ScriptedJudge(verdict="yes"), **RAG_FIELDS)[0] == 1.0
    assert score("GEval", ScriptedJudge(), {"criteria": "c"})[0] == pytest.approx(0.9)
    assert sorted(os.listdir(tmp_path)) == []
    assert attempts == []
    assert os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] == "1"
    assert os.environ["DEEPEVAL_DISABLE_DOTENV"] == "1"
    assert os.environ["CONFIDENT_TRACING_ENABLED"] == "NO"
    from deepeval.telemetry import telemetry_opt_out

    assert telemetry_opt_out()


# Installed first in the fresh interpreters below: non-loopback connections and lookups fail
# and are reported on stderr at once, so that attempts made at exit (a telemetry client's
# final upload runs in an atexit hook) are seen too.
NETWORK_GUARD = textwrap.dedent("""
    import json, socket, sys
    def forbid(what):
        sys.stderr.write(f"FORBIDDEN-NETWORK {what!r}\\n")
        sys.stderr.flush()
    real_connect = socket.socket.connect
    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            forbid(address)
            raise OSError("forbidden")
        return real_connect(self, address)
    socket.socket.connect = connect
    real_getaddrinfo = socket.getaddrinfo
    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "::1", "localhost", None):
            forbid(host)
            raise socket.gaierror("forbidden")
        return real_getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo
""")

FRESH_PROCESS = NETWORK_GUARD + textwrap.dedent("""
    sys.path.insert(0, sys.argv[1])
    from test_deepeval_bridge import ScriptedJudge
    from pytest_llmops.integrations.deepeval.batch import score_with_deepeval
    result = score_with_deepeval("AnswerRelevancyMetric", {}, input="What is the capital of France?",
                                 actual_output="Paris is the capital of France.", expected_output=None,
                                 retrieval_context=None, judge=ScriptedJudge(), judge_name="scripted")
    print(json.dumps({"score": result[0]}))
""")


@needs_deepeval
def test_fresh_process_leaves_no_files_in_cwd_or_home(tmp_path: Path) -> None:
    """Import-time and exit-time behaviour too: a fresh interpreter, nothing set beforehand."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    (cwd / "script.py").write_text(FRESH_PROCESS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPEVAL_", "CONFIDENT_"))}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "script.py", str(Path(__file__).parent)], capture_output=True,
                         text=True, timeout=300, cwd=cwd, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"score": 1.0}
    assert "FORBIDDEN-NETWORK" not in out.stderr
    (cwd / "script.py").unlink()
    leftovers = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert leftovers == ["cwd", "home"]


@needs_deepeval
def test_deepeval_imported_too_early_is_warned_about(tmp_path: Path) -> None:
    """What DeepEval's own pytest plugin does: import deepeval before the bridge can opt out."""
    code = NETWORK_GUARD + textwrap.dedent("""
        import warnings
        import deepeval  # telemetry still on: this import makes .deepeval/ in the cwd
        sys.path.insert(0, sys.argv[1])
        from test_deepeval_bridge import ScriptedJudge
        from pytest_llmops.integrations.deepeval.batch import score_with_deepeval
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            score_with_deepeval("AnswerRelevancyMetric", {}, input="What is the capital of France?",
                                actual_output="Paris.", expected_output=None, retrieval_context=None,
                                judge=ScriptedJudge(), judge_name="scripted")
        print([str(w.message) for w in caught])
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPEVAL_", "CONFIDENT_"))}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert "run pytest with '-p no:deepeval' or set DEEPEVAL_TELEMETRY_OPT_OUT=1" in out.stdout
    assert "FORBIDDEN-NETWORK" not in out.stderr  # opted out in time for the exit-time upload
    assert (tmp_path / ".deepeval").is_dir()  # why: the documented reason for '-p no:deepeval'


@needs_deepeval
def test_json_is_found_in_prose_fences_and_repeats() -> None:
    from deepeval.metrics.answer_relevancy.schema import Statements

    wanted = Statements(statements=["Paris."])
    for text in ('Sure! {"statements": ["Paris."]} Hope this helps.',
                 '```json\n{\n  "statements": ["Paris."]\n}\n```',
                 '{"statements": ["Par\n\nJSON:\n{"statements": ["Paris."]}'):  # cut, then repeated whole
        assert bridge.parse_judge_answer(text, Statements, "j") == wanted


@needs_deepeval
def test_a_raw_newline_inside_a_string_is_accepted() -> None:
    # llama-cpp-python's schema grammar lets a constrained judge write one; json.loads(strict=False) reads it.
    from deepeval.metrics.answer_relevancy.schema import Statements

    assert bridge.parse_judge_answer('{"statements": ["Paris\nis big."]}', Statements, "j") == Statements(
        statements=["Paris\nis big."])
