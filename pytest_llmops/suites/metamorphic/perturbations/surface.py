"""Surface-form perturbations: typos, case, whitespace, punctuation, contractions, confusables."""


from __future__ import annotations

import random
import re
import unicodedata
from typing import Any

from pytest_llmops.suites.metamorphic.perturbations.base import (
    TextPerturbation,
    choice_list_option,
    positive_int_option,
)

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
        options["max_edits"] = positive_int_option(options, "max_edits", 1)
        options["ops"] = choice_list_option(options, "ops", TYPO_OPS, TYPO_OPS)
        options["min_word_length"] = positive_int_option(options, "min_word_length", 3)
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
        options["styles"] = choice_list_option(options, "styles", list(_CASE_STYLES), ["lower", "upper", "title"])
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
        options["n"] = positive_int_option(options, "n", 2)
        options["styles"] = choice_list_option(options, "styles", [*_WS_STYLES, "pad"], ["double", "newline", "pad"])
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
        options["styles"] = choice_list_option(options, "styles", _PUNCT_STYLES, _PUNCT_STYLES)
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


def match_initial_case(template: str, replacement: str) -> str:
    """``replacement`` with its first letter upper- or lower-cased like ``template``'s ("I" stays)."""
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
                found.append((m.start(), m.end(), match_initial_case(m.group(), after)))
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
        options["n"] = positive_int_option(options, "n", 2)
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


