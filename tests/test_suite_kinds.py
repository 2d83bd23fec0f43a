"""A suite kind registered by a plugin: several requests per case, its own metric, suites split per case."""

from __future__ import annotations

from llmops_testutils import ECHO_CONFTEST, LlmProject

KIND_CONFTEST = ECHO_CONFTEST + '''
from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.providers.base import GenerationRequest
from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.kinds import Aggregator, Evaluation, ReportFace, SuiteKind
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
    face = ReportFace(headline="same_rate", label="same answers", direction="higher")

    def parse(self, data, suite, parse_cases, fail, registry):
        pairs = data.get("pairs")
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise fail("pairs", "expected a list of [a, b] prompt pairs")
        return [CaseSpec(id=f"pair{i}", index=i, line=0, input=a, vars={"b": b}, system=None, checks=[],
                         params=suite.params, suite=f"pairs/{'same' if a == b else 'diff'}")
                for i, (a, b) in enumerate(pairs)]

    def plan(self, case):
        return [GenerationRequest.prompt(case.case.input, params=case.case.params),
                GenerationRequest.prompt(case.case.vars["b"], params=case.case.params)]

    def evaluate(self, case, generations, measurement=None):
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


PAIRS_SUITE = """
    kind: pairs
    pairs:
      - [hello, hello]
      - [hello, world]
      - [x, x]
      - [a, b]
"""


def test_a_conftest_kind_shows_its_headline_everywhere_merges_under_xdist_and_gates(project: LlmProject) -> None:
    """A kind the package knows nothing about reads as well as a built-in: its own headline metric
    in the terminal table, the Markdown and the HTML report, the same report under -n 2, and a gate
    on its metric."""
    project.pytester.makeconftest(KIND_CONFTEST)
    project.suite("p", PAIRS_SUITE)
    project.write("llmops.yaml", """
environments:
  dev:
    checks:
      - "pairs/same: same_rate.lb95 >= 0.3"
  prod:
    checks:
      - "pairs/*: same_rate.lb95 >= 0.5"
""")
    plain = project.run_subprocess("--llm-model=echo:a", "--llm-gate-env=dev")
    plain.stdout.fnmatch_lines(["pairs/diff *same answers 0.00 [[]0.00, 0.66[]]*",
                                "pairs/same *same answers 1.00 [[]0.34, 1.00[]]*",
                                "PROMOTION: ALLOW (dev)"])
    report = project.report()
    assert report["suites"]["pairs/same"]["face"]["headline"] == "same_rate"
    markdown = (project.path / "reports" / "llmops-report.md").read_text()
    assert "same answers 1.00 \\[0.34, 1.00\\]" in markdown  # brackets escaped in table cells
    html = (project.path / "reports" / "llmops-report.html").read_text()
    assert "pairs/same \u00b7 same answers" in html and "Key metric per suite" in html

    def comparable(rep):
        return ({k: {**v["metrics"], "face": v["face"]} for k, v in rep["suites"].items()},
                sorted((c["id"], c["outcome"], tuple(c["outputs"])) for c in rep["cases"]))

    distributed = project.run_subprocess("--llm-model=echo:a", "-n", "2", "--llm-report-dir=reports-xdist")
    distributed.assert_outcomes(passed=2, failed=2)
    assert comparable(project.report("reports-xdist")) == comparable(report)

    blocked = project.run_subprocess("--llm-model=echo:a", "--llm-gate-env=prod")
    assert blocked.ret == 1
    blocked.stdout.fnmatch_lines(["*pairs/diff*same_rate.lb95 >= 0.5*", "PROMOTION: BLOCK (prod)"])


def test_a_plugin_provider_replaces_the_builtin_of_the_same_name(project: LlmProject) -> None:
    """``smollm2`` served by a conftest's provider: the built-in model is never loaded."""
    project.pytester.makeconftest('''
from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.testing import EchoProvider


@hookimpl
def llmops_register_providers(register):
    register("smollm2", EchoProvider, form="smollm2")
''')
    project.suite("p", "cases: [{id: a, input: hi, checks: [{contains: 'echo: hi'}]}]\n")
    project.run("--llm-model=smollm2").assert_outcomes(passed=1)  # only the echo provider answers "echo: hi"


def test_a_plugin_suite_kind_replaces_the_builtin_of_the_same_name(project: LlmProject) -> None:
    project.pytester.makeconftest(ECHO_CONFTEST + '''
from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.suites.kinds import Evaluation, SuiteKind


class Lenient(SuiteKind):
    name = "functional"  # replaces the built-in

    def evaluate(self, case, generations, measurement=None):
        return Evaluation("passed", fields={"judged_by": "lenient"})


@hookimpl
def llmops_register_suite_kinds(register):
    register(Lenient())
''')
    project.suite("p", "cases: [{id: a, input: hi, checks: [{contains: nowhere}]}]\n")
    project.run("--llm-model=echo:a").assert_outcomes(passed=1)  # the built-in would fail the check
    assert project.report()["cases"][0]["judged_by"] == "lenient"
