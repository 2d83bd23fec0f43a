"""Structured samples: multiple-choice options, few-shot order, RAG contexts."""


from __future__ import annotations

import random
import re
from typing import Any

from pytest_llmops.suites.metamorphic.perturbations.base import Perturbation, Perturbed, positive_int_option

# -- multiple choice and few-shot ---------------------------------------------------------

LETTERS = "ABCDEFGHIJ"


def answer_index(sample: dict[str, Any]) -> int:
    """The correct option's index from ``answer`` (a letter, an index or the option's text)."""
    options, answer = sample.get("options"), sample.get("answer")
    if not isinstance(options, list) or len(options) < 2:
        raise ValueError("a multiple-choice sample needs 'options': a list of at least two strings")
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options")
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(options):
        return answer
    if isinstance(answer, str):
        if len(answer) == 1 and answer.upper() in LETTERS[:len(options)]:
            return LETTERS.index(answer.upper())
        if answer in options:
            return options.index(answer)
    raise ValueError(f"'answer' must be a letter, an index or one of the options, got {answer!r}")


def _permutation(rng: random.Random, n: int, mode: str, must_move: int | None = None) -> list[int]:
    """``order[new_position] = old_position``; never the identity for n >= 2 (shuffle moves
    ``must_move`` to another place when given)."""
    if mode == "reverse":
        return list(reversed(range(n)))
    if mode == "rotate":
        k = rng.randrange(1, n)
        return [(i + k) % n for i in range(n)]
    order = list(range(n))
    for _ in range(100):
        rng.shuffle(order)
        if order != list(range(n)) and (must_move is None or order[must_move] != must_move):
            break
    return order


class PermuteOptions(Perturbation):
    """Multiple-choice options permuted; the follow-up's ``answer`` follows its option (the
    correct option always changes position unless ``move_answer: false``)."""

    name = "permute-options"
    description = "multiple-choice option permutation"
    options = ("mode", "move_answer")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if options.get("mode", "shuffle") not in ("shuffle", "reverse", "rotate"):
            raise ValueError("option 'mode' must be shuffle, reverse or rotate")
        return options

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        correct = answer_index(sample)
        opts = list(sample["options"])
        if len(set(opts)) < 2:
            return Perturbed(dict(sample), [])
        order = _permutation(rng, len(opts), options.get("mode", "shuffle"),
                             correct if options.get("move_answer", True) else None)
        new_options = [opts[old] for old in order]
        if new_options == opts:
            return Perturbed(dict(sample), [])
        new_answer = order.index(correct)
        return Perturbed({**sample, "options": new_options, "answer": LETTERS[new_answer]},
                         [{"op": "permute-options", "order": [LETTERS[o] for o in order],
                           "from": LETTERS[correct], "to": LETTERS[new_answer]}])


