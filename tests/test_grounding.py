"""The grounding scorer (checks/grounding.py), the ``grounded`` check and the measured accuracy.

The scorer runs the shipped all-MiniLM-L6-v2 (offline); the labelled set is
``fixtures/grounding/labelled.jsonl`` (written for the project, dev and test splits).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.checks.grounding import (
    SUPPORT_THRESHOLD, Grounded, grounding, lexical_problems, split_sentences, unsupported_share,
)
from pytest_llmops.core.stats import wilson_interval
from pytest_llmops.gates import evaluate_gate, parse_gate_config

ROOT = Path(__file__).resolve().parents[1]
PASSAGE = ("Vaultbox stores every file version for 180 days. Shared links expire after 7 days unless the "
           "owner extends them.")
OTHER = "The Saltmarsh hotel offers breakfast from 6:30 to 10:00. Late checkout until 1 pm costs 25 dollars."


def test_sentences_split_at_ends_not_at_abbreviations() -> None:
    text = "Exports take up to 15 minutes, e.g. for big workspaces. Is that fine? Yes! 3 files were sent.\nDone."
    assert split_sentences(text) == ["Exports take up to 15 minutes, e.g. for big workspaces.", "Is that fine?",
                                     "Yes!", "3 files were sent.", "Done."]
    assert split_sentences("  ") == []


def test_lexical_evidence_names_numbers_and_names_found_in_no_context() -> None:
    contexts = PASSAGE + "\n" + OTHER
    assert lexical_problems("Old versions are kept for 180 days.", contexts) == []
    assert lexical_problems("Old versions are kept for 90 days.", contexts) == ["number '90' is in no context"]
    assert lexical_problems("Breakfast starts at 6:30 and checkout is 25 dollars.", contexts) == []
    assert lexical_problems("Links last seven days.", contexts) == []  # "seven" is the context's 7
    assert lexical_problems("Links last three days.", contexts) == ["number 'three' is in no context"]
    assert lexical_problems("Files stay in Cloudnest for 180 days.", contexts) == ["name 'Cloudnest' is in no context"]
    # The first word is a name only when it is no common word of the vocabulary given.
    assert lexical_problems("Cloudnest keeps versions.", contexts, {"keeps"}) == ["name 'Cloudnest' is in no context"]
    assert lexical_problems("Versions are kept.", contexts, {"versions"}) == []


@pytest.mark.parametrize("answer, supported", [
    ("Vaultbox keeps old versions of your files for 180 days.", True),
    ("Vaultbox keeps old versions of your files for 90 days.", False),   # a number changed
    ("Cloudnest keeps old versions of your files for 180 days.", False),  # a name changed
    ("Vaultbox also encrypts every file with a customer key stored in Iceland.", False),  # said nowhere
])
def test_grounding_marks_each_claim(answer: str, supported: bool) -> None:
    result = grounding(answer + " Happy to help further.", [OTHER, PASSAGE])
    assert result["supported"] is supported
    claim, courtesy = result["sentences"]
    assert courtesy == {"text": "Happy to help further.", "support": None, "supported": True, "claim": False,
                        "problems": []}
    assert claim["claim"] and claim["supported"] is supported and 0 < claim["support"] <= 1
    assert result["unsupported"] == (0 if supported else 1)
    assert bool(claim["problems"]) is not supported


def test_grounding_is_deterministic_and_needs_contexts() -> None:
    answer = "Shared links stop working after a week unless their owner extends them. Versions stay 180 days."
    assert grounding(answer, [PASSAGE]) == grounding(answer, [PASSAGE])
    empty = grounding(answer, [])
    assert not empty["supported"] and empty["unsupported"] == 2
    assert all(s["problems"] == ["no context to support it"] for s in empty["sentences"])


def test_grounded_check_validates_and_explains() -> None:
    check = Grounded()
    assert check.validate(True) is True and check.validate(None) is True
    assert check.validate({"threshold": 0.5}) == {"threshold": 0.5}
    for bad in ({"threshold": 2}, {"cutoff": 0.5}, "yes", {"threshold": True}):
        with pytest.raises(ValueError, match="'grounded' expects"):
            check.validate(bad)
    arg = check.validate(True)
    good = check.evaluate("Vaultbox keeps file versions for 180 days.", arg, {"contexts": [PASSAGE]})
    assert good.passed and good.score == 1.0 and "all supported" in good.evidence
    bad = check.evaluate("Vaultbox keeps file versions for 180 days. Shared links expire after 30 days.", arg,
                         {"contexts": [PASSAGE]})
    assert not bad.passed and bad.score == 0.5
    assert "1 of 2 claim(s) unsupported" in bad.evidence and "number '30' is in no context" in bad.evidence
    none = check.evaluate("Anything.", arg, {"contexts": None})
    assert not none.passed and "needs a RAG subject" in none.evidence
    plain = check.evaluate("Anything at all.", arg, {"contexts": []})  # a logged line without retrieval
    assert plain.passed and "not a RAG answer" in plain.evidence
    strict = check.evaluate("Vaultbox keeps file versions for 180 days.", {"threshold": 0.99}, {"contexts": [PASSAGE]})
    assert not strict.passed and "< 0.99" in strict.evidence


def test_grounded_is_a_registered_check() -> None:
    from pytest_llmops.suites.builtins import registry_with

    assert isinstance(registry_with().checks["grounded"], Grounded)


def test_unsupported_share_is_a_wilson_rate_that_a_gate_reads() -> None:
    pairs = [("Vaultbox keeps file versions for 180 days.", [PASSAGE])] * 8 + \
            [("Vaultbox keeps file versions for 90 days.", [PASSAGE])] * 2
    share = unsupported_share(pairs)
    low, high = wilson_interval(2, 10)
    assert share == {"value": 0.2, "ci95": [round(low, 6), round(high, 6)], "n": 10, "unsupported": 2}
    report = {"schema_version": 1, "run": {}, "cases": [],
              "suites": {"logs/rag": {"kind": "drift", "n": 10, "passed": 10, "failed": 0, "errors": 0,
                                      "metrics": {"grounding": {"unsupported_share": share}}}}}
    config = parse_gate_config({"environments": {"nightly": {"checks": [
        "logs/*: grounding.unsupported_share.ub95 <= 0.6"]}, "strict": {"checks": [
            "logs/*: grounding.unsupported_share.ub95 <= 0.3"]}}}, "inline")
    assert evaluate_gate(report, config, "nightly").to_dict()["decision"] == "ALLOW"
    assert evaluate_gate(report, config, "strict").to_dict()["decision"] == "BLOCK"


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("grounding_accuracy", ROOT / "benchmarks" / "grounding_accuracy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labelled_set_threshold_and_accuracy() -> None:
    """The shipped threshold is the one the dev split chooses, and the test split's accuracy
    is what docs/grounding.md states (a drop in the scorer fails here)."""
    bench = _benchmark()
    items = [json.loads(line) for line in (ROOT / "fixtures/grounding/labelled.jsonl").read_text().splitlines()]
    assert len(items) >= 200 and {i["split"] for i in items} == {"dev", "test"}
    dev_passages = {i["passage"] for i in items if i["split"] == "dev"}
    assert not dev_passages & {i["passage"] for i in items if i["split"] == "test"}
    bench.score_items(items)
    dev = [i for i in items if i["split"] == "dev"]
    test = [i for i in items if i["split"] == "test"]
    # The dev split's choice, up to the last digit's numerical noise between machines.
    assert bench.choose_threshold(dev) == pytest.approx(SUPPORT_THRESHOLD, abs=0.005)
    right = sum(bench.flagged(i, SUPPORT_THRESHOLD) != i["supported"] for i in test)
    assert right / len(test) >= 0.70, right  # docs/grounding.md: 0.745 (76/102)
    unsupported = [i for i in test if not i["supported"]]
    assert sum(bench.flagged(i, SUPPORT_THRESHOLD) for i in unsupported) / len(unsupported) >= 0.6  # 0.691
    flagged_supported = sum(bench.flagged(i, SUPPORT_THRESHOLD) for i in test if i["supported"])
    assert flagged_supported / sum(i["supported"] for i in test) <= 0.2  # false alarms on paraphrases: 5/34


RAG_PIPELINE = '''
PASSAGES = ["Vaultbox stores every file version for 180 days. Shared links expire after 7 days unless the owner extends them.",
            "The Saltmarsh hotel offers breakfast from 6:30 to 10:00. Late checkout until 1 pm costs 25 dollars."]
ANSWERS = {"versions": "Vaultbox keeps old versions of your files for 180 days.",
           "links": "A shared link stops working after a week unless its owner extends it.",
           "breakfast": "Breakfast at the Saltmarsh is served between 6:30 and 10:00.",
           "checkout": "Guests can check out as late as 1 pm for 25 dollars.",
           "wrong-days": "Vaultbox keeps old versions of your files for 90 days.",
           "wrong-price": "Late checkout at the Saltmarsh costs 40 dollars."}


class Pipeline:
    """Answers from a table, with both passages as the retrieved contexts (no model call)."""

    def __init__(self, llm):
        self.llm = llm

    def __call__(self, question):
        return {"answer": ANSWERS[question.split()[0]], "contexts": PASSAGES}
'''


def test_grounded_in_a_rag_suite_gives_a_gateable_pass_rate(pytester: pytest.Pytester) -> None:
    """Through the plugin: the suite's pass rate is the grounded share, with its Wilson interval."""
    from llmops_testutils import LlmProject

    project = LlmProject(pytester)
    project.write("pipelines.py", RAG_PIPELINE)
    ids = ["versions", "links", "breakfast", "checkout"] * 2 + ["wrong-days", "wrong-price"]
    cases = "\n".join(f"  - id: c{n}\n    input: {q} please\n    checks: [grounded]" for n, q in enumerate(ids))
    project.suite("rag/grounding", f"subject: rag\nrag: pipelines:Pipeline\ncases:\n{cases}\n")
    project.run("--llm-model=echo:a").assert_outcomes(passed=8, failed=2)
    report = project.report()
    (suite,) = report["suites"].values()
    low, high = wilson_interval(8, 10)
    assert suite["metrics"]["pass_rate"] == {"value": 0.8, "ci95": [round(low, 6), round(high, 6)], "n": 10}
    failed = {c["id"]: c for c in report["cases"] if c["outcome"] == "failed"}
    assert set(failed) == {"c8", "c9"}
    assert "number '90' is in no context" in failed["c8"]["checks"][0]["evidence"]
    assert "number '40' is in no context" in failed["c9"]["checks"][0]["evidence"]
    assert failed["c8"]["contexts"] and report["cases"][0]["checks"][0]["passed"]
    config = parse_gate_config({"environments": {
        "loose": {"checks": ["rag/*: pass_rate.lb95 >= 0.45"]},   # unsupported share ub95 <= 0.55
        "strict": {"checks": ["rag/*: pass_rate.lb95 >= 0.6"]}}}, "inline")
    assert evaluate_gate(report, config, "loose").to_dict()["decision"] == "ALLOW"
    assert evaluate_gate(report, config, "strict").to_dict()["decision"] == "BLOCK"
