"""Reference-free quality detectors: hedging, degenerate repetition, another language, emptiness.

Each detector reads the answer alone (no reference answer, no model, no network), so it is
deterministic and cheap enough to run on every output. Each returns its evidence, a short
string quoting the answer, or None: a check or a metric can then say *why* it fired.

The lexicons and thresholds lean towards silence. These detectors fail tests on answers that
may be perfectly correct, so a false alarm costs more than a miss; their false-positive rates on
a clean model's answers are measured by ``benchmarks/detector_false_positives.py`` (figures in
docs/regression.md). Refusals are detected by :func:`pytest_llmops.checks.builtin.detect_refusal`.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

# Curly quotes and the modifier apostrophe are read as "'"; one character for one, so offsets
# in the normalised text are offsets in the answer.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

_IM = r"i(?:'m| am)"
_CANT = r"(?:can't|cannot|can not)"
# Hedging phrases, as case-insensitive regular expressions over the apostrophe-normalised answer
# (a space in a phrase matches any run of whitespace, line breaks included).
# Only phrases that mark the *speaker's* uncertainty: bare "may", "might", "could" (May 1945,
# "you might want to", "it could be used for") and approximations ("about", "approximately",
# "typically") are left out because confident answers use them all the time.
_HEDGES = [
    # The speaker presents the answer as an opinion or a guess.
    r"i (?:think|believe|guess|suppose|reckon|assume)",
    r"i(?:'d| would) (?:guess|assume)",
    r"(?:my|my best|an educated|a rough) guess (?:is|would be)",
    # The speaker says they are not sure.
    rf"{_IM} (?:unsure|uncertain|not (?:sure|certain))",
    r"not (?:entirely|completely|totally|quite|100%|fully) (?:sure|certain)",
    r"i (?:don't|do not) (?:really )?know",
    rf"i {_CANT} (?:be (?:sure|certain)|say for (?:sure|certain))",
    rf"{_CANT} say for (?:sure|certain)",
    r"i (?:could|might|may) be (?:wrong|mistaken)",
    rf"(?:correct me if|unless) {_IM} (?:wrong|mistaken)",
    rf"if {_IM} not mistaken",
    r"as far as i (?:know|can tell|am aware|'m aware|remember|recall)",
    r"to the best of my (?:knowledge|recollection)",
    r"if i (?:recall|remember) (?:correctly|right)",
    r"(?:it's|it is|that's|that is) (?:hard|difficult|impossible) to (?:say|tell|know)",
    # Epistemic adverbs: uncertain wherever they stand.
    r"maybe", r"perhaps", r"possibly", r"probably", r"presumably", r"most likely",
    # Modal frames in which "might", "may", "could", "possible" and "seems" are about the answer's truth.
    r"(?:it|this|that|the answer) might be",
    r"it (?:may|might|could) be that",
    r"(?:it's|it is) (?:also |quite |very |entirely )?(?:possible|likely|unlikely|plausible) that",
    r"it (?:seems|appears) (?:that|like|to be)",
]
_HEDGE_RE = re.compile(r"\b(?:" + "|".join("(?:" + p.replace(" ", r"\s+") + ")" for p in _HEDGES) + r")(?!\w)",
                       re.IGNORECASE)


def hedge_match(text: str) -> re.Match[str] | None:
    """The first hedging phrase in ``text`` as a match on the apostrophe-normalised text (same offsets)."""
    return _HEDGE_RE.search(text.translate(_APOSTROPHES))


def find_hedge(text: str) -> str | None:
    """The first hedging or uncertainty phrase in ``text`` ("I think", "probably", ...), as written; else None."""
    match = hedge_match(text)
    return text[match.start():match.end()] if match else None


# -- repetition ----------------------------------------------------------------------------------

# A token is a word (with inner apostrophes) or a run of punctuation: punctuation counts, so
# "x = x + x" is not "x x x", while "Paris. Paris. Paris." still repeats ("paris", ".").
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]+")
_WORD_RE = re.compile(r"\w+(?:'\w+)*")
_FENCE_RE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_UNIT_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_MAX_NGRAM = 4
_MIN_RUN = 3  # back-to-back copies of an n-gram that count as degenerate
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_MIN_UNIT_WORDS = 4  # a sentence or line this long may not occur twice; a shorter one, not three times
_MIN_RATIO_WORDS = 24
_MIN_TRIGRAM_RATIO = 0.5  # fluent text of 24+ words has nearly all its word trigrams distinct
_EVIDENCE_CHARS = 80


def _short(text: str, limit: int = _EVIDENCE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _prose(text: str) -> str:
    """``text`` without fenced code blocks: code repeats tokens and lines by design."""
    return _FENCE_RE.sub("\n", text)


def _ngram_run(text: str) -> str | None:
    matches = list(_TOKEN_RE.finditer(text.translate(_APOSTROPHES)))
    tokens = [m.group(0).lower() for m in matches]
    for n in range(1, _MAX_NGRAM + 1):
        for start in range(len(tokens) - n * _MIN_RUN + 1):
            gram = tokens[start:start + n]
            # Repeated numbers and punctuation are data (a zero matrix, a table rule), not babble.
            if not any(ch.isalpha() for tok in gram for ch in tok):
                continue
            copies = 1
            while tokens[start + copies * n:start + (copies + 1) * n] == gram:
                copies += 1
            if copies >= _MIN_RUN:
                once = text[matches[start].start():matches[start + n - 1].end()]
                return f"{_short(once)!r} ×{copies} in a row"
    return None


def _repeated_unit(text: str) -> str | None:
    seen: Counter[str] = Counter()
    first: dict[str, str] = {}
    for unit in _UNIT_SPLIT_RE.split(text):
        unit = _LIST_MARKER_RE.sub("", unit)  # "1. Apple", "2. Apple": the same item
        words = _WORD_RE.findall(unit.translate(_APOSTROPHES).lower())
        if not any(ch.isalpha() for word in words for ch in word):
            continue
        key = " ".join(words)
        seen[key] += 1
        first.setdefault(key, unit.strip())
    for key, count in seen.most_common():
        # A long sentence said twice is a loop; a short line ("Yes.", "Apple") needs a third copy.
        if count >= (2 if len(key.split()) >= _MIN_UNIT_WORDS else _MIN_RUN):
            return f"{_short(first[key])!r} (sentence or line ×{count})"
    return None


def _low_trigram_ratio(text: str) -> str | None:
    words = _WORD_RE.findall(text.translate(_APOSTROPHES).lower())
    if len(words) < _MIN_RATIO_WORDS:
        return None
    trigrams = Counter(zip(words, words[1:], words[2:]))
    total = len(words) - 2
    ratio = len(trigrams) / total
    if ratio >= _MIN_TRIGRAM_RATIO:
        return None
    top, count = trigrams.most_common(1)[0]
    return f"{len(trigrams)}/{total} distinct word trigrams ({ratio:.0%}); most repeated {' '.join(top)!r} ×{count}"


def find_repetition(text: str) -> str | None:
    """Degenerate repetition in ``text``, as short evidence (the repeated span); else None.

    Fires on the same 1- to 4-token n-gram three or more times back to back, on a sentence or
    line of four or more words that occurs twice, or, on answers of 24+ words, when fewer than
    half of the word trigrams are distinct. Fenced code is left out of the first two tests.
    """
    prose = _prose(text)
    return _ngram_run(prose) or _repeated_unit(prose) or _low_trigram_ratio(text)


# -- language ------------------------------------------------------------------------------------

# Function words: frequent in any sentence of their language, rare in another's. Words that are
# also English (a, in, on, die, was, no, son, come, per, con, do) or common in English text
# (single letters such as "y" and "e" for variables, "non-", "al" of "et al.") are in no
# foreign list, so an English answer with a name or a formula cannot pile up foreign hits.
_ENGLISH = frozenset(
    "the and is are was were of to that it for with this be by not or from at which have has had you they "
    "we he she but his her their what there can would does do been these those its our my your into about "
    "than then when how who will an in on as if so no i".split())
_FOREIGN: dict[str, frozenset[str]] = {
    "french": frozenset("le la les un une des du de est et dans pour qui que pas sur au aux avec ce cette ces "
                        "sont je nous vous il elle ils elles mais très être leur cela ou où était à en".split()),
    "spanish": frozenset("el la los las un una unos unas es en del de por para que está están muy pero como "
                         "más su sus se yo también esta este fue hay ser tiene".split()),
    "german": frozenset("der das und ist nicht ein eine einen zu den mit von sich auf für dem des auch es wir "
                        "ich sie sind oder wie aber noch bei nach sehr nur diese dieser einer eines vom zum zur "
                        "wird werden".split()),
    "italian": frozenset("il la gli le di che è sono della delle degli dei del nel nella una anche questo "
                         "questa più ma essere alla allo ai sul sulla dal dalla ci si perché".split()),
    "portuguese": frozenset("os um uma não é são com para em na da dos das que se por mais muito também mas "
                            "ao pelo pela isso este esta como foi tem ser seu sua está".split()),
}
_LETTERS_RE = re.compile(r"[^\W\d_]+")  # letters only: "c'est" -> c, est; "Jean-Luc" -> jean, luc
_MIN_FOREIGN_HITS = 3  # foreign function words needed before a verdict: names and 1-2 words never get there
_FOREIGN_DOMINANCE = 2  # ... and at least twice as many as English function words
_MIN_OTHER_SCRIPT = 8  # letters outside the Latin script (about one short sentence of CJK)


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def _other_script(text: str) -> str | None:
    letters = [c for c in text if c.isalpha()]
    other = [c for c in letters if _script(c) != "LATIN"]
    if len(other) < _MIN_OTHER_SCRIPT or len(other) * 2 < len(letters):
        return None
    script = Counter(_script(c) for c in other).most_common(1)[0][0].lower()
    return f"non-Latin letters: {len(other)} of {len(letters)} ({script}): {_short(text, 40)!r}"


def _stopwords(text: str) -> str | None:
    words = _LETTERS_RE.findall(text.lower())
    english = sum(w in _ENGLISH for w in words)
    foreign = [w for w in words if any(w in vocab for vocab in _FOREIGN.values())]
    if len(foreign) < _MIN_FOREIGN_HITS or len(set(foreign)) < 2 or len(foreign) < _FOREIGN_DOMINANCE * english:
        return None
    # The language whose list explains most hits; dict order breaks ties.
    language = max(_FOREIGN, key=lambda lang: sum(w in _FOREIGN[lang] for w in foreign))
    own = list(dict.fromkeys(w for w in foreign if w in _FOREIGN[language]))
    return f"{language} stopwords: {', '.join(own[:6])} ({len(foreign)} foreign vs {english} English)"


def find_foreign_language(text: str) -> str | None:
    """Evidence that ``text`` is largely not English; None when it is English or too short to tell.

    Mostly non-Latin letters (at least eight) is evidence; so, for Latin-script text, are three
    or more French, Spanish, German, Italian or Portuguese function words outnumbering English
    ones two to one. Numbers, names and one- or two-word answers never reach either bar.
    """
    return _other_script(text) or _stopwords(text)


def is_empty(text: str) -> bool:
    """True when ``text`` holds nothing but whitespace, punctuation and invisible characters."""
    # ASCII punctuation by name too: Unicode files "`", "*"-like "^" and "|" as symbols, and an
    # empty code fence is still an empty answer.
    return all(unicodedata.category(c)[0] in "ZPC" or c in string.punctuation for c in text)
