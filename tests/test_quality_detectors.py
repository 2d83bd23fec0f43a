"""Reference-free quality detectors (checks/quality.py), their YAML checks, and the false-positive benchmark."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from llmops_testutils import LlmProject
from pytest_llmops.checks import quality
from pytest_llmops.checks.quality import find_foreign_language, find_hedge, find_repetition, is_empty
from pytest_llmops.checks.quality_checks import QUALITY_CHECKS
from pytest_llmops.suites.builtins import default_registry

ROOT = Path(__file__).resolve().parents[1]

LONG_ENGLISH = (
    "The French Revolution began in 1789 and transformed France's political landscape. It abolished the "
    "absolute monarchy, proclaimed the rights of man, and led to the rise of Napoleon Bonaparte, who crowned "
    "himself emperor in 1804. Historians still debate its causes, which include a fiscal crisis, Enlightenment "
    "ideas and food shortages; the Revolution may be the most studied event of modern Europe.")
CODE = '''Here is a function:

```python
def fib(n: int) -> int:
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

grid = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
print(fib(10))
print(fib(10))
print(fib(10))
```'''
BARE_CODE = "x = x + x + x\nfor i in range(3):\n    total = total + i\nreturn total"
# Short and unremarkable answers: no detector may fire on them.
NEUTRAL = ["May 8, 1945", "Paris", "42", "Jean-Luc Picard", "Yes.", "The answer is 4.", LONG_ENGLISH, CODE, BARE_CODE,
           '{"name": "Alice", "age": 30}', "1. Banana\n2. Apple\n3. Grapefruit", "| a | b |\n| --- | --- |\n| 1 | 2 |"]


@pytest.mark.parametrize("text", NEUTRAL)
def test_no_detector_fires_on_neutral_answers(text: str) -> None:
    assert (find_hedge(text), find_repetition(text), find_foreign_language(text), is_empty(text)) == (
        None, None, None, False)


# -- hedging -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, phrase", [
    ("I think it is Paris.", "I think"),
    ("Paris, I believe.", "I believe"),
    ("It is maybe Lyon.", "maybe"),
    ("Perhaps it rains.", "Perhaps"),
    ("I'm not sure, but it's Rome.", "I'm not sure"),
    ("I\u2019m not sure.", "I\u2019m not sure"),  # a typographic apostrophe, reported as written
    ("i am NOT SURE", "i am NOT SURE"),
    ("It might be Madrid.", "It might be"),
    ("It is possibly 42.", "possibly"),
    ("It is probably 42.", "probably"),
    ("It is hard to say which one.", "It is hard to say"),
    ("It\u2019s hard to tell.", "It\u2019s hard to tell"),
    ("As far as I know, it is Oslo.", "As far as I know"),
    ("I could be wrong, but it is 8.", "I could be wrong"),
    ("I am not entirely certain.", "not entirely certain"),
    ("To the best of my knowledge it is Bern.", "To the best of my knowledge"),
    ("It's also possible that it was painted by another artist.", "It's also possible that"),
    ("Lisbon, if I'm not mistaken.", "if I'm not mistaken"),
    ("Paris. But maybe Lyon.", "maybe"),  # the first phrase in the text
    ("As far as\nI  know, Oslo.", "As far as\nI  know"),  # any whitespace between the words
])
def test_find_hedge(text: str, phrase: str) -> None:
    assert find_hedge(text) == phrase


@pytest.mark.parametrize("text", [
    "The treaty was signed in May 1945.",  # bare "may" is a month or a permission
    "Questions you may have are welcome.",
    "You might want to restart the router.",  # advice, not doubt
    "It could be used for cooking.",
    "The boiling point is approximately 100 degrees and typically reached in minutes.",
    "I'm not able to help with that.",  # a refusal, not a hedge
    "Maybelline and Perhapsburg are names.",  # word boundaries
    "I thinking-cap on.",
])
def test_find_hedge_ignores_confident_text(text: str) -> None:
    assert find_hedge(text) is None


# -- repetition ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, evidence", [
    ("The the the answer.", "'The' ×3 in a row"),
    ("It is very very very very good.", "'very' ×4 in a row"),
    ("Paris. Paris. Paris.", "'Paris.' ×3 in a row"),
    ("I love pizza. " * 6, "'I love pizza.' ×6 in a row"),
    ("The capital of France is Paris. It is big. The capital of France is Paris!",
     "'The capital of France is Paris.' (sentence or line ×2)"),
    ("1. Apple\n2. Apple\n3. Apple", "'Apple' (sentence or line ×3)"),
    ("the cat sat on the mat and the dog sat on the mat and the cat sat on the rug and the dog sat on the "
     "rug and the cat sat on the mat and the dog sat on the rug", "13/39 distinct word trigrams (33%)"),
])
def test_find_repetition(text: str, evidence: str) -> None:
    found = find_repetition(text)
    assert found is not None and evidence in found


@pytest.mark.parametrize("text", [
    "He had had enough.",  # two copies are English
    "Yes.\nNo.\nYes.",
    "- TBD\n- TBD",  # a short line twice
    "Row, row, row your boat.",  # the commas break the run
    "[0, 0, 0, 0, 0]",  # repeated numbers are data
    "|---|---|---|",
])
def test_find_repetition_leaves_normal_answers(text: str) -> None:
    assert find_repetition(text) is None


def test_find_repetition_reads_code_outside_fences_only_for_loops() -> None:
    looping = "```\n" + "print('hello world')\n" * 20 + "```"
    found = find_repetition(looping)
    assert found is not None and "distinct word trigrams" in found  # the loop test still reads fenced code


# -- language ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, evidence", [
    ("Le chat est sur la table.", "french stopwords: le, est, sur, la"),
    ("El gato está en la mesa y duerme.", "spanish stopwords: el, está, en, la"),
    ("Der Hund ist sehr groß und schläft.", "german stopwords: der, ist, sehr, und"),
    ("Il gatto è sulla tavola e dorme.", "italian stopwords: il, è, sulla"),
    ("O gato está na mesa e não dorme.", "portuguese stopwords: está, na, não"),
    ("C\u2019est la capitale de la France, et elle est très belle.", "french stopwords: est, la, de"),
    ("巴黎是法国的首都。", "non-Latin letters: 8 of 8 (cjk)"),
    ("Москва — столица России.", "non-Latin letters: 19 of 19 (cyrillic)"),
])
def test_find_foreign_language(text: str, evidence: str) -> None:
    found = find_foreign_language(text)
    assert found is not None and evidence in found


@pytest.mark.parametrize("text", [
    "Bonjour", "Москва", "Je ne sais pas.", "La Casa de Papel", "Paris (巴黎)",  # too little evidence
    "Charles de Gaulle and Simone de Beauvoir were French.",
    "Leonardo da Vinci painted the Mona Lisa.",
    "In French, 'le chat est sur la table' means the cat is on the table.",  # English dominates
    "Solve for y: x + y = 5, y = 3x, so y = 1.25 and e = 2.718.",  # single-letter variables
    "The angles α + β + γ add up to 180 degrees.",
])
def test_find_foreign_language_needs_evidence(text: str) -> None:
    assert find_foreign_language(text) is None


def test_foreign_lists_hold_no_english_function_word() -> None:
    """A word in both would let an English answer count as foreign (or hide a foreign one)."""
    assert {lang: sorted(words & quality._ENGLISH) for lang, words in quality._FOREIGN.items()
            if words & quality._ENGLISH} == {}


# -- emptiness -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, empty", [
    ("", True), ("   \n\t", True), ("...", True), ("```\n```", True), ("\u200b", True), ("* * *", True),
    ("0", False), ("a", False), ("Paris", False), ("…?!", True), ("😀", False),
])
def test_is_empty(text: str, empty: bool) -> None:
    assert is_empty(text) is empty


# -- checks --------------------------------------------------------------------------------------

CHECKS = {check.name: check for check in QUALITY_CHECKS}


def test_quality_checks_are_registered() -> None:
    registered = default_registry().checks
    assert {name: registered.get(name) for name in CHECKS} == CHECKS


@pytest.mark.parametrize("name, bad", [("no-hedging", False), ("english", "yes"), ("not-empty", 1),
                                       ("no-repetition", {"n": 3})])
def test_quality_checks_accept_only_true(name: str, bad: Any) -> None:
    assert CHECKS[name].validate(None) is True and CHECKS[name].validate(True) is True
    with pytest.raises(ValueError, match=f"'{name}' expects true"):
        CHECKS[name].validate(bad)


@pytest.mark.parametrize("name, output, passes, evidence", [
    ("no-hedging", "It is Paris.", True, "no hedging phrase"),
    ("no-hedging", "Well, I think it is Paris.", False,
     "hedging phrase: 'I think' at 6: …Well, I think it is Paris.…"),
    ("no-repetition", "It is Paris.", True, "no degenerate repetition"),
    ("no-repetition", "Paris Paris Paris", False, "repetition: 'Paris' ×3 in a row"),
    ("english", "It is Paris.", True, "no sign of another language"),
    ("english", "C'est Paris, la capitale de la France.", False, "not English: french stopwords: est, la, de"),
    ("not-empty", "Paris", True, "not empty"),
    ("not-empty", " ... ", False, "empty output: ' ... '"),
])
def test_quality_check_evidence(name: str, output: str, passes: bool, evidence: str) -> None:
    check = CHECKS[name]
    result = check.evaluate(output, check.validate(True), {})
    assert (result.name, result.passed, result.score) == (name, passes, float(passes))
    assert result.evidence.startswith(evidence)


# The echo provider answers "echo: <input>".
SUITE = """
suite: quality
defaults:
  checks:
    - not-empty: true
    - english
