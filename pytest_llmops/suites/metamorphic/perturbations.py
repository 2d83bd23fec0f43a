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

import json
import random
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Sequence

# -- the protocol --------------------------------------------------------------------------


@dataclass
class Perturbed:
    """A follow-up sample and what was changed to get it (empty ``changes``: a no-op)."""

    sample: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # about the whole edit (e.g. its edit distance)

    @property
    def description(self) -> str:
        """One line for reports: the changes, or ``no change``."""
        if not self.changes:
            return "no change"
        return "; ".join(describe_change(c) for c in self.changes)


def describe_change(change: dict[str, Any]) -> str:
    op = change.get("op", "change")
    if "before" in change and "after" in change:
        where = f" at {change['at']}" if "at" in change else ""
        return f"{op}{where}: {_short(change['before'])} -> {_short(change['after'])}"
    if "from" in change and "to" in change:
        return f"{op}: {_short(change['from'])} -> {_short(change['to'])}"
    rest = {k: v for k, v in change.items() if k != "op"}
    return f"{op} {json.dumps(rest, ensure_ascii=False)}" if rest else op


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Perturbation:
    """Base class. Subclasses set ``name`` and ``description`` and implement ``apply``.

    ``validate(options)`` checks the options a suite gives (raise ``ValueError`` naming the
    option) and returns them normalised. ``apply(sample, rng, options)`` gets those options
    plus ``field`` (the sample field a text perturbation edits, ``text`` by default) and
    ``lexicon`` (the suite's word lists, possibly empty) and must not modify ``sample``.
    """

    name = ""
    description = ""
    #: the perturbation only reorders RAG contexts (its cases feed the position-gap metric)
    reorders_contexts = False
    #: option names this perturbation accepts (besides ``field`` and ``lexicon``)
    options: tuple[str, ...] = ()

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise ValueError(f"unknown option {unknown[0]!r} for perturbation {self.name!r}; accepted: {accepted}")
        return dict(options)

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        raise NotImplementedError


class TextPerturbation(Perturbation):
    """A perturbation of one text field of the sample (``options["field"]``, default ``text``)."""

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        name = options.get("field") or "text"
        text = sample.get(name)
        if not isinstance(text, str):
            raise ValueError(f"perturbation {self.name!r} edits the text field {name!r}, which this sample "
                             f"does not have (fields: {sorted(sample)})")
        new, changes = self.perturb_text(text, rng, options)
        if new == text:
            return Perturbed(dict(sample), [])
        for change in changes:
            change.setdefault("field", name)
        return Perturbed({**sample, name: new}, changes, self.facts(text, new, options))

    def facts(self, before: str, after: str, options: dict[str, Any]) -> dict[str, Any]:
        """Facts about the whole edit, recorded next to the changes."""
        return {}

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        raise NotImplementedError


def _positive_int(options: dict[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"option {key!r} must be a positive integer, got {value!r}")
    return value


def _choices(options: dict[str, Any], key: str, allowed: Sequence[str], default: Sequence[str]) -> list[str]:
    value = options.get(key, list(default))
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"option {key!r} must be one of {list(allowed)} or a list of them, got {value!r}")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"option {key!r}: {bad[0]!r} is not one of {list(allowed)}")
    return list(values)


# -- character typos -----------------------------------------------------------------------

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    where = {ch: (r, i) for r, row in enumerate(_ROWS) for i, ch in enumerate(row)}
    out = {}
    for ch, (r, i) in where.items():
        near = []
        for dr, di in ((0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)):
            rr, ii = r + dr, i + di
            if 0 <= rr < len(_ROWS) and 0 <= ii < len(_ROWS[rr]):
                near.append(_ROWS[rr][ii])
        out[ch] = "".join(near)
    return out


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()
TYPO_OPS = ("swap", "insert", "delete", "neighbour")


def _same_case(template: str, ch: str) -> str:
    return ch.upper() if template.isupper() else ch


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insert, delete, substitute, swap adjacent (each 1)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