class ShuffleExamples(Perturbation):
    """Few-shot examples reordered (``examples`` of the sample; never the identity order)."""

    name = "shuffle-examples"
    description = "few-shot example order"
    options = ("mode",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if options.get("mode", "shuffle") not in ("shuffle", "reverse", "rotate"):
            raise ValueError("option 'mode' must be shuffle, reverse or rotate")
        return options

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        examples = sample.get("examples")
        if not isinstance(examples, list):
            raise ValueError("shuffle-examples needs a sample with 'examples': a list")
        if len(examples) < 2:
            return Perturbed(dict(sample), [])
        order = _permutation(rng, len(examples), options.get("mode", "shuffle"))
        new_examples = [examples[i] for i in order]
        if new_examples == examples:
            return Perturbed(dict(sample), [])
        return Perturbed({**sample, "examples": new_examples}, [{"op": "reorder-examples", "order": order}])


# -- RAG contexts -----------------------------------------------------------------------

POSITIONS = ("first", "middle", "last")


def gold_index(sample: dict[str, Any]) -> int | None:
    gold = sample.get("gold")
    contexts = sample.get("contexts") or []
    return contexts.index(gold) if gold in contexts else None


def gold_position(sample: dict[str, Any]) -> str | None:
    """Where the gold passage sits: first, middle or last (None when it is absent)."""
    index = gold_index(sample)
    if index is None:
        return None
    size = len(sample["contexts"])
    if index == 0:
        return "first"
    return "last" if index == size - 1 else "middle"


def _contexts(sample: dict[str, Any], name: str) -> list[str]:
    contexts = sample.get("contexts")
    if not isinstance(contexts, list):
        raise ValueError(f"{name} needs a RAG sample with 'contexts' (use subject: rag)")
    return list(contexts)


class GoldPosition(Perturbation):
    """The gold passage moved to the first, middle or last place among the contexts."""

    name = "gold-position"
    description = "RAG context permutation: gold passage first, middle or last"
    reorders_contexts = True
    options = ("position",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if options.get("position") not in POSITIONS:
            raise ValueError(f"option 'position' must be one of {list(POSITIONS)}, got {options.get('position')!r}")
        return options

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        contexts = _contexts(sample, self.name)
        index = gold_index(sample)
        if index is None or len(contexts) < 2:
            return Perturbed(dict(sample), [])
        position = options["position"]
        gold = contexts.pop(index)
        target = {"first": 0, "last": len(contexts), "middle": (len(contexts) + 1) // 2}[position]
        contexts.insert(target, gold)
        if target == index:
            return Perturbed(dict(sample), [])
        return Perturbed({**sample, "contexts": contexts},
                         [{"op": "move-gold", "from": index, "to": target, "position": position}])


class ShuffleContexts(Perturbation):
    name = "shuffle-contexts"
    description = "RAG context permutation: passages in a random order"
    reorders_contexts = True

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        contexts = _contexts(sample, self.name)
        if len(set(contexts)) < 2:
            return Perturbed(dict(sample), [])
        order = _permutation(rng, len(contexts), "shuffle")
        return Perturbed({**sample, "contexts": [contexts[i] for i in order]}, [{"op": "reorder-contexts",
                                                                                "order": order}])


class AddDistractors(Perturbation):
    """Distractor passages (the sample's unused ``pool``, or ``passages``) inserted at random places."""

    name = "add-distractors"
    description = "RAG: distractor passages added to the contexts"
    options = ("n", "passages")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["n"] = positive_int_option(options, "n", 2)
        passages = options.get("passages")
        if passages is not None and (not isinstance(passages, list) or not all(isinstance(p, str) for p in passages)):
            raise ValueError("option 'passages' must be a list of passages")
        return options

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        contexts = _contexts(sample, self.name)
        pool = [p for p in (options.get("passages") or sample.get("pool") or []) if p not in contexts]
        if not pool:
            return Perturbed(dict(sample), [])
        added = rng.sample(pool, min(options.get("n", 2), len(pool)))
        changes = []
        for passage in added:
            at = rng.randint(0, len(contexts))
            contexts.insert(at, passage)
            changes.append({"op": "add-distractor", "at": at, "before": "", "after": passage})
        return Perturbed({**sample, "contexts": contexts, "pool": [p for p in pool if p not in added]}, changes)


class RemoveGold(Perturbation):
    name = "remove-gold"
    description = "RAG: the gold passage removed from the contexts"

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        contexts = _contexts(sample, self.name)
        index = gold_index(sample)
        if index is None:
            return Perturbed(dict(sample), [])
        removed = contexts.pop(index)
        return Perturbed({**sample, "contexts": contexts}, [{"op": "remove-gold", "at": index, "before": removed,
                                                              "after": ""}])


def answers_of(sample: dict[str, Any]) -> list[str]:
    answer = sample.get("answer")
    values = answer if isinstance(answer, list) else [answer]
    return [str(v) for v in values if v is not None and str(v).strip()]


class Counterfactual(Perturbation):
    """The gold fact edited: the answer inside the gold passage replaced by the sample's
    ``counterfactual`` value; the follow-up's ``answer`` becomes that value."""

    name = "counterfactual"
    description = "RAG: counterfactual edit of the gold fact"

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        contexts = _contexts(sample, self.name)
        index = gold_index(sample)
        new_value = sample.get("counterfactual")
        if index is None or new_value is None:
            return Perturbed(dict(sample), [])
        gold = contexts[index]
        old_value = next((a for a in answers_of(sample) if re.search(rf"(?<!\w){re.escape(a)}(?!\w)", gold)), None)
        if old_value is None or str(new_value) == old_value:
            return Perturbed(dict(sample), [])
        edited = re.sub(rf"(?<!\w){re.escape(old_value)}(?!\w)", str(new_value), gold)
        contexts[index] = edited
        return Perturbed({**sample, "contexts": contexts, "gold": edited, "answer": [str(new_value)]},
                         [{"op": "counterfactual", "from": old_value, "to": str(new_value), "passage": index}])


