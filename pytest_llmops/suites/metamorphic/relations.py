"""Relations that must hold between a source output and a follow-up output.

An *output relation* compares two outputs (``check(pair, options)``); its ``family`` says
what kind of relation it is:

- ``invariance``: the output must not change (normalized exact match, same label, same
  JSON fields, numbers within a tolerance, embedding cosine above a threshold);
- ``equivariance``: the output must change the way the input did (a multiple-choice answer
  follows its option when the options are permuted);
- ``directional``: the output must change in a stated direction (negation flips a label,
  removing the gold passage leads to abstention, a counterfactual edit is followed).

A relation may be *undecided* for a pair (``holds=None``) when its precondition is not met:
a label cannot flip when the source output has no label. Undecided pairs are reported and
left out of the violation rate.

This module holds the protocol (:class:`Relation`, :class:`Pair`, :class:`Verdict`) and
the helpers relations read outputs with (normalisation, labels, numbers, JSON, chosen
options, abstentions). The built-in output relations are in :mod:`.output_relations`;
*model relations* (``prefix-consistency``, ``batch-invariance``, ``stream-consistency``)
talk to the provider directly and live in :mod:`.model_relations`.

Pure Python at import time.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pytest_llmops.core.json_text import NOT_FOUND, decode_first, fenced_body
from pytest_llmops.suites.metamorphic.perturbations import LETTERS, answers_of

INVARIANCE, EQUIVARIANCE, DIRECTIONAL, MODEL = "invariance", "equivariance", "directional", "model"


@dataclass
class Pair:
    """A source and a follow-up: their outputs, their samples and what the perturbation changed."""

    source: Any
    followup: Any
    source_sample: dict[str, Any] = field(default_factory=dict)
    followup_sample: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Verdict:
    """``holds``: True, False (violated) or None (undecided), with the evidence for a report."""

    holds: bool | None
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)


class Relation:
    """Base class of output relations: set ``name`` and ``family``, implement ``check``."""

    name = ""
    family = INVARIANCE
    description = ""
    #: model relations run against the provider themselves (see model_relations.py)
    direct = False
    options: tuple[str, ...] = ()

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """The suite's options, checked (``ValueError`` naming the option) and normalised."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise ValueError(f"unknown option {unknown[0]!r} for relation {self.name!r}; accepted: {accepted}")
        return dict(options)

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        """Whether the relation holds for ``pair`` (True, False or None when undecided)."""
        raise NotImplementedError


# -- helpers -----------------------------------------------------------------------------

def as_text(value: Any) -> str:
    """An output as text: strings as they are, ``None`` empty, anything else as sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def normalize(text: Any) -> str:
    """NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    value = unicodedata.normalize("NFKC", as_text(text)).casefold()
    value = "".join(ch if not unicodedata.category(ch).startswith("P") else " " for ch in value)
    return " ".join(value.split())


def contains_term(text: Any, term: str) -> bool:
    """``term`` occurs in ``text`` as whole words, after normalisation."""
    haystack, needle = normalize(text), normalize(term)
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def quoted_excerpt(text: Any, limit: int = 80) -> str:
    """The text on one line, cut to ``limit`` characters with ``...``, as a Python repr (quoted).

    For verdict evidence and failure messages; not :func:`pytest_llmops.report.safe_text.clip`,
    which cuts display text for reports (``…``, no quotes, newlines kept).
    """
    value = as_text(text).replace("\n", " ")
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def label_keywords(options: dict[str, Any]) -> dict[str, list[str]]:
    """A relation's ``labels`` option as ``{label: [keywords]}`` (a list of labels is its own keywords)."""
    labels = options.get("labels")
    if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
        return {x: [x] for x in labels}
    if isinstance(labels, dict) and labels:
        out = {}
        for label, words in labels.items():
            words = [words] if isinstance(words, str) else words
            if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
                raise ValueError(f"option 'labels': {label!r} needs a keyword or a list of keywords")
            out[str(label)] = words
        return out
    if labels is None:
        raise ValueError("option 'labels' is required: a list of labels, or a mapping label -> keywords")
    hint = " (quote yes/no/on/off: YAML reads them as booleans)" if "True" in repr(labels) or "False" in repr(
        labels) else ""
    raise ValueError(f"option 'labels' must be a list of strings or a mapping label -> keywords, got {labels!r}{hint}")