class Typos(TextPerturbation):
    """Character typos (swap, insert, delete, keyboard neighbour), one per word, at most
    ``max_edits`` of them: the optimal-string-alignment distance to the source is at most
    ``max_edits``."""

    name = "typos"
    description = "character typos: adjacent swap, insertion, deletion, keyboard neighbour"
    options = ("max_edits", "ops", "min_word_length")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["max_edits"] = _positive_int(options, "max_edits", 1)
        options["ops"] = _choices(options, "ops", TYPO_OPS, TYPO_OPS)
        options["min_word_length"] = _positive_int(options, "min_word_length", 3)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        max_edits = options.get("max_edits", 1)
        ops = options.get("ops", list(TYPO_OPS))
        min_len = options.get("min_word_length", 3)
        words = [m for m in re.finditer(r"[A-Za-z]+", text) if len(m.group()) >= min_len]
        if not words:
            return text, []
        chosen = sorted(rng.sample(words, min(max_edits, len(words))), key=lambda m: m.start())
        edits = []
        for match in chosen:
            edit = self._edit(match.group(), rng, ops)
            if edit is not None:
                start, end, after, op = edit
                edits.append((match.start() + start, match.start() + end, after, op))
        new = text
        for start, end, after, _ in reversed(edits):  # right to left: earlier offsets stay valid
            new = new[:start] + after + new[end:]
        return new, [{"op": op, "at": start, "before": text[start:end], "after": after}
                     for start, end, after, op in edits]

    def facts(self, before: str, after: str, options: dict[str, Any]) -> dict[str, Any]:
        return {"edit_distance": osa_distance(before, after), "max_edits": options.get("max_edits", 1)}

    @staticmethod
    def _edit(word: str, rng: random.Random, ops: list[str]) -> tuple[int, int, str, str] | None:
        """One edit inside ``word``: (start, end, replacement, op) relative to the word."""
        for op in rng.sample(ops, len(ops)):  # fall back to another op when one cannot apply
            if op == "swap":
                # Two different lower-case letters ("Th" -> "hT" is not a typing slip).
                spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1] and word[i:i + 2].islower()]
                if spots:
                    i = rng.choice(spots)
                    return i, i + 2, word[i + 1] + word[i], op
            elif op == "insert":
                i = rng.randrange(len(word))
                near = KEYBOARD_NEIGHBOURS.get(word[i].lower(), "")
                extra = _same_case(word[i], rng.choice(near)) if near else word[i]
                return i + 1, i + 1, extra, op
            elif op == "delete":
                i = rng.randrange(len(word))
                return i, i + 1, "", op
            elif op == "neighbour":
                spots = [i for i in range(len(word)) if KEYBOARD_NEIGHBOURS.get(word[i].lower())]
                if spots:
                    i = rng.choice(spots)
                    near = KEYBOARD_NEIGHBOURS[word[i].lower()]
                    return i, i + 1, _same_case(word[i], rng.choice(near)), op
        return None


# -- case, whitespace, punctuation, contractions, confusables -------------------------------

_CASE_STYLES = {"lower": str.lower, "upper": str.upper, "title": str.title, "swapcase": str.swapcase,
                "capitalize": lambda s: s[:1].upper() + s[1:].lower()}


