"""Input perturbations for metamorphic relations: seeded, deterministic, each recording what it changed.

A perturbation turns a *sample* (a mapping: ``{"text": ...}``, a multiple-choice question,
a RAG question with its passages...) into a follow-up sample. It gets a ``random.Random``
seeded by the caller, so the same seed always gives the same follow-up, and it returns a
:class:`Perturbed` whose ``changes`` say exactly what was edited (position, before, after).
A perturbation that finds nothing to change returns the sample unchanged with no changes:
the caller counts that case as a no-op instead of measuring a relation that was not tested.

Pure Python: nothing heavy is imported here (this module is loaded with the registry).

Writing one (register it through the ``llmops_register_perturbations`` hook)::

    class Shout(TextPerturbation):
        name = "shout"
        description = "upper-case the text and add an exclamation mark"

        def perturb_text(self, text, rng, options):
            new = text.upper() + "!"
            return new, [{"op": "shout", "before": text, "after": new}]
"""

from __future__ import annotations

from pytest_llmops.suites.metamorphic.perturbations.base import (
    Perturbation, Perturbed, TextPerturbation, describe_change,
)
from pytest_llmops.suites.metamorphic.perturbations.surface import (
    CONFUSABLES, Case, Confusables, Contractions, KEYBOARD_NEIGHBOURS, Punctuation, TYPO_OPS, Typos,
    Whitespace, osa_distance,
)
from pytest_llmops.suites.metamorphic.perturbations.content import (
    AppendSentence, Format, Negate, Numbers, Paraphrase, SwapLocations, SwapNames, SwapPronouns,
)
from pytest_llmops.suites.metamorphic.perturbations.structured import (
    AddDistractors, Counterfactual, GoldPosition, LETTERS, POSITIONS, PermuteOptions, RemoveGold,
    ShuffleContexts, ShuffleExamples, answer_index, answers_of, gold_index, gold_position,
)

BUILTIN_PERTURBATIONS: tuple[Perturbation, ...] = (
    Typos(), Case(), Whitespace(), Punctuation(), Contractions(), Confusables(), AppendSentence(),
    SwapNames(), SwapPronouns(), SwapLocations(), Numbers(), Paraphrase(), Format(), Negate(),
    PermuteOptions(), ShuffleExamples(), GoldPosition(), ShuffleContexts(), AddDistractors(), RemoveGold(),
    Counterfactual(),
)

__all__ = [
    "AddDistractors",
    "AppendSentence",
    "CONFUSABLES",
    "Case",
    "Confusables",
    "Contractions",
    "Counterfactual",
    "Format",
    "GoldPosition",
    "KEYBOARD_NEIGHBOURS",
    "LETTERS",
    "Negate",
    "Numbers",
    "POSITIONS",
    "Paraphrase",
    "PermuteOptions",
    "Perturbation",
    "Perturbed",
    "Punctuation",
    "RemoveGold",
    "ShuffleContexts",
    "ShuffleExamples",
    "SwapLocations",
    "SwapNames",
    "SwapPronouns",
    "TYPO_OPS",
    "TextPerturbation",
    "Typos",
    "Whitespace",
    "answer_index",
    "answers_of",
    "describe_change",
    "gold_index",
    "gold_position",
    "osa_distance",
    "BUILTIN_PERTURBATIONS",
]
