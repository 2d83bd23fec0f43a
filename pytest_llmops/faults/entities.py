"""An answer's key entity, and a different entity of the same kind to put in its place.

The key entity is what a grader most likely looks for: the longest capitalised span (a city,
a country, a person) that the question does not already name, else a number, else the last
content word. Its replacement comes from small lists of our own, so that a swapped answer
still reads like an answer (``Paris`` becomes ``Madrid``, ``42`` becomes ``45``) while being
wrong.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

CITIES = ("Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Prague", "Warsaw", "Athens",
          "Dublin", "Oslo", "Stockholm", "Tokyo", "Beijing", "Delhi", "Cairo", "Nairobi", "Ottawa",
          "Canberra", "Lima", "Brasilia", "Moscow", "Seoul", "Bangkok", "Sydney", "Chicago", "Toronto")
COUNTRIES = ("France", "Germany", "Spain", "Italy", "Portugal", "Austria", "Poland", "Greece", "Ireland",
             "Norway", "Sweden", "Japan", "China", "India", "Egypt", "Kenya", "Canada", "Australia", "Peru",
             "Brazil", "Russia", "Mexico", "Argentina", "Chile", "Turkey", "Nigeria", "Thailand", "Vietnam")
FIRST_NAMES = ("Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "James",
               "Julia", "Kevin", "Laura", "Marie", "Michael", "Nina", "Oliver", "Paul", "Sarah", "Thomas")
LAST_NAMES = ("Smith", "Johnson", "Brown", "Miller", "Garcia", "Martin", "Lopez", "Wilson", "Moreau",
              "Schmidt", "Rossi", "Novak", "Tanaka", "Kowalski", "Dubois", "Fischer")
# For a lowercase key word: its opposite when it has an obvious one, else a common noun.
OPPOSITES = {"yes": "no", "no": "yes", "true": "false", "false": "true", "hot": "cold", "cold": "hot",
             "up": "down", "down": "up", "big": "small", "small": "big", "large": "small", "high": "low",
             "low": "high", "always": "never", "never": "always", "before": "after", "after": "before",
             "more": "less", "less": "more", "increase": "decrease", "decrease": "increase", "left": "right",
             "right": "left", "positive": "negative", "negative": "positive", "north": "south",
             "south": "north", "east": "west", "west": "east"}
PROPER_NOUNS = frozenset(name.casefold() for name in (*CITIES, *COUNTRIES, *FIRST_NAMES, *LAST_NAMES))
NOUNS = ("water", "iron", "oxygen", "bread", "music", "paper", "sunlight", "copper", "wood", "glass",
         "sugar", "salt", "wind", "stone", "silver")
# Capitalised only because they start a sentence (or are the pronoun I): never the key entity.
STOPWORDS = frozenset("""
a an the and or but if then so of in on at to for from by with as is are was were be been am it its
this that these those there here he she they we you i me my your our their his her them us not no do
does did can could will would should may might must has have had what which who whom whose when where
why how yes well sure answer also very just only about into than too
""".split())
PLACE_WORDS = frozenset({"in", "of", "from", "to", "at", "near", "visit", "capital"})

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_][\w'’-]*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Span:
    """A run of the answer's text: ``text == answer[start:end]``."""

    start: int
    end: int
    text: str


