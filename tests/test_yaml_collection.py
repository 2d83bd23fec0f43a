"""YAML suite files: collection, validation errors, and every built-in check end-to-end via echo."""

from __future__ import annotations

import hashlib
import re

import pytest

from llmops_testutils import LlmProject

GOOD = """
suite: good
cases:
  - id: g1
    input: hello Paris
    checks:
      - contains: Paris
  - id: g2
    input: bonjour Lyon
    checks:
      - icontains: LYON
  - id: g3
    input: hallo Berlin
    checks:
      - not-contains: Paris
"""

# Bad files: (file text, line the error names, case id or None, field the error names, extra text).
BAD_FILES = {
    "yaml-syntax": ("""
cases:
  - id: a
    input: hi
   checks: [contains: x]
""", 4, None, None, "not valid YAML"),
    "unknown-check": ("""
cases:
  - id: fine
    input: hi
    checks:
      - contains: hi
  - id: broken
    input: hi
    checks:
      - contains: hi
      - containz: hi
""", 6, "broken", "checks[1].containz", "unknown check; known checks: contains"),
    "bad-regex": ("""
cases:
  - id: rx
    input: hi
    checks:
      - regex: "([a-z"
""", 2, "rx", "checks[0].regex", "invalid regular expression"),
    "bad-schema": ("""
cases:
  - id: js
    input: hi
    checks:
      - is-json:
          schema: {type: 12}
""", 2, "js", "checks[0].is-json", "invalid JSON schema"),
    "missing-input": ("""
cases:
  - id: first
    input: hi
    checks: [contains: hi]
  - id: noinput
    checks: [contains: hi]
""", 5, "noinput", "input", "expected a non-empty string"),
    "duplicate-id": ("""
cases:
  - id: same
    input: hi
    checks: [contains: hi]
  - id: same
    input: ho
    checks: [contains: ho]
""", 5, "same", "cases[1].id", "duplicate id (first used at line 2)"),
    "unknown-top-key": ("""
suite: x
casez: []
cases:
  - id: a
    input: hi
    checks: [contains: hi]
""", 1, None, "casez", "unknown key"),
    "bad-generation-key": ("""
generation:
  max_tokens: 5
cases:
  - id: a
    input: hi
    checks: [contains: hi]
""", 1, None, "generation.max_tokens", "unknown parameter"),
    "bad-case-generation-key": ("""
cases:
  - id: ok
    input: hi
    checks: [contains: hi]
  - id: cg
    input: hi
    generation: {temprature: 0.5}
    checks: [contains: hi]
""", 5, "cg", "generation.temprature", "unknown parameter"),
    "bad-generation-value": ("""
generation:
  max_new_tokens: 0
cases:
  - id: a
    input: hi
    checks: [contains: hi]
""", 1, None, "generation.max_new_tokens", "at least 1"),
    "no-checks": ("""
cases:
  - id: bare
    input: hi
""", 2, "bare", "checks", "at least one check"),
    "unknown-case-key": ("""
cases:
  - id: k
    input: hi
    expect: hi
    checks: [contains: hi]
""", 2, "k", "expect", "unknown key"),
    "bad-check-arg": ("""
cases:
  - id: ml
    input: hi
    checks:
      - max-length: -3
""", 2, "ml", "checks[0].max-length", "non-negative integer"),
}


def test_valid_suite_collects_one_item_per_case_and_model(project: LlmProject) -> None:
    project.suite("good", GOOD)
    result = project.run("--llm-model=echo:a", "--llm-model=echo:b", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids == [f"good.eval.yaml::{case}[{alias}]" for alias in ("a", "b") for case in ("g1", "g2", "g3")]


def test_suite_files_in_subfolders_and_yml_suffix(project: LlmProject) -> None:
    project.write("evalsuites/nested/deep.eval.yml", GOOD.replace("suite: good\n", ""))
    project.write("evalsuites/not-a-suite.yaml", "this: is ignored\n")
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=3)
    # The default suite name is the path under evalsuites/ without the suffix.
    assert set(project.report()["suites"]) == {"nested/deep"}