cases:
  - id: clean
    input: The capital of France is Paris.
    checks: [no-hedging: true, no-repetition: true]
  - id: hedged
    input: I think the capital is Paris.
    checks: [no-hedging: true]
  - id: looping
    input: Paris Paris Paris Paris
    checks: [no-repetition: true]
  - id: french
    input: La capitale de la France est Paris.
"""


def test_quality_checks_end_to_end(project: LlmProject) -> None:
    project.suite("quality", SUITE)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    assert "no-hedging: hedging phrase: 'I think' at 6" in out
    assert "no-repetition: repetition: 'Paris' ×4 in a row" in out
    assert "english: not English: french stopwords: la, de, est" in out
    cases = project.cases()
    assert [(c["name"], c["passed"]) for c in cases["clean[a]"]["checks"]] == [
        ("not-empty", True), ("english", True), ("no-hedging", True), ("no-repetition", True)]
    assert cases["french[a]"]["outcome"] == "failed"


def test_a_quality_check_with_a_bad_argument_is_a_collection_error(project: LlmProject) -> None:
    project.suite("bad", "cases:\n  - id: x\n    input: hi\n    checks: [no-hedging: false]\n")
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    assert "'no-hedging' expects true, got False" in result.stdout.str()


# -- the false-positive benchmark ----------------------------------------------------------------

@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module (benchmarks/ is no package); in sys.modules while it runs, for its dataclasses."""
    path = ROOT / "benchmarks" / "detector_false_positives.py"
    spec = importlib.util.spec_from_file_location("detector_false_positives", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def _case(model: str, kind: str, case_id: str, output: str | None) -> dict[str, Any]:
    return {"suite": f"{kind}/s", "model": model, "kind": kind, "id": case_id, "outcome": "passed", "output": output}


SYNTHETIC = {
    "run": {"models": [{"alias": "clean", "spec": "smollm2"},
                       {"alias": "worse", "spec": "degrade:smollm2?rate=0.3", "provider": "degrade"}]},
    "cases": [
        _case("clean", "functional", "ok", "The capital of France is Paris."),
        _case("clean", "functional", "hedge", "I think it is Paris."),
        _case("clean", "functional", "loop", "Paris Paris Paris Paris"),
        _case("clean", "regression", "fr", "La capitale de la France est Paris."),
        _case("clean", "regression", "blank", "  "),
        _case("clean", "adversarial", "refused", "I'm sorry, but I cannot help with that."),
        _case("clean", "adversarial", "infra", None),  # an infra error has no output: not scanned
        _case("worse", "functional", "junk", "zzz zzz zzz maybe"),
    ],
}


def test_benchmark_counts_the_clean_models_outputs(bench: ModuleType, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "llmops-report.json"
    report.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    assert bench.main([str(report), "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 outputs of clean from 1 report(s)")
    rows = {line.split()[0]: line.split()[1:4] for line in out.splitlines()[2:8]}
    assert rows == {"detector": ["scanned", "flagged", "rate"], "hedge": ["6", "1", "16.7%"],
                    "repetition": ["6", "1", "16.7%"], "foreign_language": ["6", "1", "16.7%"],
                    "empty": ["6", "1", "16.7%"], "refusal": ["6", "1", "16.7%"]}
    by_kind = next(line for line in out.splitlines() if line.startswith("foreign_language") and "/" in line)
    assert by_kind.split()[1:] == ["0/1", "0/3", "1/2"]  # adversarial, functional, regression
    assert "functional/s::hedge[clean]: I think" in out
    assert "worse" not in out


def test_benchmark_model_option_and_errors(bench: ModuleType, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    assert bench.main([str(report), "--model", "worse"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 outputs of worse") and "functional/s::junk[worse]: maybe" in out
    assert bench.main([str(report), "--model", "nobody"]) == 1
    assert bench.main([str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
