"""The Python API: metamorphic relations over a user's own function (the ``metamorphic`` fixture)."""

from __future__ import annotations

import pytest
from llmops_testutils import LlmProject

from pytest_llmops.suites.metamorphic.api import Metamorphic


def shout_free(text: str) -> str:
    return text.lower().strip()


def test_invariant_holds_and_counts_noops() -> None:
    result = Metamorphic().invariant(shout_free, ["Hello There", "What is up", "123"], perturbation="case",
                                     relation="normalized-exact", variants=2)
    assert result.n == 2 and result.noop_skipped == 1 and result.violations == []
    assert result.violation_rate == {"value": 0.0, "ci95": [0.0, pytest.approx(0.6576, abs=1e-4)], "n": 2}
    result.assert_holds()
    noop = result.cases[2]
    assert noop.noop and noop.violated is None and noop.evidence == "no-op: case"


def test_violations_are_reported_with_what_changed() -> None:
    result = Metamorphic(seed=3).invariant(lambda s: s, ["The quick brown fox", "Jumps over the lazy dog"],
                                           perturbation={"typos": {"max_edits": 1}})
    assert len(result.violations) == 2 and result.violation_rate["value"] == 1.0
    with pytest.raises(AssertionError) as excinfo:
        result.assert_holds(max_violation_rate=0.5)
    text = str(excinfo.value)
    assert "violation rate 1.00 > 0.5" in text and "relation normalized-exact under typos: 2/2 violated" in text
    assert "follow-up (" in text and "normalized outputs differ" in text
    # Same seed, same follow-ups.
    again = Metamorphic(seed=3).invariant(lambda s: s, ["The quick brown fox", "Jumps over the lazy dog"],
                                          perturbation={"typos": {"max_edits": 1}})
    assert [c.followups[0]["input"] for c in again.cases] == [c.followups[0]["input"] for c in result.cases]


def test_mapping_inputs_and_directional_relations() -> None:
    def classify(sample: dict) -> str:
        return "negative" if " not " in f" {sample['review']} " else "positive"

    result = Metamorphic().directional(classify, [{"review": "The soup was good"}, {"review": "Lovely staff"}],
                                       perturbation="negate", relation={"label-flip": {"labels": ["positive",
                                                                                                  "negative"]}},
                                       field="review")
    assert result.n == 1 and result.noop_skipped == 1 and result.violations == []
    assert result.cases[0].followups[0]["input"] == {"review": "The soup was not good"}


def test_equivariant_multiple_choice() -> None:
    def always_a(sample: dict) -> str:
        return "A"

    def knows_paris(sample: dict) -> str:
        return "ABCD"[sample["options"].index("Paris")]

    question = {"question": "Capital of France?", "options": ["Paris", "Lyon", "Nice", "Lille"], "answer": "A"}
    assert Metamorphic().equivariant(knows_paris, [question], variants=3).violations == []
    assert Metamorphic().equivariant(always_a, [question]).violation_rate["value"] == 1.0


def test_wrong_family_and_model_relations_are_refused() -> None:
    with pytest.raises(ValueError, match="'label-flip' is a directional relation, not invariance"):
        Metamorphic().invariant(str, ["x"], relation={"label-flip": {"labels": ["a", "b"]}})
    with pytest.raises(ValueError, match="model relation"):
        Metamorphic().check(str, ["x"], perturbation="typos", relation="batch-invariance")
    with pytest.raises(LookupError, match="unknown perturbation 'nope'"):
        Metamorphic().invariant(str, ["x"], perturbation="nope")


def test_fixture_in_a_pytest_run_uses_plugin_hooks_and_the_lexicon(project: LlmProject) -> None:
    project.pytester.makeconftest('''
from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.suites.metamorphic.perturbations import TextPerturbation


class Exclaim(TextPerturbation):
    name = "exclaim"

    def perturb_text(self, text, rng, options):
        return text + "!", [{"op": "exclaim", "before": "", "after": "!"}]


@hookimpl
def llmops_register_perturbations(register):
    register(Exclaim())
''')
    project.write("fixtures/metamorphic/lexicon.yaml", """
        names: {female: [Maria, Aisha], male: [John, Kwame]}
    """)
    project.pytester.makepyfile(test_user='''
def greet(text):
    return "hello " + text.split()[0]


def test_plugin_perturbation(metamorphic):
    result = metamorphic.invariant(greet, ["Maria says hi", "John waves"], perturbation="exclaim")
    result.assert_holds()
    assert result.n == 2


def test_default_lexicon_from_the_rootdir(metamorphic):
    result = metamorphic.invariant(greet, ["Maria says hi"], perturbation="swap-names")
    assert result.violation_rate["value"] == 1.0
    assert result.cases[0].followups[0]["changes"][0]["to"] == "Aisha"


def test_fails_with_a_readable_report(metamorphic):
    metamorphic.invariant(greet, ["Maria says hi"], perturbation="swap-names").assert_holds()
''')
    result = project.run("-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: violation rate 1.00 > 0.0*",
                                 "*relation normalized-exact under swap-names: 1/1 violated*",
                                 "*follow-up (swap-names: 'Maria' -> 'Aisha')*"])