def test_keyword_selection_by_kind_and_tag(project: LlmProject) -> None:
    project.suite("tagged", """
        kind: adversarial
        cases:
          - id: t1
            input: one
            tags: [smoke]
            checks: [contains: one]
          - id: t2
            input: two
            checks: [contains: two]
    """)
    result = project.run("--llm-model=echo:a", "-k", "smoke")
    result.assert_outcomes(passed=1, deselected=1)
    result = project.run("--llm-model=echo:a", "-k", "adversarial")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_file_is_an_error_and_other_files_still_run(project: LlmProject, name: str) -> None:
    text, line, case_id, field, why = BAD_FILES[name]
    project.suite("good", GOOD)
    bad = project.suite(name, text)
    result = project.run("--llm-model=echo:a")  # no --continue-on-collection-errors needed
    result.assert_outcomes(errors=1, passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert f"ERROR {name}.eval.yaml::<invalid suite file>" in out, out
    # file and line
    assert f"{bad}:{line}:" in out, out
    if case_id is not None:
        assert f"case '{case_id}'" in out
    if field is not None:
        assert f"field '{field}'" in out
    assert why in out


def test_every_bad_file_is_reported(project: LlmProject) -> None:
    project.suite("good", GOOD)
    project.suite("bad1", BAD_FILES["bad-regex"][0])
    project.suite("bad2", BAD_FILES["duplicate-id"][0])
    result = project.run("--llm-model=echo:a")
    assert result.ret != pytest.ExitCode.OK
    result.assert_outcomes(errors=2, passed=3)
    result.stdout.fnmatch_lines(["invalid suite file: *bad1.eval.yaml:2: case 'rx'*invalid regular expression*",
                                 "invalid suite file: *bad2.eval.yaml:5: case 'same'*duplicate id*",
                                 "ERROR bad1.eval.yaml::<invalid suite file>*",
                                 "ERROR bad2.eval.yaml::<invalid suite file>*"])


# -- checks end-to-end (the echo answer is "echo: <input>") -------------------------------------------
CHECKS_PASSING = r"""
suite: checks
cases:
  - id: equals
    input: exact text
    checks:
      - equals: "echo: exact text"
  - id: equals-list
    input: exact text
    checks:
      - equals: ["nope", "echo: exact text"]
  - id: contains
    input: Paris is in France
    checks:
      - contains: Paris
  - id: contains-list
    input: Paris is in France
    checks:
      - contains: [Paris, France]
  - id: icontains
    input: Paris is in France
    checks:
      - icontains: PARIS
  - id: icontains-list
    input: Paris is in France
    checks:
      - icontains: [paris, FRANCE]
  - id: contains-any
    input: Paris is in France
    checks:
      - contains-any: [London, Paris]
  - id: icontains-any
    input: Paris is in France
    checks:
      - icontains-any: [london, paris]
  - id: not-contains
    input: Paris is in France
    checks:
      - not-contains: London
  - id: not-icontains
    input: Paris is in France
    checks:
      - not-icontains: [london, berlin]
  - id: regex
    input: the code is 4711
    checks:
      - regex: '\d{4}'
  - id: regex-icase
    input: HELLO there
    checks:
      - regex: '(?i)hello'
  - id: is-json
    input: '{"name": "Ada", "age": 36}'
    checks:
      - is-json: true
  - id: is-json-schema
    input: '{"name": "Ada", "age": 36}'
    checks:
      - is-json:
          schema:
            type: object
            required: [name, age]
            properties:
              name: {type: string}
              age: {type: integer, minimum: 0}
  - id: max-length
    input: short
    checks:
      - max-length: 20
  - id: refusal-false
    input: The capital of France is Paris.
    checks:
      - refusal: false
  - id: refusal-true
    input: I'm sorry, but I cannot help with that.
    checks:
      - refusal: true
  - id: several
    input: Paris is in France
    checks:
      - contains: Paris
      - not-contains: Rome
      - max-length: 100
"""


def test_every_check_passes_end_to_end(project: LlmProject) -> None:
    project.suite("checks", CHECKS_PASSING)
    result = project.run("--llm-model=echo:a")
    n_cases = CHECKS_PASSING.count("  - id: ")
    result.assert_outcomes(passed=n_cases)
    cases = project.cases()
    assert len(cases) == n_cases
    several = cases["several[a]"]
    assert [c["name"] for c in several["checks"]] == ["contains", "not-contains", "max-length"]
    assert all(c["passed"] and c["score"] == 1.0 for c in several["checks"])
    assert "'Paris' at 6" in several["checks"][0]["evidence"]
    assert cases["is-json-schema[a]"]["output"] == 'echo: {"name": "Ada", "age": 36}'


CHECKS_FAILING = r"""
suite: failing
cases:
  - id: f-equals
    input: some text
    checks:
      - equals: "something else"
  - id: f-contains
    input: Paris is in France
    checks:
      - contains: [Paris, Berlin]
  - id: f-icontains
    input: Paris is in France
    checks:
      - icontains: MADRID
  - id: f-contains-any
    input: Paris is in France
    checks:
      - contains-any: [Rome, Oslo]
  - id: f-not-contains
    input: Paris and London
    checks:
      - not-contains: London
  - id: f-regex
    input: no digits here
    checks:
      - regex: '\d{3}'
  - id: f-json
    input: not json at all
    checks:
      - is-json: true
  - id: f-json-schema
    input: '{"name": 7}'
    checks:
      - is-json:
          schema:
            type: object
            properties:
              name: {type: string}
  - id: f-max-length
    input: this output is rather long
    checks:
      - max-length: 5
  - id: f-refusal
    input: I'm sorry, but I cannot help with that.
    checks:
      - refusal: false
"""

EVIDENCE = {
    "f-equals": "equals: output differs from ['something else']",
    "f-contains": "contains: missing ['Berlin']; found 'Paris' at 6",
    "f-icontains": "icontains: missing ['MADRID']",
    "f-contains-any": "contains-any: no match",
    "f-not-contains": "not-contains: 'London' at 16",
    "f-regex": r"regex: no match for /\d{3}/",
    "f-json": "is-json: not JSON",
    "f-json-schema": "is-json: schema violation at name: 7 is not of type 'string'",
    "f-max-length": "max-length: 32 characters (max 5)",
    "f-refusal": "refusal: refusal phrase",
}


def test_failing_checks_show_evidence(project: LlmProject) -> None:
    suite = project.suite("failing", CHECKS_FAILING)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(failed=len(EVIDENCE))
    out = result.stdout.str()
    for case_id, evidence in EVIDENCE.items():
        assert f"case '{case_id}' of failing ({suite.name}:" in out
        assert evidence in out, f"{case_id}: {evidence!r} not in output"
    assert "output: 'echo: this output is rather long'" in out
    cases = project.cases()
    assert cases["f-not-contains[a]"]["outcome"] == "failed"
    assert cases["f-contains[a]"]["checks"][0]["score"] == pytest.approx(0.5)
    assert re.search(r"refusal phrase \"I'm sorry[^\"]*\" at 6", cases["f-refusal[a]"]["checks"][0]["evidence"])


def test_defaults_checks_apply_to_every_case(project: LlmProject) -> None:
    project.suite("defaults", """
        defaults:
          checks:
            - not-contains: forbidden
        cases:
          - id: clean
            input: all good
          - id: dirty
            input: this is forbidden
          - id: extra
            input: fine again
            checks: [contains: fine]
    """)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=2, failed=1)
    cases = project.cases()
    assert cases["dirty[a]"]["outcome"] == "failed"
    assert [c["name"] for c in cases["extra[a]"]["checks"]] == ["not-contains", "contains"]