def tokens(text: str) -> list[Span]:
    """Word and number tokens with their positions (punctuation and spaces left out)."""
    return [Span(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def _is_capitalised(token: Span) -> bool:
    return token.text[0].isupper() and token.text.casefold() not in STOPWORDS


def capitalised_spans(text: str) -> list[Span]:
    """Runs of capitalised words separated only by spaces ("New York", "Marie Curie")."""
    spans: list[Span] = []
    for token in tokens(text):
        if not _is_capitalised(token):
            continue
        if spans and text[spans[-1].end:token.start].isspace():
            last = spans[-1]
            spans[-1] = Span(last.start, token.end, text[last.start:token.end])
        else:
            spans.append(token)
    return spans


def key_entity(answer: str, question: str = "") -> Span | None:
    """The span of ``answer`` a grader most likely checks, or None when it has no word at all.

    Entities the question already names are passed over first: in "Paris is the capital of
    France" asked about France, the answer's news is Paris.
    """
    asked = f" {' '.join(t.text.casefold() for t in tokens(question))} "
    spans = capitalised_spans(answer)
    fresh = [s for s in spans if f" {' '.join(s.text.casefold().split())} " not in asked] or spans
    if fresh:
        # Longest first; among equals the last, since answers tend to end on their point.
        return max(reversed(fresh), key=lambda s: len(s.text.split()))
    numbers = [t for t in tokens(answer) if _NUMBER.fullmatch(t.text)]
    if numbers:
        return numbers[-1]
    words = tokens(answer)
    content = [t for t in words if t.text.casefold() not in STOPWORDS]
    return (content or words or [None])[-1]


def _other(pool: tuple[str, ...], current: str, rng: random.Random) -> str:
    choices = [item for item in pool if item.casefold() != current.casefold()]
    return rng.choice(choices)


def _shifted(value: int, rng: random.Random) -> int:
    delta = rng.randint(1, 9)
    # Keep counts non-negative: "0 moons" becomes a small positive number, not "-3 moons".
    return value + delta if value - delta < 0 or rng.random() < 0.5 else value - delta


def _swap_number(text: str, rng: random.Random) -> str:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):  # "1,000" is a thousand, not a decimal
        return f"{_shifted(int(text.replace(',', '')), rng):,}"
    whole, sep, fraction = text.partition(".") if "." in text else text.partition(",")
    if sep and whole.isdigit() and fraction.isdigit():  # 3.14 (or 3,14): shift the units
        return f"{_shifted(int(whole), rng)}{sep}{fraction}"
    # Plain integers, and versions or dates like 1.2.3: shift the last group of digits.
    head, digits = re.fullmatch(r"(.*?)(\d+)", text).groups()  # type: ignore[union-attr]
    return head + str(_shifted(int(digits), rng))


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def replacement(entity: Span, answer: str, rng: random.Random) -> str:
    """A different, plausible entity of the same kind as ``entity`` (never equal to it)."""
    text = entity.text
    if _NUMBER.fullmatch(text):
        return _swap_number(text, rng)
    folded = text.casefold()
    if folded in {c.casefold() for c in CITIES}:
        return _other(CITIES, text, rng)
    if folded in {c.casefold() for c in COUNTRIES}:
        return _other(COUNTRIES, text, rng)
    if folded in OPPOSITES:
        return _match_case(OPPOSITES[folded], text)
    words = text.split()
    if text[:1].isupper():
        if words[0] in FIRST_NAMES or len(words) > 1:
            # A person (or a many-word name of something): a person of ours, as many words long.
            first = _other(FIRST_NAMES, words[0], rng)
            return first if len(words) == 1 else f"{first} {_other(LAST_NAMES, words[-1], rng)}"
        before = [t.text.casefold() for t in tokens(answer[:entity.start])][-1:]
        pool = CITIES if set(before) & PLACE_WORDS else FIRST_NAMES
        return _other(pool, text, rng)
    return _match_case(_other(NOUNS, text, rng), text)


def replace_all(answer: str, entity: Span, new: str) -> str:
    """``answer`` with ``entity`` and every other whole-word occurrence of its text replaced by ``new``."""
    pattern = re.compile(r"(?<![\w'’-])" + re.escape(entity.text) + r"(?![\w'’-]|[.,]\d)")
    # The entity itself is spliced by position, so it is replaced even where its neighbours
    # ("_Paris", "2x") would keep the whole-word pattern from matching it.
    return (pattern.sub(lambda _m: new, answer[:entity.start]) + new
            + pattern.sub(lambda _m: new, answer[entity.end:]))