def extract_label(output: Any, labels: dict[str, list[str]]) -> str | None:
    """The label whose keyword occurs first in the output (whole words, case-insensitive)."""
    text = normalize(output)
    best: tuple[int, int, str] | None = None
    for label, words in labels.items():
        for word in words:
            m = re.search(rf"(?<!\w){re.escape(normalize(word))}(?!\w)", text)
            if m and (best is None or (m.start(), -len(word)) < (best[0], best[1])):
                best = (m.start(), -len(word), label)
    return best[2] if best else None


_NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def extract_number(output: Any) -> float | None:
    """The first number in the output (``1,250.5`` reads as 1250.5), or ``None``."""
    m = _NUMBER_RE.search(as_text(output))
    return float(m.group().replace(",", "")) if m else None


def first_json_or_none(output: Any) -> Any:
    """The first JSON object or array in the output (a Markdown code fence is fine); None if none.

    Unlike :func:`pytest_llmops.checks.builtin.extract_json` (the ``is-json`` check), this never
    raises, accepts an already-parsed value, ignores bare scalars and tries every ``{``/``[`` in
    turn: a relation compares what JSON two outputs hold, possibly none.
    """
    if isinstance(output, (dict, list)):
        return output
    text = as_text(output)
    body = fenced_body(text)
    for candidate in ([body] if body is not None else []) + [text]:
        value = decode_first(candidate, (m.start() for m in re.finditer(r"[\[{]", candidate)))
        if value is not NOT_FOUND:
            return value
    return None


def chosen_option(output: Any, options: list[str]) -> int | None:
    """Which option an answer picks: a leading letter, 'answer is X', or the earliest option text."""
    text = as_text(output).strip()
    letters = LETTERS[:len(options)]
    # "B", "B.", "(B)", "B) Paris", "B - Paris" at the start; "the answer is B" anywhere.
    patterns = (rf"^\W*(?:option\s+)?\(?([{letters}])(?:[).:\]]|\s*$|\s+[-\u2013]|\s*\n)",
                rf"(?i:answer(?: is)?|option|choice)\W{{0,3}}\(?([{letters}])\b")
    for pattern in patterns:
        m = re.search(pattern, text)
        if m:
            return letters.index(m.group(1))
    lowered = normalize(text)
    hits = []
    for index, option in enumerate(options):
        m = re.search(rf"(?<!\w){re.escape(normalize(option))}(?!\w)", lowered)
        if m:
            hits.append((m.start(), -len(option), index))
    return min(hits)[2] if hits else None


ABSTENTION_PHRASES = (
    "don't know", "do not know", "dont know", "not sure", "cannot answer", "can't answer", "unable to answer",
    "no information", "not enough information", "insufficient information", "does not contain",
    "doesn't contain", "does not mention", "doesn't mention", "not mentioned", "not provided", "not specified",
    "not stated", "not given", "no mention", "cannot be determined", "can't be determined", "unknown",
    "not in the context", "no answer", "cannot find", "can't find", "couldn't find", "could not find",
    "not available", "doesn't say", "does not say", "doesn't specify", "does not specify",
)


def abstains(output: Any, phrases: tuple[str, ...] | list[str] = ABSTENTION_PHRASES) -> str | None:
    """The abstention phrase found in the output, if any."""
    text = as_text(output).casefold().replace("\u2019", "'")
    for phrase in phrases:
        if phrase in text:
            return phrase
    return None


def is_correct(output: Any, sample: dict[str, Any]) -> bool | None:
    """Whether the output names one of the sample's accepted answers; ``None`` without answers."""
    answers = answers_of(sample)
    if not answers:
        return None
    return any(contains_term(output, a) for a in answers)