def test_system_prompt_and_generation_params_reach_the_request(project: LlmProject) -> None:
    project.suite("sys", """
        system: You are terse.
        generation:
          max_new_tokens: 2
        cases:
          - id: truncated
            input: a long input that the echo provider cuts at sixteen characters
            checks: [max-length: 16]
          - id: own-system
            system: Be verbose.
            generation: {max_new_tokens: 64}
            input: short
            checks: [equals: "echo: short"]
    """)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=2)
    cases = project.cases()
    assert cases["truncated[a]"]["input"][0] == {"role": "system", "content": "You are terse."}
    assert cases["own-system[a]"]["input"][0] == {"role": "system", "content": "Be verbose."}


def test_prompt_subject_renders_template_with_vars(project: LlmProject) -> None:
    template = project.write("prompts/greet.j2", "Say hello to {{ name }} in {{ lang }}.\n")
    project.suite("prompted", """
        subject: prompt
        prompt: prompts/greet.j2
        cases:
          - id: ada
            vars: {name: Ada, lang: French}
            checks:
              - equals: "echo: Say hello to Ada in French."
          - id: alan
            vars: {name: Alan, lang: German}
            checks:
              - contains: Alan in German
    """)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=2)
    version = hashlib.sha256(template.read_bytes()).hexdigest()[:12]
    cases = project.cases()
    for key in ("ada[a]", "alan[a]"):
        assert cases[key]["prompt_version"] == version
        assert cases[key]["subject"] == "prompt"
    assert cases["ada[a]"]["input"] == [{"role": "user", "content": "Say hello to Ada in French."}]


def test_prompt_subject_yaml_template_with_system_and_input(project: LlmProject) -> None:
    project.write("prompts/qa.yaml", """
        system: "Answer in {{ lang }}."
        user: "Question: {{ input }}"
    """)
    project.suite("qa", """
        subject: prompt
        prompt: prompts/qa.yaml
        cases:
          - id: q1
            input: what is two plus two
            vars: {lang: English}
            checks:
              - equals: "echo: Question: what is two plus two"
    """)
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=1)
    case = project.cases()["q1[a]"]
    assert case["input"][0] == {"role": "system", "content": "Answer in English."}
    assert len(case["prompt_version"]) == 12


def test_prompt_subject_missing_template_is_a_collection_error(project: LlmProject) -> None:
    project.suite("good", GOOD)
    bad = project.suite("noprompt", """
        subject: prompt
        prompt: prompts/missing.j2
        cases:
          - id: x
            vars: {a: 1}
            checks: [contains: x]
    """)
    result = project.run("--llm-model=echo:a", "--continue-on-collection-errors")
    result.assert_outcomes(errors=1, passed=3)
    assert f"{bad}:1: field 'prompt': template file" in result.stdout.str()
