"""The metamorphic suite kind end to end, with in-process providers (echo, and one that pads on
the right without an attention mask), plugin-registered perturbations and relations, and the
shipped suites."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from llmops_testutils import ECHO_CONFTEST, LlmProject

from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.suite_file import load_suite

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = '''
import hashlib

from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.providers.base import Generation
from pytest_llmops.suites.metamorphic.perturbations import TextPerturbation
from pytest_llmops.suites.metamorphic.relations import Relation, Verdict
from pytest_llmops.testing import EchoProvider


class RightPadNoMask(EchoProvider):
    """Pads every prompt of a batch on the right to the longest one, and the 'model' reads the
    pads (no attention mask): outputs change with the batch a prompt is in."""

    def generate_batch(self, requests):
        users = [[c for role, c in r.messages if role == "user"][-1] for r in requests]
        width = max(len(u) for u in users)
        return [Generation(text="answer " + hashlib.sha256((u + "<pad>" * (width - len(u))).encode()).hexdigest()[:8],
                           finish_reason="stop", batch_size=len(requests)) for u in users]


class Shout(TextPerturbation):
    name = "shout"
    description = "upper-case the text and add an exclamation mark"

    def perturb_text(self, text, rng, options):
        new = text.upper() + "!"
        return new, [{"op": "shout", "before": text, "after": new}]


class SameLength(Relation):
    name = "same-length"

    def check(self, pair, options):
        a, b = len(pair.source), len(pair.followup)
        return Verdict(a == b, f"{a} vs {b} characters")


@hookimpl
def llmops_register_perturbations(register):
    register(Shout())


@hookimpl
def llmops_register_relations(register):
    register(SameLength())


@hookimpl
def llmops_register_providers(register):
    register("echo", EchoProvider, form="echo:NAME")
    register("rightpad", RightPadNoMask, form="rightpad:NAME")
'''


@pytest.fixture
def mm(project: LlmProject) -> LlmProject:
    project.pytester.makeconftest(CONFTEST)
    return project


def metrics(report: dict, suite: str) -> dict:
    return report["suites"][suite]["metrics"]


def test_families_become_suites_with_violation_rates(mm: LlmProject) -> None:
    mm.suite("mm", """
        kind: metamorphic
        relations:
          - family: case
            perturbation: case
            relation: normalized-exact
            inputs: ["Hello there", "What is up", "123"]     # "123" has no case: a no-op
          - family: typos
            perturbation: {typos: {max_edits: 2}}
            relation: normalized-exact
            variants: 2
            inputs:
              - {id: hi, text: "Hello there friend"}
              - {id: up, text: "What is going on"}
    """)
    result = mm.run("--llm-model=echo:a", "-rs")
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines(["*no-op: case changed nothing in this input*"])
    report = mm.report()
    assert set(report["suites"]) == {"metamorphic/case", "metamorphic/typos"}
    case, typos = metrics(report, "metamorphic/case"), metrics(report, "metamorphic/typos")
    # The echo provider repeats its input: case folding is invisible after normalisation,
    # typos are not.
    assert case["violation_rate"] == {"value": 0.0, "ci95": [0.0, pytest.approx(0.6576, abs=1e-4)], "n": 2}
    assert case["noop_skipped"] == 1 and case["undecided"] == 0
    assert typos["violation_rate"]["value"] == 1.0 and typos["violation_rate"]["n"] == 2
    assert report["suites"]["metamorphic/case"]["kind"] == "metamorphic"
    assert report["suites"]["metamorphic/case"]["skipped"] == 1
    cases = mm.cases()
    hi = cases["typos.hi[a]"]
    assert hi["outcome"] == "passed" and hi["violated"] is True and hi["noop"] is False
    assert hi["family"] == "typos" and hi["relation"] == "normalized-exact" and hi["relation_family"] == "invariance"
    assert hi["perturbations"] == ["typos"] and hi["source"]["output"] == "echo: Hello there friend"
    assert len(hi["followups"]) == 2
    first = hi["followups"][0]
    assert first["changes"] and first["changed"] != "no change" and first["facts"]["edit_distance"] <= 2
    assert first["output"].startswith("echo: ") and first["holds"] is False and "differ" in first["evidence"]
    assert hi["checks"][0]["name"] == "normalized-exact" and hi["checks"][0]["passed"] is False
    noop = cases["case.3[a]"]
    assert noop["outcome"] == "skipped" and noop["noop"] is True and noop["noop_changes"][0]["changed"] == "no change"


def test_fail_on_violation_fails_the_case(mm: LlmProject) -> None:
    mm.suite("mm", """
        kind: metamorphic
        fail_on_violation: true
        relations:
          - family: typos
            perturbation: typos
            relation: normalized-exact
            inputs: ["Hello there friend"]
          - family: measured
            perturbation: typos
            relation: normalized-exact
            fail_on_violation: false
            inputs: ["Hello there friend"]
    """)
    result = mm.run("--llm-model=echo:a")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*normalized-exact violated (typos): normalized outputs differ*"])
    report = mm.report()
    assert metrics(report, "metamorphic/typos")["violation_rate"]["value"] == 1.0
    assert metrics(report, "metamorphic/measured")["violation_rate"]["value"] == 1.0


def test_batch_invariance_catches_right_padding_without_a_mask(mm: LlmProject) -> None:
    mm.suite("models", """
        kind: metamorphic
        generation: {max_new_tokens: 8}
        relations:
          - family: model-batch
            relation: batch-invariance
            inputs: &prompts ["What is the capital of France?", "Name three colors."]
          - family: model-prefix
            relation: {prefix-consistency: {k: 8}}     # echo says "stop": it must fit in k
            inputs: *prompts
          - family: model-streaming
            relation: stream-consistency
            inputs: *prompts
    """)
    result = mm.run("--llm-model=echo:good", "--llm-model=rightpad:buggy")
    result.assert_outcomes(passed=12)
    report = mm.report()
    assert metrics(report, "metamorphic/model-batch[good]")["violation_rate"]["value"] == 0.0
    assert metrics(report, "metamorphic/model-batch[buggy]")["violation_rate"] == {
        "value": 1.0, "ci95": [pytest.approx(0.3424, abs=1e-4), 1.0], "n": 2}
    assert metrics(report, "metamorphic/model-prefix[good]")["violation_rate"]["value"] == 0.0
    # Neither provider can stream: undecided, left out of the rate.
    streaming = metrics(report, "metamorphic/model-streaming[good]")
    assert streaming["violation_rate"]["n"] == 0 and streaming["undecided"] == 2
    buggy = mm.cases()["batch-invariance.1[buggy]"]
    assert buggy["violated"] is True and buggy["direct"] is True and buggy["cached"] is False
    assert buggy["details"]["alone"] != buggy["details"]["batched"] and buggy["details"]["batch_size"] == 3


def test_rag_subject(mm: LlmProject) -> None:
    mm.write("qa.yaml", """
        - id: tower
          question: How tall is the Lumen Tower?
          answer: ["212"]
          counterfactual: "305"
          gold: The Lumen Tower is 212 metres tall.
          distractors: [The river is called the Sella., The cafe opens at 7 am., The library closes at 6 pm.]
    """)
    mm.suite("rag", """
        kind: metamorphic
        subject: rag
        generation: {max_new_tokens: 64}
        relations:
          - family: rag-context-order
            perturbations: [{gold-position: {position: middle}}, {gold-position: {position: last}}]
            relation: same-correctness
            inputs_from: qa.yaml
          - family: rag-gold-removal
            perturbation: remove-gold
            relation: abstains
            distractors: 1
            inputs_from: qa.yaml
          - family: rag-counterfactual
            perturbation: counterfactual
            relation: follows-edit
            inputs_from: qa.yaml
    """)
    result = mm.run("--llm-model=echo:a")
    result.assert_outcomes(passed=3)
    report = mm.report()
    gap = metrics(report, "metamorphic/rag-context-order")["position_gap"]
    assert gap["value"] == 0.0 and set(gap["by_position"]) == {"first", "middle", "last"}
    assert gap["by_position"]["last"]["value"] == 1.0
    assert metrics(report, "metamorphic/rag-gold-removal")["violation_rate"]["value"] == 1.0  # echo never abstains
    assert metrics(report, "metamorphic/rag-counterfactual")["violation_rate"]["value"] == 0.0
    cases = mm.cases()
    order = cases["gold-position.tower[a]"]
    assert order["subject"] == "rag"
    assert [p["position"] for p in order["gold_positions"]] == ["first", "middle", "last"]
    # The reader prompt is the example pipeline's: numbered contexts, then the question.
    assert order["input"][0]["content"].startswith("Answer the question using only the context.")
    assert order["input"][1]["content"].startswith("Context:\n[1] The Lumen Tower is 212 metres tall.")


def test_prompt_subject_perturbs_input_or_system(mm: LlmProject) -> None:
    mm.write("prompts/router.yaml", """
        system: "You route messages for {{ product }}. Answer with one word."
        user: "Message: {{ input }}"
    """)
    mm.suite("p", """
        kind: metamorphic
        subject: prompt
        prompt: prompts/router.yaml
        lexicon: {paraphrases: [["Answer with one word.", "Reply with a single word."]]}
        relations:
          - family: paraphrase
            field: system
            perturbation: paraphrase
            relation: normalized-exact
            inputs: &msgs [{id: refund, product: Orbit, input: "Please refund me"}]
          - family: typos
            perturbation: typos
            relation: normalized-exact
            inputs: *msgs
    """)
    mm.run("--llm-model=echo:a").assert_outcomes(passed=2)
    cases = mm.cases()
    paraphrase = cases["paraphrase.refund[a]"]
    assert paraphrase["violated"] is False  # echo ignores the system prompt
    system = paraphrase["followups"][0]["input"][0]["content"]
    assert system == "You route messages for Orbit. Reply with a single word."
    assert paraphrase["prompt_version"]
    assert cases["typos.refund[a]"]["violated"] is True


def test_plugin_perturbation_and_relation_from_hooks(mm: LlmProject) -> None:
    mm.suite("p", """
        kind: metamorphic
        relations:
          - family: shout-length
            perturbation: shout
            relation: same-length
            inputs: ["hello"]
          - family: shout-exact
            perturbation: shout
            relation: normalized-exact
            inputs: ["hello"]
    """)
    mm.run("--llm-model=echo:a").assert_outcomes(passed=2)
    report = mm.report()
    assert metrics(report, "metamorphic/shout-length")["violation_rate"]["value"] == 1.0  # 11 vs 12 characters
    assert metrics(report, "metamorphic/shout-exact")["violation_rate"]["value"] == 0.0
    case = mm.cases()["shout.1[a]"]  # the second block's ids are shout-exact-shout.*
    assert case["followups"][0]["output"] == "echo: HELLO!" and case["evidence"] == "11 vs 12 characters"


PLUGIN_OVERRIDES_BUILTINS = '''
from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.providers.base import InfraError
from pytest_llmops.suites.metamorphic.model_relations import ModelRelation
from pytest_llmops.suites.metamorphic.perturbations import TextPerturbation
from pytest_llmops.suites.metamorphic.relations import Relation, Verdict


class PluginTypos(TextPerturbation):
    name = "typos"  # a built-in's name: this one replaces it

    def perturb_text(self, text, rng, options):
        new = "PLUGIN " + text
        return new, [{"op": "plugin-typos", "before": text, "after": new}]


class AlwaysViolated(Relation):
    name = "normalized-exact"  # a built-in's name: this one replaces it

    def check(self, pair, options):
        return Verdict(False, "plugin relation: always violated")


class Explodes(Relation):
    name = "explodes"

    def check(self, pair, options):
        raise RuntimeError("boom")


class ProviderDown(ModelRelation):
    name = "provider-down"

    def run(self, provider, request, options):
        raise InfraError("connection refused")


@hookimpl
def llmops_register_perturbations(register):
    register(PluginTypos())


@hookimpl
def llmops_register_relations(register):
    register(AlwaysViolated())
    register(Explodes())
    register(ProviderDown())
'''


@pytest.fixture
def overrides(project: LlmProject) -> LlmProject:
    project.pytester.makeconftest(ECHO_CONFTEST + PLUGIN_OVERRIDES_BUILTINS)
    return project


def test_plugin_replaces_builtin_perturbation_and_relation(overrides: LlmProject) -> None:
    mm = overrides
    mm.suite("p", """
        kind: metamorphic
        relations:
          - family: typos
            perturbation: typos
            relation: normalized-exact
            inputs: ["Hello there friend"]
          - family: case
            perturbation: case
            relation: {label-equality: {labels: [hello]}}
            inputs: ["Hello there friend"]
    """)
    result = mm.run("--llm-model=echo:a")
    result.assert_outcomes(passed=2)
    # The terminal summary shows the kind's headline: violations with its Wilson interval.
    result.stdout.fnmatch_lines(["*metamorphic/typos*violations 1.00 [[]0.21, 1.00[]]*"])
    report = mm.report()
    assert metrics(report, "metamorphic/typos")["violation_rate"]["value"] == 1.0
    case = mm.cases()["typos.1[a]"]
    followup = case["followups"][0]
    # The plugin's perturbation made the follow-up, the plugin's relation judged it.
    assert followup["changes"] == [{"op": "plugin-typos", "before": "Hello there friend",
                                    "after": "PLUGIN Hello there friend", "field": "text"}]
    assert followup["output"] == "echo: PLUGIN Hello there friend"
    assert case["evidence"] == "plugin relation: always violated" and case["violated"] is True
    assert case["checks"][0]["evidence"] == "plugin relation: always violated"
    # Built-ins the plugin did not replace still work.
    assert mm.cases()["case.1[a]"]["violated"] is False


def test_errors_while_checking_are_error_records(overrides: LlmProject) -> None:
    mm = overrides
    mm.suite("p", """
        kind: metamorphic
        relations:
          - family: broken
            perturbation: case
            relation: explodes
            inputs: ["Hello there"]
          - family: down
            relation: provider-down
            inputs: ["Hello there"]
    """)
    result = mm.run("--llm-model=echo:a")
    # Raised while the test ran (not in setup): pytest counts them as failed, the report as errors.
    result.assert_outcomes(failed=2)
    cases = mm.cases()
    broken, down = cases["case.1[a]"], cases["provider-down.1[a]"]
    assert broken["outcome"] == "error" and broken["error"] == "error: RuntimeError: boom"
    assert down["outcome"] == "error" and down["error"] == "infra error: connection refused"
    # An error record is the bare one any kind's error gets: no verdict fields.
    assert "family" not in broken and "violated" not in broken
    report = mm.report()
    assert metrics(report, "metamorphic/broken")["violation_rate"]["n"] == 0


@pytest.mark.parametrize("body, message", [
    ("cases: [{id: a, input: b, checks: [{contains: b}]}]",
     "*field 'cases': a metamorphic suite lists relation blocks*"),
    ("relations: []", "*field 'relations': expected a non-empty list*"),
    ("relations: [{family: f, perturbation: typos, inputs: [x]}]", ":2: field 'relations[[]0[]].relation': missing*"),
    ("relations: [{family: f, perturbation: nope, relation: normalized-exact, inputs: [x]}]",
     "*field 'relations[[]0[]].perturbation': unknown perturbation 'nope'; known: add-distractors*"),
    ("relations: [{family: f, perturbation: {typos: {max_edits: 0}}, relation: normalized-exact, inputs: [x]}]",
     "*field 'relations[[]0[]].perturbation': option 'max_edits' must be a positive integer*"),
    ("relations: [{family: f, perturbation: typos, relation: label-equality, inputs: [x]}]",
     "*field 'relations[[]0[]].relation': option 'labels' is required*"),
    ("relations: [{family: f, perturbation: typos, relation: batch-invariance, inputs: [x]}]",
     "*field 'relations[[]0[]].perturbation': 'batch-invariance' is a model relation*"),
    ("relations: [{family: f, perturbation: typos, relation: normalized-exact}]",
     "*field 'relations[[]0[]].inputs': give exactly one of 'inputs'*"),
    ("relations: [{family: 'bad name', perturbation: typos, relation: normalized-exact, inputs: [x]}]",
     "*field 'relations[[]0[]].family': expected a name*"),
    ("relations: [{family: f, perturbation: typos, relation: normalized-exact, inputs: [x], colour: red}]",
     "*field 'relations[[]0[]].colour': unknown key*"),
    (("relations: [{family: f, perturbation: typos, relation: normalized-exact, template: 'Q: {question}', "
      "inputs: [x]}]"),
     "*field 'relations[[]0[]].inputs[[]0[]]': input '1': the template's {question} has no value*"),
    ("relations: [{family: f, perturbation: swap-names, relation: normalized-exact, inputs: [Maria]}]",
     "*field 'relations[[]0[]].inputs[[]0[]]': input '1': needs groups of interchangeable terms*"),
    (("relations:\n  - {id: same, family: f, perturbation: typos, relation: normalized-exact, inputs: [x]}\n"
      "  - {id: same, family: g, perturbation: case, relation: normalized-exact, inputs: [y]}"),
     ":4: field 'relations[[]1[]].id': case id 'same.1' is already used (line 3)*"),
    ("relations: [{family: f, perturbation: typos, relation: normalized-exact, inputs_from: missing.yaml}]",
     "*field 'relations[[]0[]].inputs_from': cannot read*missing.yaml*"),
])
def test_validation_errors_name_the_field(mm: LlmProject, body: str, message: str) -> None:
    mm.suite("bad", "kind: metamorphic\n" + body + "\n")
    result = mm.run("--llm-model=echo:a")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.eval.yaml" + message])


def test_shipped_suites_cover_at_least_eight_families() -> None:
    registry = default_registry()
    cases = []
    for path in sorted((ROOT / "evalsuites" / "metamorphic").glob("*.eval.yaml")):
        suite = load_suite(path, ROOT, GenerationParams(), registry)
        assert suite.kind == "metamorphic"
        cases += suite.cases
    families = {case.suite for case in cases}
    assert len(families) >= 8 and all(name.startswith("metamorphic/") for name in families)
    relation_families = {case.data["metamorphic"].relation.family for case in cases}
    assert relation_families == {"invariance", "equivariance", "directional", "model"}
    assert 80 <= len(cases) <= 150, "keep the shipped suites small enough for CI on two cores"
    assert all(case.params.max_new_tokens <= 48 for case in cases)
    assert all(c.data["metamorphic"].followups or c.data["metamorphic"].relation.direct for c in cases), \
        "a shipped case should not be a no-op"


def test_shipped_suites_run_with_the_echo_provider(mm: LlmProject) -> None:
    shutil.copytree(ROOT / "evalsuites" / "metamorphic", mm.path / "evalsuites" / "metamorphic")
    shutil.copytree(ROOT / "fixtures" / "metamorphic", mm.path / "fixtures" / "metamorphic")
    # The irrelevant-context family compares outputs with the embedding model: left out here.
    result = mm.run("--llm-model=echo:a", "evalsuites", "-k", "not append-sentence", "-q")
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0
    report = mm.report()
    assert len(report["suites"]) >= 8
    for name, suite in report["suites"].items():
        assert suite["kind"] == "metamorphic"
        assert set(suite["metrics"]["violation_rate"]) == {"value", "ci95", "n"}, name


NOOP_AND_MODEL_SUITE = """
kind: metamorphic
relations:
  - family: case
    perturbation: case
    relation: normalized-exact
    inputs: ["Hello there", "What is up", "123"]
  - family: typos
    perturbation: {typos: {max_edits: 2}}
    relation: normalized-exact
    variants: 2
    inputs: ["Hello there friend", "What is going on", "Nothing to see here"]
  - family: batch
    relation: batch-invariance
    inputs: ["a", "bb"]
