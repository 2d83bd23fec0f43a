"""Content perturbations: appended sentences, fairness swaps, numbers, paraphrase, format, negation."""


from __future__ import annotations

import json
import random
import re
from typing import Any, Sequence

from pytest_llmops.suites.metamorphic.perturbations.base import (
    TextPerturbation,
    choice_list_option,
    positive_int_option,
)
from pytest_llmops.suites.metamorphic.perturbations.surface import match_initial_case

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


class _Grouped(TextPerturbation):
    """A perturbation driven by groups of interchangeable terms (``groups`` option or the lexicon)."""

    def groups(self, options: dict[str, Any]) -> list[list[str]]:
        raise NotImplementedError

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if "groups" in options:
            self.groups(options)  # raises ValueError naming what is wrong
        return options


class _Swap(_Grouped):
    """Every listed term found in the text replaced by another term of its group (the same
    replacement everywhere, never a term already in the text). Groups are what may stand for
    each other: names of one gender from different origins, cities, ..."""

    lexicon_key = ""
    options = ("groups",)

    def groups(self, options: dict[str, Any]) -> list[list[str]]:
        return [terms for _, terms in self.labelled_groups(options)]

    def labelled_groups(self, options: dict[str, Any]) -> list[tuple[str, list[str]]]:
        """``(label, terms)`` per group: a mapping's keys label its groups (``female: [...]``), a
        list's groups are labelled by position (``group-0``, ...)."""
        raw = options.get("groups")
        if raw is None:
            raw = (options.get("lexicon") or {}).get(self.lexicon_key)
        labels: list[str] = []
        if isinstance(raw, dict):
            labels, raw = [str(k) for k in raw], list(raw.values())
        if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(
                isinstance(g, list) and len(g) >= 2 and all(isinstance(x, str) for x in g) for g in raw):
            raise ValueError(f"needs groups of interchangeable terms (lists of at least two strings): give the "
                             f"option 'groups' or a suite 'lexicon:' file with '{self.lexicon_key}:'")
        labels = labels or [f"group-{i}" for i in range(len(raw))]
        return [(label, list(g)) for label, g in zip(labels, raw)]

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        labelled = self.labelled_groups(options)
        groups = [terms for _, terms in labelled]
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
        # ``fairness_group``: the label of the group the swapped terms belong to; a case's record
        # lists its follow-ups' labels as ``group``, the key its bias slices read (docs/slices.md)
        return new, [{"op": self.name, "from": term, "to": to, "group": group_of[term],
                      "fairness_group": labelled[group_of[term]][0]} for term, to in mapping.items()]


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
    options = ("pairs", "labels")

    def pairs(self, options: dict[str, Any]) -> list[list[str]]:
        raw = options.get("pairs") or (options.get("lexicon") or {}).get("pronouns") or _DEFAULT_PRONOUNS
        if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise ValueError("option 'pairs' must be a list of [word, word] pairs")
        return [[str(a), str(b)] for a, b in raw]

    def labels(self, options: dict[str, Any]) -> list[str]:
        """The group labels of a pair's first and second word (option ``labels``; default male, female)."""
        raw = options.get("labels", ["male", "female"])
        if not isinstance(raw, list) or len(raw) != 2 or not all(isinstance(x, str) and x for x in raw):
            raise ValueError("option 'labels' must name the groups of a pair's first and second word, "
                             "e.g. [male, female]")
        return [str(x) for x in raw]

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        self.pairs(options)
        self.labels(options)
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
            # pairs are written [male, female] (the lexicon's and the defaults' order): the group
            # is the side the source word is on, the person the source text describes
            side = next((i for a_b in self.pairs(options) for i, w in enumerate(a_b) if w.lower() == word.lower()), 0)
            changes.append({"op": "swap-pronoun", "at": m.start(), "before": word, "after": target,
                            "fairness_group": self.labels(options)[side]})
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
        options["n"] = positive_int_option(options, "n", 1)
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


class Paraphrase(_Grouped):
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
        options["styles"] = choice_list_option(options, "styles", _FORMAT_STYLES, _FORMAT_STYLES)
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
            after = match_initial_case(word, _NEGATED[word.lower()])
        elif m.group(2):
            after = word
        else:
            after = f"{word} not"
        new = text[:m.start()] + after + text[m.end():]
        return new, [{"op": "negate", "at": m.start(), "before": text[m.start():m.end()], "after": after}]


