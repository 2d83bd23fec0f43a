"""Metamorphic perturbations: seeded and deterministic, each recording what it changed."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pytest_llmops.suites.metamorphic.core import (
    builtin_tables,
    make_followups,
    stable_seed,
)
from pytest_llmops.suites.metamorphic.perturbations import CONFUSABLES, osa_distance

PERTURBATIONS, _ = builtin_tables()
LEXICON = {
    "names": {"female": ["Maria", "Emily", "Aisha"], "male": ["John", "Kwame", "Hiroshi"]},
    "locations": [["Lagos", "Oslo", "Lima"]],
    "paraphrases": [["Answer with one word.", "Reply with a single word."]],
    "irrelevant_sentences": ["The train leaves every hour."],
}
TEXT = ("Maria from Lagos said she doesn't like the 45 dollar lamp; it is too bright, and her brother agrees. "
        "Answer with one word.")
RAG = {"question": "How tall is the tower?", "gold": "The tower is 212 metres tall.", "answer": ["212"],
       "counterfactual": "305", "contexts": ["The tower is 212 metres tall.", "The river is long.", "Cafes open at 7."],
       "pool": ["Bikes are free.", "The library closes at 6."]}
MC = {"question": "Capital of France?", "options": ["Lyon", "Paris", "Nice", "Lille"], "answer": "B"}
FEW_SHOT = {"text": "q", "examples": [{"text": "a", "label": "x"}, {"text": "b", "label": "y"},
                                      {"text": "c", "label": "z"}]}

# A sample each perturbation applies to, and options it needs.
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "typos": ({"text": TEXT}, {"max_edits": 3}),
    "case": ({"text": TEXT}, {}),
    "whitespace": ({"text": TEXT}, {}),
    "punctuation": ({"text": TEXT}, {}),
    "contractions": ({"text": TEXT}, {}),
    "confusables": ({"text": TEXT}, {}),
    "append-sentence": ({"text": TEXT}, {}),
    "swap-names": ({"text": TEXT}, {}),
    "swap-pronouns": ({"text": TEXT}, {}),
    "swap-locations": ({"text": TEXT}, {}),
    "numbers": ({"text": TEXT}, {}),
    "paraphrase": ({"text": TEXT}, {}),
    "format": ({"text": "name: Alice; age: 30; city: Oslo"}, {}),
    "negate": ({"text": TEXT}, {}),
    "permute-options": (MC, {}),
    "shuffle-examples": (FEW_SHOT, {}),
    "gold-position": (RAG, {"position": "last"}),
    "shuffle-contexts": (RAG, {}),
    "add-distractors": (RAG, {}),
    "remove-gold": (RAG, {}),
    "counterfactual": (RAG, {}),
}


def apply(name: str, sample: dict[str, Any], seed: int, **options: Any) -> Any:
    perturbation = PERTURBATIONS[name]
    validated = perturbation.validate(options)
    return perturbation.apply(dict(sample), random.Random(seed), {**validated, "field": "text", "lexicon": LEXICON})


def test_every_builtin_has_a_sample() -> None:
    assert set(SAMPLES) == set(PERTURBATIONS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_deterministic_under_a_seed_and_records_what_changed(name: str) -> None:
    sample, options = SAMPLES[name]
    before = {k: (list(v) if isinstance(v, list) else v) for k, v in sample.items()}
    first = apply(name, sample, 7, **options)
    again = apply(name, sample, 7, **options)
    assert first.sample == again.sample and first.changes == again.changes
    assert sample == before, "a perturbation must not modify its input sample"
    assert first.sample != sample, f"{name} changed nothing in its sample"
    assert first.changes, "a change must be recorded"
    assert all(isinstance(c.get("op"), str) for c in first.changes)
    assert first.description != "no change"
    for change in first.changes:  # positional edits can be replayed on the source text
        if "at" in change and "before" in change and isinstance(sample.get("text"), str):
            assert sample["text"][change["at"]:change["at"] + len(change["before"])] == change["before"]


@pytest.mark.parametrize("name", ["typos", "whitespace", "confusables", "swap-names", "numbers",
                                  "shuffle-contexts", "add-distractors", "permute-options"])
def test_the_seed_matters(name: str) -> None:
    sample, options = SAMPLES[name]
    outputs = {repr(apply(name, sample, seed, **options).sample) for seed in range(12)}
    assert len(outputs) > 1


@pytest.mark.parametrize("max_edits", [1, 2, 4])
def test_typos_are_bounded_by_edit_distance(max_edits: int) -> None:
    texts = [TEXT, "What is the capital of France?", "Short words: a an the it is.", "Mississippi committee"]
    for text in texts:
        for seed in range(40):
            out = apply("typos", {"text": text}, seed, max_edits=max_edits)
            distance = osa_distance(text, out.sample["text"])
            assert distance <= max_edits, (text, out.sample["text"], out.changes)
            if out.changes:
                assert out.facts == {"edit_distance": distance, "max_edits": max_edits}
                assert 1 <= len(out.changes) <= max_edits


def test_typos_only_touch_chosen_operations() -> None:
    for seed in range(20):
        out = apply("typos", {"text": TEXT}, seed, max_edits=3, ops=["delete"])
        assert {c["op"] for c in out.changes} == {"delete"}
        assert len(out.sample["text"]) == len(TEXT) - len(out.changes)


def test_osa_distance() -> None:
    assert osa_distance("abc", "abc") == 0
    assert osa_distance("abc", "acb") == 1  # one adjacent swap
    assert osa_distance("abc", "ab") == 1
    assert osa_distance("kitten", "sitting") == 3


@pytest.mark.parametrize("name, sample", [
    ("typos", {"text": "a an it 42"}),                      # no word long enough
    ("case", {"text": "123 + 456"}),                        # nothing has a case
    ("contractions", {"text": "Plain words here"}),
    ("confusables", {"text": "123 !!"}),
    ("swap-names", {"text": "Nobody is named here."}),
    ("swap-pronouns", {"text": "They went home."}),
    ("numbers", {"text": "No digits at all."}),
    ("paraphrase", {"text": "An instruction nobody reviewed."}),
    ("negate", {"text": "Lovely food, friendly staff."}),
    ("permute-options", {"question": "q", "options": ["same", "same"], "answer": 0}),
    ("shuffle-examples", {"text": "q", "examples": [{"text": "only one", "label": "x"}]}),
    ("gold-position", {**RAG, "contexts": ["d1", "d2", "The tower is 212 metres tall."]}),  # already last
    ("remove-gold", {**RAG, "contexts": ["d1", "d2"]}),
    ("add-distractors", {**RAG, "pool": []}),
    ("counterfactual", {**RAG, "counterfactual": None}),
])
def test_no_op_is_reported_as_no_change(name: str, sample: dict[str, Any]) -> None:
    options = {"position": "last"} if name == "gold-position" else {}
    out = apply(name, sample, 1, **options)
    assert out.changes == [] and out.sample == sample
    assert out.description == "no change"


def test_text_perturbation_names_a_missing_field() -> None:
    with pytest.raises(ValueError, match="text field 'question'"):
        PERTURBATIONS["typos"].apply({"text": "x"}, random.Random(0), {"field": "question"})


def test_options_are_validated_with_their_name() -> None:
    with pytest.raises(ValueError, match="'max_edits' must be a positive integer"):
        PERTURBATIONS["typos"].validate({"max_edits": 0})
    with pytest.raises(ValueError, match="unknown option 'nope' for perturbation 'case'"):
        PERTURBATIONS["case"].validate({"nope": 1})
    with pytest.raises(ValueError, match="'position' must be one of"):
        PERTURBATIONS["gold-position"].validate({"position": "top"})
    with pytest.raises(ValueError, match="'lexicon:' file with 'names:'"):
        PERTURBATIONS["swap-names"].apply({"text": "Maria"}, random.Random(0), {"field": "text", "lexicon": {}})


def test_specific_edits() -> None:
    assert apply("negate", {"text": "The soup was good."}, 0).sample["text"] == "The soup was not good."
    assert apply("negate", {"text": "The soup isn't good."}, 0).sample["text"] == "The soup is good."
    pronouns = apply("swap-pronouns", {"text": "She gave her book to him."}, 0).sample["text"]
    assert pronouns == "He gave his book to her."
    assert apply("swap-pronouns", {"text": "We thanked her and left."}, 0).sample["text"] == "We thanked him and left."
    contracted = apply("contractions", {"text": "I do not know, it is late."}, 0).sample["text"]
    assert contracted == "I don't know, it's late."
    names = apply("swap-names", {"text": "Maria met John; Maria smiled."}, 3)
    new = names.sample["text"]
    assert "Maria" not in new and "John" not in new and new.count(new.split()[0]) == 2  # same name both times
    assert {c["from"] for c in names.changes} == {"Maria", "John"}
    # A female name stays in the female group (pronouns still fit).
    assert next(c["to"] for c in names.changes if c["from"] == "Maria") in LEXICON["names"]["female"]
    confused = apply("confusables", {"text": "cocoa"}, 0, n=5).sample["text"]
    assert confused != "cocoa" and all(ch in CONFUSABLES.values() for ch in confused)
    number = apply("numbers", {"text": "It costs 45 dollars, 45 in total, for 3 items."}, 2)
    (change,) = number.changes
    assert number.sample["text"].count(change["to"]) == (2 if change["from"] == "45" else 1)  # every occurrence
    assert len(change["to"]) == len(change["from"]) and change["to"] != change["from"]


def test_multiple_choice_answer_follows_its_option() -> None:
    for seed in range(20):
        out = apply("permute-options", MC, seed)
        assert sorted(out.sample["options"]) == sorted(MC["options"])
        new_letter = out.sample["answer"]
        assert out.sample["options"]["ABCD".index(new_letter)] == "Paris"
        assert new_letter != "B"  # the correct option always moves
        assert out.changes[0]["from"] == "B" and out.changes[0]["to"] == new_letter


def test_rag_perturbations() -> None:
    middle = apply("gold-position", RAG, 0, position="middle").sample["contexts"]
    assert middle[1] == RAG["gold"] and len(middle) == 3
    removed = apply("remove-gold", RAG, 0)
    assert RAG["gold"] not in removed.sample["contexts"] and len(removed.sample["contexts"]) == 2
    added = apply("add-distractors", RAG, 0, n=2).sample["contexts"]
    assert len(added) == 5 and set(RAG["pool"]) <= set(added)
    edited = apply("counterfactual", RAG, 0)
    assert edited.sample["contexts"][0] == "The tower is 305 metres tall."
    assert edited.sample["answer"] == ["305"] and edited.changes[0] == {
        "op": "counterfactual", "from": "212", "to": "305", "passage": 0}


def test_followups_have_their_own_stable_seeds() -> None:
    perturbation = PERTURBATIONS["typos"]
    options = perturbation.validate({})
    one = make_followups({"text": TEXT}, [(perturbation, options)], 3, 0, "block|a", "text", LEXICON)
    two = make_followups({"text": TEXT}, [(perturbation, options)], 3, 0, "block|a", "text", LEXICON)
    assert [f.sample for f in one] == [f.sample for f in two]
    assert [f.seed for f in one] == [stable_seed(0, "block|a", "typos", v) for v in range(3)]
    other_run_seed = make_followups({"text": TEXT}, [(perturbation, options)], 3, 1, "block|a", "text", LEXICON)
    assert [f.seed for f in other_run_seed] != [f.seed for f in one]