"""


def test_xdist_gives_the_same_suites(mm: LlmProject) -> None:
    mm.suite("mm", NOOP_AND_MODEL_SUITE)
    mm.run("--llm-model=echo:a", "--llm-cache=off", "--llm-report-dir=plain").assert_outcomes(passed=7, skipped=1)
    mm.run("--llm-model=echo:a", "--llm-cache=off", "--llm-report-dir=xdist", "-n", "2").assert_outcomes(
        passed=7, skipped=1)
    plain, xdist = mm.report("plain"), mm.report("xdist")
    assert plain["suites"] == xdist["suites"]
    assert plain["suites"]["metamorphic/case"]["metrics"]["noop_skipped"] == 1


def test_collecting_a_metamorphic_suite_is_light(mm: LlmProject) -> None:
    mm.pytester.makeconftest(CONFTEST + """
import json, os, sys

def pytest_sessionfinish(session):
    with open(os.path.join(str(session.config.rootpath), "modules.json"), "w") as fh:
        json.dump(sorted(sys.modules), fh)
""")
    mm.suite("mm", NOOP_AND_MODEL_SUITE)
    result = mm.run_subprocess("--co", "-q", "--llm-model=echo:a")
    assert result.ret == 0
    modules = json.loads((mm.path / "modules.json").read_text())
    assert "pytest_llmops.suites.metamorphic.kind" in modules
    assert sorted({m.split(".")[0] for m in modules} & {"torch", "transformers", "jinja2", "openai"}) == []


def test_report_face_reads_like_the_terminal_table_always_did() -> None:
    from pytest_llmops.suites.metamorphic.kind import KIND

    rate = {"value": 0.375, "ci95": [0.137, 0.694], "n": 8}
    assert KIND.face.summary({"violation_rate": rate, "pass_rate": {"value": 1.0, "ci95": [0.6, 1.0], "n": 8}}) \
        == "violations 0.38 [0.14, 0.69]"
    assert KIND.face.summary({"violation_rate": {"value": None, "ci95": [0.0, 1.0], "n": 0}}) == "violations n/a"
    # Metrics folded without this kind's aggregator: the pass rate, as before.
    assert KIND.face.summary({"pass_rate": {"value": 0.5, "ci95": [0.1, 0.9], "n": 2}}) == "pass rate 0.50 [0.10, 0.90]"
    assert KIND.face.direction == "lower" and "violation_rate" in KIND.face.as_dict({})["lower_is_better"]
