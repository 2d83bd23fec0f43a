"""Corruption operators: each turns a model's answer into a visibly worse one.

An operator is a pure function ``(answer, question, rng) -> str``: the same answer, question
and ``rng`` state give the same output, and nothing else is read. They are what a planted
fault does to an answer (see :mod:`pytest_llmops.faults.provider`), named in ``OPERATORS``:

``entity_swap``
    The key entity (longest capitalised span the question does not name, else a number, else
    the last content word) becomes a different one of the same kind: a city for a city, a
    country for a country, a person for a person, a number off by 1 to 9, an opposite or
    another noun for a plain word. Every occurrence changes; the text always differs.
``negation``
    The main clause is negated: the first ``is``/``was``/``are``/``will``... gains a ``not``
    (``can`` becomes ``cannot``; an existing ``not`` or ``n't`` is dropped instead), else the
    answer is prefixed with "It is not true that". A one- or two-word answer becomes "Not X."
``truncation``
    Only the first ~40% of the words are kept (at least one, always fewer than all), without
    final punctuation; a one-word answer loses the second half of its characters.
``scramble``
    The same words in another order (the same multiset of whitespace tokens); two words are
    swapped, and one word has its characters shuffled.
``hedging``
    The answer wrapped in uncertainty ("I'm not completely sure, but I think maybe ...").
``repetition``
    A degenerate loop: a short answer repeated 3-5 times, or a long one followed by its last
    few words repeated 3-5 times.
``language_switch``
    A French, Spanish or German sentence that carries only the key entity, as a model that
    slipped into another language would answer (there is no translator offline).
``empty``
    The empty string.
``refusal``
    A refusal ("I'm sorry, but I can't help with that.").
``off_topic``
    A fluent sentence about something else entirely.

``VERSION`` is part of a faulty model's fingerprint: bump it whenever an operator's output
changes, so that cached corrupted answers are not served for the new operators.
"""

from __future__ import annotations

import random
import re
from typing import Callable, Sequence

from pytest_llmops.faults.entities import PROPER_NOUNS, key_entity, replace_all, replacement

Operator = Callable[[str, str, random.Random], str]

VERSION = 2  # 2: the corruption of an answer no longer depends on the seed

_FINAL_PUNCTUATION = ".,;:!?…"

HEDGES = (
    "I'm not completely sure, but I think maybe {answer}, although I could be wrong.",
    "This is only a guess and I may well be mistaken: {answer}, perhaps.",
    "Honestly, I don't know for certain. Possibly {answer}, but please double-check.",
    "If I had to guess, I would say {answer}, but I really am not sure about it.",
    "Hmm, hard to say. It could be {answer}, or it could be something else entirely.",
)
FOREIGN = (
    "Je pense que la réponse est {entity}, mais je ne suis pas certain.",
    "D'après ce que je sais, il s'agit de {entity}.",
    "Creo que la respuesta es {entity}, pero no estoy seguro.",
    "Según lo que sé, la respuesta correcta sería {entity}.",
    "Ich glaube, die Antwort ist {entity}, aber ich bin mir nicht sicher.",
    "Soweit ich weiß, lautet die Antwort {entity}.",
)
# For an answer without any word to carry over.
FOREIGN_BARE = (
    "Je ne connais pas la réponse à cette question.",
    "No conozco la respuesta a esta pregunta.",
    "Ich kenne die Antwort auf diese Frage nicht.",
)
REFUSALS = (
    "I'm sorry, but I can't help with that.",
    "I'm afraid I can't answer that question.",
    "Sorry, I am unable to provide that information.",
    "I cannot assist with this request.",
    "Unfortunately, that is not something I can help with.",
)
OFF_TOPIC = (
    "Bananas are botanically classified as berries, while strawberries are not.",
    "The Great Wall of China was built over many centuries by several dynasties.",
    "Regular exercise can improve both sleep quality and mood.",
    "Octopuses have three hearts and blue blood.",
    "A good sourdough starter needs flour, water and a few days of patience.",
    "The first programmable computers filled entire rooms.",
    "Honey never spoils if it is stored in a sealed container.",
    "Chess originated in India around the sixth century.",
    "Most houseplants prefer bright, indirect light and moderate watering.",
    "The Pacific is the largest and deepest of the world's oceans.",
    "Jazz developed in New Orleans in the early twentieth century.",
    "Cats sleep for roughly twelve to sixteen hours a day.",
    "Mount Everest grows a few millimetres taller every year.",
    "Learning a second language can take several years of steady practice.",
    "Coffee beans are actually the seeds of a cherry-like fruit.",
)

# Auxiliaries that take "not" right after them; the first one in the answer is taken to be
# the main clause's (answers tend to lead with it).
_AUXILIARIES = r"is|are|was|were|am|will|would|could|should|must|may|might|does|do|did|has been|have been"
_AUX = re.compile(rf"\b({_AUXILIARIES}|can)\b( not\b)?", re.IGNORECASE)
_CONTRACTED = re.compile(r"\b(?P<base>is|are|was|were|does|do|did|could|should|would|ca|wo)n['’]t\b"
                         r"|\b(?P<can>can)not\b", re.IGNORECASE)
_UNCONTRACTED = {"ca": "can", "wo": "will"}


