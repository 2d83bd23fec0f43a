"""Records tell the truth: a RAG case served from the cache says so, and an infra error in a
Python test's ``llm`` call is an error in pytest as in the report."""

from __future__ import annotations

from llmops_testutils import LlmProject

PIPELINE = """
class Pipeline:
    '''One generation per question, in order (the shape of the example pipeline).'''

    def __init__(self, llm):
        self.llm = llm

    def batch(self, questions):
        answers = self.llm.generate_many([f"Context: none. Question: {q}" for q in questions])
        return [{"answer": a, "contexts": ["none"]} for a in answers]

    def __call__(self, question):
        return self.batch([question])[0]


class TwoCalls:
    '''Two generations per question: each answer's flag is the whole call's.'''

    def __init__(self, llm):
        self.llm = llm

    def __call__(self, question):
        draft = self.llm.generate(f"draft: {question}")
        return {"answer": self.llm.generate(f"final: {draft}"), "contexts": []}
"""

SUITE = """
subject: rag
rag: pipelines:{name}
cases:
  - id: one
    input: What is one?
    checks: [{{contains: one}}]
  - id: two
    input: What is two?
    checks: [{{contains: two}}]
  - id: three
    input: What is three?
    checks: [{{contains: three}}]
"""


def test_rag_records_say_cached_on_a_fully_cached_rerun(project: LlmProject) -> None:
    project.write("pipelines.py", PIPELINE)
    project.suite("rag/batched", SUITE.format(name="Pipeline"))
    project.suite("rag/two_calls", SUITE.format(name="TwoCalls"))
    project.run("--llm-model=echo:a").assert_outcomes(passed=6)
    assert not any(case["cached"] for case in project.report()["cases"])
    project.run("--llm-model=echo:a").assert_outcomes(passed=6)
    report = project.report()
    assert [case["cached"] for case in report["cases"]] == [True] * 6
    assert report["run"]["engine"]["a"]["generated"] == 0


def test_an_infra_error_in_a_python_tests_llm_call_is_an_error_in_pytest_too(project: LlmProject) -> None:
    project.write("test_uses_llm.py", """
        def test_endpoint_down(llm):
            assert llm.generate("INFRA_FAIL please") == "never reached"

        def test_wrong_answer(llm):
            assert llm.generate("hello") == "goodbye"

        def test_fine(llm):
            assert llm.generate("hello").startswith("echo:")
    """)
    result = project.run("--llm-model=echo:a", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1, errors=1)  # the wrong answer fails; the outage is an error
    result.stdout.fnmatch_lines(["ERROR test_uses_llm.py::test_endpoint_down[[]a[]] - *"])
    outcomes = {case["id"]: case["outcome"] for case in project.report()["cases"]}
    assert outcomes == {"test_endpoint_down[a]": "error", "test_wrong_answer[a]": "failed", "test_fine[a]": "passed"}


def test_an_infra_error_in_a_batched_rag_call_is_only_its_own_cases_error(project: LlmProject) -> None:
    """One failed generation fails the pipeline's whole batch call; the other cases still get their answers."""
    project.write("pipelines.py", PIPELINE)
    project.suite("rag/batched", SUITE.format(name="Pipeline").replace("What is two?", "What is two? INFRA_FAIL"))
    project.run("--llm-model=echo:a")
    outcomes = {case["id"]: case["outcome"] for case in project.report()["cases"]}
    assert outcomes == {"one": "passed", "two": "error", "three": "passed"}