class Case(TextPerturbation):
    name = "case"
    description = "letter case: lower, upper, title, swapcase or capitalize"
    options = ("styles",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["styles"] = _choices(options, "styles", list(_CASE_STYLES), ["lower", "upper", "title"])
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        styles = options.get("styles", ["lower", "upper", "title"])
        applicable = [s for s in styles if _CASE_STYLES[s](text) != text]
        if not applicable:
            return text, []
        style = rng.choice(applicable)
        new = _CASE_STYLES[style](text)
        return new, [{"op": "case", "style": style, "before": text, "after": new}]


_WS_STYLES = {"double": "  ", "newline": "\n", "tab": "\t"}


class Whitespace(TextPerturbation):
    name = "whitespace"
    description = "whitespace: a space doubled, or turned into a newline or a tab; padding at the ends"
    options = ("n", "styles")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["n"] = _positive_int(options, "n", 2)
        options["styles"] = _choices(options, "styles", [*_WS_STYLES, "pad"], ["double", "newline", "pad"])
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        n = options.get("n", 2)
        styles = options.get("styles", ["double", "newline", "pad"])
        inner = [s for s in styles if s in _WS_STYLES]
        spaces = [m.start() for m in re.finditer(r"(?<=\S) (?=\S)", text)]
        edits: list[tuple[int, int, str, str]] = []
        if inner and spaces:
            for at in sorted(rng.sample(spaces, min(n, len(spaces)))):
                style = rng.choice(inner)
                edits.append((at, at + 1, _WS_STYLES[style], style))
        if "pad" in styles and (not edits or rng.random() < 0.5):
            edits.append((len(text), len(text), "  ", "pad"))
            edits.insert(0, (0, 0, " ", "pad"))
        new = text
        for start, end, after, _ in reversed(edits):
            new = new[:start] + after + new[end:]
        changes = [{"op": f"whitespace-{style}", "at": start, "before": text[start:end], "after": after}
                   for start, end, after, style in edits]
        return new, changes


_PUNCT_STYLES = ("strip-final", "exclaim", "strip-all", "extra")
_STRIPPABLE = ",;:.!"


class Punctuation(TextPerturbation):
    name = "punctuation"
    description = "punctuation: final mark removed or made '!', commas and stops removed, or doubled"
    options = ("styles",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["styles"] = _choices(options, "styles", _PUNCT_STYLES, _PUNCT_STYLES)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        styles = list(options.get("styles", _PUNCT_STYLES))
        candidates = {style: self._apply(style, text) for style in styles}
        applicable = [s for s in styles if candidates[s] != text]
        if not applicable:
            return text, []
        style = rng.choice(applicable)
        new = candidates[style]
        return new, [{"op": f"punctuation-{style}", "before": text, "after": new}]

    @staticmethod
    def _apply(style: str, text: str) -> str:
        stripped = text.rstrip()
        tail = text[len(stripped):]
        if style == "strip-final":
            return stripped.rstrip(_STRIPPABLE) + tail
        if style == "exclaim":
            if stripped.endswith("?") or not stripped:
                return text
            return stripped.rstrip(_STRIPPABLE) + "!" + tail
        if style == "strip-all":
            # Keep '?', apostrophes and hyphens inside words: they change words or intent.
            return re.sub(r"[,;:.!](?!\d)", "", text)
        if style == "extra":
            return re.sub(r"([.!?])(\s|$)", r"\1\1\2", text, count=1)
        raise ValueError(style)


_CONTRACTIONS = (
    ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("is not", "isn't"),
    ("are not", "aren't"), ("was not", "wasn't"), ("were not", "weren't"), ("cannot", "can't"),
    ("will not", "won't"), ("would not", "wouldn't"), ("should not", "shouldn't"), ("could not", "couldn't"),
    ("have not", "haven't"), ("has not", "hasn't"), ("I am", "I'm"), ("you are", "you're"),
    ("we are", "we're"), ("they are", "they're"), ("it is", "it's"), ("that is", "that's"),
    ("there is", "there's"), ("I have", "I've"), ("I will", "I'll"), ("you will", "you'll"),
    ("let us", "let's"),
)


def _match_case(template: str, replacement: str) -> str:
    if template[:1].isupper() and replacement[:1].islower():
        return replacement[:1].upper() + replacement[1:]
    if template[:1].islower() and replacement[:1].isupper() and not replacement.startswith("I"):
        return replacement[:1].lower() + replacement[1:]
    return replacement


class Contractions(TextPerturbation):
    name = "contractions"
    description = "contractions expanded (don't -> do not) or made (do not -> don't)"
    options = ("direction",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        direction = options.get("direction", "both")
        if direction not in ("expand", "contract", "both"):
            raise ValueError(f"option 'direction' must be expand, contract or both, got {direction!r}")
        options["direction"] = direction
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        direction = options.get("direction", "both")
        pairs: list[tuple[str, str]] = []
        if direction in ("contract", "both"):
            pairs += list(_CONTRACTIONS)
        if direction in ("expand", "both"):
            pairs += [(short, long) for long, short in _CONTRACTIONS]
        found: list[tuple[int, int, str]] = []
        for before, after in pairs:
            phrase = re.escape(before).replace("'", "['\u2019]")  # straight or curly apostrophe
            for m in re.finditer(rf"(?<![\w']){phrase}(?![\w'])", text, flags=re.IGNORECASE):
                found.append((m.start(), m.end(), _match_case(m.group(), after)))
        found.sort()
        kept: list[tuple[int, int, str]] = []
        for start, end, after in found:  # no overlapping matches
            if not kept or start >= kept[-1][1]:
                kept.append((start, end, after))
        new = text
        for start, end, after in reversed(kept):
            new = new[:start] + after + new[end:]
        return new, [{"op": "contraction", "at": s, "before": text[s:e], "after": a} for s, e, a in kept]


# Latin letters and their look-alikes in Cyrillic and Greek.
CONFUSABLES = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445", "y": "\u0443",
    "i": "\u0456", "j": "\u0458", "s": "\u0455", "A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415",
    "H": "\u041d", "I": "\u0406", "K": "\u041a", "M": "\u041c", "O": "\u041e",
    "P": "\u0420", "T": "\u0422", "X": "\u0425", "Y": "\u03a5", "N": "\u039d", "Z": "\u0396",
}


class Confusables(TextPerturbation):
    name = "confusables"
    description = "unicode confusables: Latin letters replaced by identical-looking Cyrillic or Greek ones"
    options = ("n",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["n"] = _positive_int(options, "n", 2)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        spots = [i for i, ch in enumerate(text) if ch in CONFUSABLES]
        if not spots:
            return text, []
        chosen = sorted(rng.sample(spots, min(options.get("n", 2), len(spots))))
        chars = list(text)
        changes = []
        for i in chosen:
            after = CONFUSABLES[text[i]]
            chars[i] = after
            changes.append({"op": "confusable", "at": i, "before": text[i], "after": after,
                            "codepoint": f"U+{ord(after):04X}", "unicode_name": unicodedata.name(after, "")})
        return "".join(chars), changes


# -- appended sentence, fairness swaps, numbers, paraphrase, format --------------------------

def _lexicon_list(options: dict[str, Any], key: str, lexicon_key: str, what: str) -> list[Any]:
    value = options.get(key)
    if value is None:
        value = (options.get("lexicon") or {}).get(lexicon_key)
    if not isinstance(value, list) or not value:
        raise ValueError(f"needs {what}: give the option {key!r} or a suite 'lexicon:' file with "
                         f"'{lexicon_key}:'")
    return value


class AppendSentence(TextPerturbation):
    name = "append-sentence"
    description = "an irrelevant sentence appended (or prepended) to the text"
    options = ("sentences", "where")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if "sentences" in options and (not isinstance(options["sentences"], list)
                                       or not all(isinstance(s, str) for s in options["sentences"])):
            raise ValueError("option 'sentences' must be a list of strings")
        if options.get("where", "end") not in ("end", "start"):
            raise ValueError("option 'where' must be 'end' or 'start'")
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        sentence = str(rng.choice(_lexicon_list(options, "sentences", "irrelevant_sentences",
                                                "irrelevant sentences")))
        if options.get("where", "end") == "start":
            new = f"{sentence} {text}"
        else:
            new = f"{text.rstrip()} {sentence}"
        return new, [{"op": "append-sentence", "where": options.get("where", "end"), "before": "",
                      "after": sentence}]


def _word_re(words: Sequence[str]) -> re.Pattern[str]:
    ordered = sorted({w for w in words if w}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ordered) + r")(?![\w-])")


class _Swap(TextPerturbation):
    """Every listed term found in the text replaced by another term of its group (the same
    replacement everywhere, never a term already in the text). Groups are what may stand for
    each other: names of one gender from different origins, cities, ..."""

    lexicon_key = ""
    options = ("groups",)

    def groups(self, options: dict[str, Any]) -> list[list[str]]:
        raw = options.get("groups")
        if raw is None:
            raw = (options.get("lexicon") or {}).get(self.lexicon_key)
        if isinstance(raw, dict):
            raw = list(raw.values())
        if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(
                isinstance(g, list) and len(g) >= 2 and all(isinstance(x, str) for x in g) for g in raw):
            raise ValueError(f"needs groups of interchangeable terms (lists of at least two strings): give the "
                             f"option 'groups' or a suite 'lexicon:' file with '{self.lexicon_key}:'")
        return [list(g) for g in raw]

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if "groups" in options:
            self.groups(options)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        groups = self.groups(options)
        group_of = {term: gi for gi, group in enumerate(groups) for term in group}
        found = list(_word_re(list(group_of)).finditer(text))
        mapping: dict[str, str] = {}
        for m in found:
            term = m.group()
            if term in mapping:
                continue
            # A fresh term: not already a replacement and not in the text (no two people merge).
            fresh = [t for t in groups[group_of[term]]
                     if t != term and t not in mapping.values() and not _word_re([t]).search(text)]
            if fresh:
                mapping[term] = rng.choice(fresh)
        if not mapping:
            return text, []
        new = _word_re(list(mapping)).sub(lambda m: mapping.get(m.group(), m.group()), text)
        return new, [{"op": self.name, "from": term, "to": to, "group": group_of[term]}
                     for term, to in mapping.items()]


class SwapNames(_Swap):
    name = "swap-names"
    description = "person names swapped within their group, e.g. same gender, other origin (fairness)"
    lexicon_key = "names"


class SwapLocations(_Swap):
    name = "swap-locations"
    description = "place names swapped for other places (fairness)"
    lexicon_key = "locations"


_DEFAULT_PRONOUNS = [["he", "she"], ["him", "her"], ["his", "her"], ["himself", "herself"], ["Mr", "Ms"],
                     ["man", "woman"], ["men", "women"], ["boy", "girl"], ["father", "mother"],
                     ["son", "daughter"], ["brother", "sister"], ["husband", "wife"]]
_OBJECT_CONTEXT = {"and", "or", "to", "for", "with", "at", "in", "on", "from", "about", "by", "as", "than",
                   "that", "because", "but", "so", "if", "when", "again", "too", "a", "an", "the"}


class SwapPronouns(TextPerturbation):
    """Gendered pronouns and words flipped (he <-> she, his -> her, her -> his/him...)."""

    name = "swap-pronouns"
    description = "gendered pronouns and nouns flipped (fairness)"
    options = ("pairs",)

    def pairs(self, options: dict[str, Any]) -> list[list[str]]:
        raw = options.get("pairs") or (options.get("lexicon") or {}).get("pronouns") or _DEFAULT_PRONOUNS
        if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise ValueError("option 'pairs' must be a list of [word, word] pairs")
        return [[str(a), str(b)] for a, b in raw]

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        self.pairs(options)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        forward: dict[str, list[str]] = {}
        for a, b in self.pairs(options):
            forward.setdefault(a.lower(), []).append(b)
            forward.setdefault(b.lower(), []).append(a)
        pattern = re.compile(r"(?<![\w'])(" + "|".join(re.escape(w) for w in sorted(forward, key=len, reverse=True))
                             + r")(?![\w'])", re.IGNORECASE)
        changes: list[dict[str, Any]] = []

        def replace(m: re.Match[str]) -> str:
            word = m.group()
            targets = forward[word.lower()]
            target = targets[0]
            if len(targets) > 1:  # "her": possessive (his) before a noun, else object (him)
                following = re.match(r"\s+([A-Za-z]+)", text[m.end():])
                possessive = bool(following) and following.group(1).lower() not in _OBJECT_CONTEXT
                target = next((t for t in targets if t.lower() == ("his" if possessive else "him")), targets[0])
            target = target.capitalize() if word[:1].isupper() else target
            changes.append({"op": "swap-pronoun", "at": m.start(), "before": word, "after": target})
            return target

        new = pattern.sub(replace, text)
        return new, changes


class Numbers(TextPerturbation):
    """Integers changed to other integers with as many digits (every occurrence of a chosen value)."""

    name = "numbers"
    description = "numbers changed to other numbers with the same number of digits"
    options = ("n",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["n"] = _positive_int(options, "n", 1)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        values = list(dict.fromkeys(m.group() for m in re.finditer(r"(?<![\d.,])\d+(?![\d]|[.,]\d)", text)))
        if not values:
            return text, []
        chosen = rng.sample(values, min(options.get("n", 1), len(values)))
        mapping = {}
        for value in chosen:
            digits = len(value)
            low = 2 if digits == 1 else 10 ** (digits - 1)
            high = 10 ** digits - 1
            taken = set(values) | set(mapping.values())
            new_value = value
            for _ in range(50):
                new_value = str(rng.randint(low, high))
                if new_value not in taken:
                    break
            if new_value != value:
                mapping[value] = new_value
        if not mapping:
            return text, []
        new = re.sub(r"(?<![\d.,])\d+(?![\d]|[.,]\d)", lambda m: mapping.get(m.group(), m.group()), text)
        return new, [{"op": "number", "from": a, "to": b} for a, b in mapping.items()]


class Paraphrase(TextPerturbation):
    """Instructions replaced by a reviewed paraphrase: the lexicon's ``paraphrases`` is a list
    of groups of equivalent instructions; each instruction found is swapped for another member
    of its group."""

    name = "paraphrase"
    description = "instruction paraphrase from reviewed templates"
    options = ("groups",)

    def groups(self, options: dict[str, Any]) -> list[list[str]]:
        raw = options.get("groups")
        if raw is None:
            raw = (options.get("lexicon") or {}).get("paraphrases")
        if not isinstance(raw, list) or not raw or not all(
                isinstance(g, list) and len(g) >= 2 and all(isinstance(s, str) for s in g) for g in raw):
            raise ValueError("needs paraphrase groups (lists of at least two equivalent instructions): give the "
                             "option 'groups' or a suite 'lexicon:' file with 'paraphrases:'")
        return raw

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if "groups" in options:
            self.groups(options)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        groups = self.groups(options)
        members = sorted(((s, gi) for gi, g in enumerate(groups) for s in g), key=lambda x: -len(x[0]))
        lowered = text.lower()
        edits: list[tuple[int, int, str, int]] = []
        for phrase, gi in members:
            start = lowered.find(phrase.lower())
            while start >= 0:
                end = start + len(phrase)
                if all(end <= s or start >= e for s, e, _, _ in edits):
                    others = [s for s in groups[gi] if s.lower() != phrase.lower()]
                    edits.append((start, end, rng.choice(others), gi))
                start = lowered.find(phrase.lower(), end)
        edits.sort()
        new = text
        for start, end, after, _ in reversed(edits):
            new = new[:start] + after + new[end:]
        return new, [{"op": "paraphrase", "at": s, "before": text[s:e], "after": a, "group": gi}
                     for s, e, a, gi in edits]


_SEPARATOR_SWAPS = (("; ", " | "), (": ", " = "), (", ", "; "), ("\n", " / "))
_FORMAT_STYLES = ("separators", "markdown", "json")


class Format(TextPerturbation):
    """The text's format: separators swapped, a Markdown fence around it, or a JSON wrapper."""

    name = "format"
    description = "format change: separators, Markdown code fence, or JSON wrapper"
    options = ("styles",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["styles"] = _choices(options, "styles", _FORMAT_STYLES, _FORMAT_STYLES)
        return options

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        styles = list(options.get("styles", _FORMAT_STYLES))
        separators = [(a, b) for a, b in _SEPARATOR_SWAPS if a in text]
        applicable = [s for s in styles if s != "separators" or separators]
        if not applicable:
            return text, []
        style = rng.choice(applicable)
        if style == "separators":
            before, after = rng.choice(separators)
            return text.replace(before, after), [{"op": "format-separators", "from": before, "to": after}]
        if style == "markdown":
            new = f"```\n{text}\n```"
        else:
            new = json.dumps({"input": text}, ensure_ascii=False)
        return new, [{"op": f"format-{style}", "before": text, "after": new}]


_AUXILIARIES = ("am", "is", "are", "was", "were", "will", "can", "could", "should", "would", "has", "have",
                "had", "does", "do", "did", "must", "may", "might")


_NEGATED = {"isn't": "is", "aren't": "are", "wasn't": "was", "weren't": "were", "don't": "do",
            "doesn't": "does", "didn't": "did", "can't": "can", "cannot": "can", "won't": "will",
            "hasn't": "has", "haven't": "have", "hadn't": "had", "shouldn't": "should", "wouldn't": "would",
            "couldn't": "could", "mustn't": "must"}


class Negate(TextPerturbation):
    """Negation toggled at the first auxiliary verb: ``is`` -> ``is not``; ``is not``,
    ``isn't`` -> ``is``."""

    name = "negate"
    description = "negation: 'not' inserted after the first auxiliary verb, or a negation removed"

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        words = "|".join([*(re.escape(w) for w in _NEGATED), *_AUXILIARIES])
        m = re.search(rf"(?<![\w'])({words})(\s+not)?(?![\w'])", text.replace("\u2019", "'"), re.IGNORECASE)
        if m is None:
            return text, []
        word = m.group(1)
        if word.lower() in _NEGATED:
            after = _match_case(word, _NEGATED[word.lower()])
        elif m.group(2):
            after = word
        else:
            after = f"{word} not"
        new = text[:m.start()] + after + text[m.end():]
        return new, [{"op": "negate", "at": m.start(), "before": text[m.start():m.end()], "after": after}]


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
        options["n"] = _positive_int(options, "n", 2)
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


BUILTIN_PERTURBATIONS: tuple[Perturbation, ...] = (
    Typos(), Case(), Whitespace(), Punctuation(), Contractions(), Confusables(), AppendSentence(),
    SwapNames(), SwapPronouns(), SwapLocations(), Numbers(), Paraphrase(), Format(), Negate(),
    PermuteOptions(), ShuffleExamples(), GoldPosition(), ShuffleContexts(), AddDistractors(), RemoveGold(),
    Counterfactual(),
)