def _sentence_body(answer: str) -> str:
    """The answer on one line, without the final punctuation, and lower-cased at the start when
    the first word is capitalised only because it starts a sentence (so it can sit inside
    another sentence). Names we know, acronyms, "I" and multi-word names keep their capital."""
    body = " ".join(answer.split()).rstrip(_FINAL_PUNCTUATION)
    first, _, rest = body.partition(" ")
    plain = first.strip(",;:").casefold() not in PROPER_NOUNS
    if plain and first != "I" and not first.isupper() and not rest[:1].isupper():
        body = body[:1].lower() + body[1:]
    return body


def entity_swap(answer: str, question: str, rng: random.Random) -> str:
    """The key entity replaced by another of its kind, wherever it occurs."""
    entity = key_entity(answer, question)
    if entity is None:
        # Nothing to swap in an answer without words: a confident wrong entity instead.
        return rng.choice(("Paris", "42", "Alice Smith"))
    return replace_all(answer, entity, replacement(entity, answer, rng))


def negation(answer: str, question: str, rng: random.Random) -> str:
    """The main clause negated (or an existing negation dropped); "Not X." for a short answer."""
    words = answer.split()
    if len(words) <= 2:
        return f"Not {_sentence_body(answer) or 'so'}."
    contracted = _CONTRACTED.search(answer)
    found = _AUX.search(answer)
    if contracted and (found is None or contracted.start() <= found.start()):
        # An answer that already denies something is corrupted by affirming it.
        base = contracted.group("base") or contracted.group("can")
        full = _UNCONTRACTED.get(base.casefold(), base)
        full = full[:1].upper() + full[1:] if base[:1].isupper() else full
        return answer[:contracted.start()] + full + answer[contracted.end():]
    if found is None:
        return f"It is not true that {_sentence_body(answer)}."
    aux, has_not = found.group(1), found.group(2)
    if has_not:
        negated = aux
    elif aux.casefold() == "can":
        negated = aux + "not"
    else:
        parts = aux.split(" ")  # "has been" -> "has not been"
        negated = " ".join([parts[0], "not", *parts[1:]])
    return answer[:found.start()] + negated + answer[found.end():]


def truncation(answer: str, question: str, rng: random.Random) -> str:
    """The first ~40% of the words, without final punctuation; half of a single word."""
    words = answer.split()
    if len(words) == 1:
        word = words[0].rstrip(_FINAL_PUNCTUATION)
        return word[:len(word) // 2]
    keep = min(len(words) - 1, max(1, round(len(words) * 0.4)))
    return " ".join(words[:keep]).rstrip(_FINAL_PUNCTUATION)


def _reordered(items: list[str], rng: random.Random) -> list[str]:
    """``items`` shuffled until the order differs (unchanged only when every item is the same)."""
    if len(set(items)) < 2:
        return list(items)
    if len(items) == 2:
        return items[::-1]
    shuffled = list(items)
    for _ in range(20):
        rng.shuffle(shuffled)
        if shuffled != items:
            return shuffled
    # Twenty identical shuffles only happen with a few repeated items: one swap must do.
    other = next(i for i, item in enumerate(items) if item != items[0])
    shuffled = list(items)
    shuffled[0], shuffled[other] = shuffled[other], shuffled[0]
    return shuffled


def scramble(answer: str, question: str, rng: random.Random) -> str:
    """The same words in another order; a single word's characters shuffled."""
    words = answer.split()
    if len(words) == 1:
        return "".join(_reordered(list(words[0]), rng))
    return " ".join(_reordered(words, rng))


def hedging(answer: str, question: str, rng: random.Random) -> str:
    """The answer wrapped in one of :data:`HEDGES`."""
    return rng.choice(HEDGES).format(answer=_sentence_body(answer) or "it depends")


def repetition(answer: str, question: str, rng: random.Random) -> str:
    """The answer, or its last few words, repeated 3-5 times."""
    words = answer.split()
    if not words:
        return ""
    times = rng.randint(3, 5)
    if len(words) <= 6:
        return " ".join([" ".join(words)] * times)
    tail = " ".join(words[-rng.randint(2, 4):])
    return " ".join([" ".join(words), *[tail] * times])


def language_switch(answer: str, question: str, rng: random.Random) -> str:
    """A French, Spanish or German sentence around the key entity."""
    entity = key_entity(answer, question)
    if entity is None:
        return rng.choice(FOREIGN_BARE)
    return _choice_other_than(answer, [template.format(entity=entity.text) for template in FOREIGN], rng)


def empty(answer: str, question: str, rng: random.Random) -> str:
    """No answer at all."""
    return ""


def refusal(answer: str, question: str, rng: random.Random) -> str:
    """One of :data:`REFUSALS`."""
    return _choice_other_than(answer, REFUSALS, rng)


def off_topic(answer: str, question: str, rng: random.Random) -> str:
    """One of :data:`OFF_TOPIC` (never the answer itself)."""
    return _choice_other_than(answer, OFF_TOPIC, rng)


def _choice_other_than(answer: str, sentences: Sequence[str], rng: random.Random) -> str:
    """One of ``sentences``, never the answer itself (a model may answer with one of ours)."""
    same = " ".join(answer.split())
    return rng.choice([sentence for sentence in sentences if sentence != same])


OPERATORS: dict[str, Operator] = {
    "entity_swap": entity_swap,
    "negation": negation,
    "truncation": truncation,
    "scramble": scramble,
    "hedging": hedging,
    "repetition": repetition,
    "language_switch": language_switch,
    "empty": empty,
    "refusal": refusal,
    "off_topic": off_topic,
}
