"""A suite kind registered by a plugin: several requests per case, its own metric, suites split per case."""

from __future__ import annotations

from llmops_testutils import ECHO_CONFTEST, LlmProject

KIND_CONFTEST = ECHO_CONFTEST + '''
from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.providers.base import GenerationRequest
from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.kinds import Aggregator, Evaluation, SuiteKind
from pytest_llmops.suites.suite_file import CaseSpec


class SameAnswer(Aggregator):
    def __init__(self):
        self.same = self.n = 0

    def add(self, record):
        if record["outcome"] in ("passed", "failed"):
            self.n += 1
            self.same += record["same"]

    def metrics(self):
        return {"same_rate": rate_metric(self.same, self.n)}


class PairKind(SuiteKind):
    """Each pair asks two prompts; the case passes when both answers are equal."""

    name = "pairs"
    extra_keys = frozenset({"pairs"})

    def parse(self, data, suite, parse_cases, fail, registry):
        pairs = data.get("pairs")
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise fail("pairs", "expected a list of [a, b] prompt pairs")
        return [CaseSpec(id=f"pair{i}", index=i, line=0, input=a, vars={"b": b}, system=None, checks=[],
                         params=suite.params, suite=f"pairs/{'same' if a == b else 'diff'}")
                for i, (a, b) in enumerate(pairs)]

    def requests(self, item):
        return [GenerationRequest.prompt(item.case.input, params=item.case.params),
                GenerationRequest.prompt(item.case.vars["b"], params=item.case.params)]

    def evaluate(self, item, generations):
        same = generations[0].text == generations[1].text
        return Evaluation("passed" if same else "failed", fields={"same": same,
                          "outputs": [g.text for g in generations]}, failure="answers differ")

    def aggregator(self):
        return SameAnswer()


@hookimpl
def llmops_register_suite_kinds(register):
    register(PairKind())
'''


def test_plugin_suite_kind(project: LlmProject, monkeypatch) -> None:
    project.pytester.makeconftest(KIND_CONFTEST)
    project.suite("p", """
        kind: pairs
        pairs:
          - [hello, hello]
          - [hello, world]
          - [x, x]
    """)
    log = project.path / "echo.log"
    monkeypatch.setenv("LLMOPS_ECHO_LOG", str(log))
    result = project.run_subprocess("--llm-model=echo:a")
    result.assert_outcomes(passed=2, failed=1)
    report = project.report()
    assert set(report["suites"]) == {"pairs/same", "pairs/diff"}
    assert report["suites"]["pairs/same"]["metrics"]["same_rate"]["value"] == 1.0
    assert report["suites"]["pairs/diff"]["metrics"]["same_rate"]["value"] == 0.0
    assert report["suites"]["pairs/diff"]["kind"] == "pairs"
    diff = next(c for c in report["cases"] if c["id"] == "pair1")
    assert diff["outputs"] == ["echo: hello", "echo: world"] and diff["same"] is False
    # Both requests of every pair were prefetched together; the duplicates generated once.
    assert sorted(log.read_text().splitlines()) == ["hello", "world", "x"]


def test_bad_kind_config_names_the_field(project: LlmProject) -> None:
    project.pytester.makeconftest(KIND_CONFTEST)
    project.suite("p", "kind: pairs\npairs: [[only-one]]\n")
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*p.eval.yaml:1:*field 'pairs': expected a list of [[]a, b[]] prompt pairs*"])


def test_unknown_kind_lists_the_known_ones(project: LlmProject) -> None:
    project.suite("p", "kind: nope\ncases: [{id: a, input: b, checks: [{contains: b}]}]\n")
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*field 'kind': 'nope' is not one of*functional*"])


def test_a_plugin_check_replaces_the_builtin_of_the_same_name(project: LlmProject) -> None:
    project.pytester.makeconftest(ECHO_CONFTEST + '''
from pytest_llmops.checks.builtin import Check
from pytest_llmops.hookspecs import hookimpl


class Shouting(Check):
    name = "contains"  # replaces the built-in

    def validate(self, arg):
        return str(arg)

    def evaluate(self, output, arg, context):
        return self.result(arg.upper() in output, "shouted", arg)


@hookimpl
def llmops_register_checks(register):
    register(Shouting())
''')
    project.suite("p", "cases: [{id: a, input: HELLO, checks: [{contains: hello}]}]\n")
    project.run("--llm-model=echo:a").assert_outcomes(passed=1)  # the built-in would fail: "hello" is lowercase
