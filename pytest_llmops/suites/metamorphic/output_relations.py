"""The built-in output relations: invariance, equivariance and directional (see :mod:`.relations`).

Pure Python at import time: the embedding model loads only when ``embedding-cosine`` runs.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_llmops.suites.metamorphic.perturbations import LETTERS
from pytest_llmops.suites.metamorphic.relations import (
    ABSTENTION_PHRASES,
    DIRECTIONAL,
    EQUIVARIANCE,
    Pair,
    Relation,
    Verdict,
    abstains,
    as_text,
    chosen_option,
    contains_term,
    extract_label,
    extract_number,
    first_json_or_none,
    is_correct,
    label_keywords,
    normalize,
    quoted_excerpt,
)
from pytest_llmops.checks.embeddings import shared_embedder

# -- invariance ----------------------------------------------------------------------------

class NormalizedExact(Relation):
    name = "normalized-exact"
    description = "the outputs are equal after case folding, NFKC and dropping punctuation and extra spaces"

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        a, b = normalize(pair.source), normalize(pair.followup)
        if a == b:
            return Verdict(True, f"same normalized output {quoted_excerpt(a)}")
        return Verdict(False, f"normalized outputs differ: {quoted_excerpt(a)} vs {quoted_excerpt(b)}")


class LabelEquality(Relation):
    name = "label-equality"
    description = "both outputs carry the same label (first label keyword found; none counts as a label)"
    options = ("labels",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["labels"] = label_keywords(options)
        return options

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        labels = options["labels"]
        a, b = extract_label(pair.source, labels), extract_label(pair.followup, labels)
        details = {"source_label": a, "followup_label": b}
        if a == b:
            return Verdict(True, f"same label: {a or 'none'}", details)
        return Verdict(False, f"label changed: {a or 'none'} -> {b or 'none'}", details)


class JsonFieldEquality(Relation):
    name = "json-field-equality"
    description = "the named fields of the JSON in both outputs are equal (strings compared normalized)"
    options = ("fields",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        fields = options.get("fields")
        if fields is not None and (not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)):
            raise ValueError("option 'fields' must be a list of field names")
        return options

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        a, b = first_json_or_none(pair.source), first_json_or_none(pair.followup)
        if not isinstance(a, dict) and not isinstance(b, dict):
            return Verdict(True, "neither output holds a JSON object")
        if not isinstance(a, dict):
            return Verdict(False, "the source output holds no JSON object, the follow-up does")
        if not isinstance(b, dict):
            return Verdict(False, "the follow-up output holds no JSON object, the source does")
        fields = options.get("fields") or sorted(a)
        differ = [f for f in fields if _norm_value(a.get(f)) != _norm_value(b.get(f))]
        details = {"source_fields": {f: a.get(f) for f in fields}, "followup_fields": {f: b.get(f) for f in fields}}
        if differ:
            shown = ", ".join(f"{f}: {a.get(f)!r} vs {b.get(f)!r}" for f in differ[:3])
            return Verdict(False, f"JSON fields differ: {shown}", details)
        return Verdict(True, f"JSON fields equal: {', '.join(fields) or '(none)'}", details)


def _norm_value(value: Any) -> Any:
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return normalize(str(value)) if float(value) != int(value) else normalize(str(int(value)))
    return json.dumps(value, sort_keys=True)


class NumericTolerance(Relation):
    name = "numeric-tolerance"
    description = "the first number of each output agrees within an absolute or relative tolerance"
    options = ("tolerance", "relative")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        for key in ("tolerance", "relative"):
            value = options.setdefault(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"option {key!r} must be a number >= 0, got {value!r}")
        return options

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        a, b = extract_number(pair.source), extract_number(pair.followup)
        details = {"source_number": a, "followup_number": b}
        if a is None and b is None:
            return Verdict(True, "neither output has a number", details)
        if a is None or b is None:
            return Verdict(False, f"only one output has a number: {a} vs {b}", details)
        allowed = max(float(options.get("tolerance", 0.0)), float(options.get("relative", 0.0)) * abs(a))
        if abs(a - b) <= allowed:
            return Verdict(True, f"{a:g} vs {b:g} within {allowed:g}", details)
        return Verdict(False, f"{a:g} vs {b:g}: differ by {abs(a - b):g} > {allowed:g}", details)


class EmbeddingCosine(Relation):
    name = "embedding-cosine"
    description = "all-MiniLM-L6-v2 cosine similarity of the outputs is at least the threshold"
    options = ("threshold",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        threshold = options.setdefault("threshold", 0.8)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
            raise ValueError(f"option 'threshold' must be a number in [-1, 1], got {threshold!r}")
        return options

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        a, b = as_text(pair.source), as_text(pair.followup)
        if normalize(a) == normalize(b):
            score = 1.0
        else:
            score = shared_embedder().cosine(a, b)
        threshold = float(options.get("threshold", 0.8))
        details = {"cosine": round(score, 4)}
        if score >= threshold:
            return Verdict(True, f"cosine {score:.3f} >= {threshold}", details)
        return Verdict(False, f"cosine {score:.3f} < {threshold}", details)


# -- equivariance ----------------------------------------------------------------------------

class FollowsOption(Relation):
    name = "follows-option"
    family = EQUIVARIANCE
    description = "after an option permutation the answer names the same option (now under its new letter)"

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        src_opts = pair.source_sample.get("options") or []
        fu_opts = pair.followup_sample.get("options") or []
        a = chosen_option(pair.source, src_opts)
        if a is None:
            return Verdict(None, f"the source answer picks no option: {quoted_excerpt(pair.source)}")
        picked = src_opts[a]
        expected = fu_opts.index(picked) if picked in fu_opts else None
        b = chosen_option(pair.followup, fu_opts)
        details = {"source_choice": LETTERS[a], "expected_choice": LETTERS[expected] if expected is not None else None,
                   "followup_choice": LETTERS[b] if b is not None else None, "option": picked}
        if b == expected:
            return Verdict(True, f"{LETTERS[a]} ({picked!r}) followed to {LETTERS[b]}", details)
        got = f"{LETTERS[b]} ({fu_opts[b]!r})" if b is not None else "no option"
        return Verdict(False, f"source chose {LETTERS[a]} ({picked!r}), which moved to "
                              f"{LETTERS[expected] if expected is not None else '?'}; follow-up chose {got}", details)


# -- directional --------------------------------------------------------------------------

class LabelFlip(Relation):
    """The follow-up's label differs from the source's; with ``expect`` ({label: flipped label})
    it must be the expected one (``positive -> neutral`` is a change, not a flip)."""

    name = "label-flip"
    family = DIRECTIONAL
    description = "the follow-up's label flips (e.g. negation turns positive into negative)"
    options = ("labels", "expect")

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        options["labels"] = label_keywords(options)
        expect = options.get("expect")
        if expect is not None:
            if not isinstance(expect, dict) or not all(
                    str(k) in options["labels"] and str(v) in options["labels"] for k, v in expect.items()):
                raise ValueError("option 'expect' must map labels to labels, e.g. {positive: negative}")
            options["expect"] = {str(k): str(v) for k, v in expect.items()}
        return options

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        labels = options["labels"]
        a, b = extract_label(pair.source, labels), extract_label(pair.followup, labels)
        details = {"source_label": a, "followup_label": b}
        expect = options.get("expect")
        if a is None or (expect is not None and a not in expect):
            return Verdict(None, f"the source output has no label that can flip ({a or 'none'}): "
                                 f"{quoted_excerpt(pair.source)}", details)
        wanted = expect[a] if expect else None
        if b is not None and b != a and (wanted is None or b == wanted):
            return Verdict(True, f"label flipped: {a} -> {b}", details)
        return Verdict(False, f"label did not flip: {a} -> {b or 'none'}"
                              + (f" (expected {wanted})" if wanted else ""), details)


class Abstains(Relation):
    name = "abstains"
    family = DIRECTIONAL
    description = "the source answers, the follow-up abstains (e.g. after the gold passage is removed)"
    options = ("phrases",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        phrases = options.get("phrases")
        if phrases is not None and (not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases)):
            raise ValueError("option 'phrases' must be a list of strings")
        return options

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        phrases = tuple(p.casefold() for p in options.get("phrases") or ABSTENTION_PHRASES)
        before, after = abstains(pair.source, phrases), abstains(pair.followup, phrases)
        details = {"source_abstains": before is not None, "followup_abstains": after is not None}
        if before is not None:
            return Verdict(None, f"the source already abstains ({before!r}): {quoted_excerpt(pair.source)}", details)
        if after is not None:
            return Verdict(True, f"follow-up abstains ({after!r})", details)
        return Verdict(False, f"follow-up still answers: {quoted_excerpt(pair.followup)}", details)


class FollowsEdit(Relation):
    """Each ``from -> to`` edit the perturbation recorded (a number, a counterfactual fact)
    shows up in the follow-up output: it says ``to`` and no longer ``from``. Undecided when the
    source output did not state any ``from`` value (it did not use the fact)."""

    name = "follows-edit"
    family = DIRECTIONAL
    description = "the follow-up output follows the edited fact (says the new value, not the old one)"

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        edits = [(str(c["from"]), str(c["to"])) for c in pair.changes if "from" in c and "to" in c]
        if not edits:
            return Verdict(None, "the perturbation recorded no from -> to edit")
        used = [(old, new) for old, new in edits if contains_term(pair.source, old)]
        details = {"edits": [list(e) for e in edits]}
        if not used:
            return Verdict(None, f"the source output states none of {[old for old, _ in edits]}: "
                                 f"{quoted_excerpt(pair.source)}", details)
        missing = [new for _, new in used if not contains_term(pair.followup, new)]
        stale = [old for old, _ in used if contains_term(pair.followup, old)]
        if not missing and not stale:
            return Verdict(True, "follows " + ", ".join(f"{o} -> {n}" for o, n in used), details)
        why = []
        if missing:
            why.append(f"does not say {missing}")
        if stale:
            why.append(f"still says {stale}")
        return Verdict(False, f"follow-up {' and '.join(why)}: {quoted_excerpt(pair.followup)}", details)


class SameCorrectness(Relation):
    """Both outputs contain the expected answer (the sample's ``answer``), or neither does."""

    name = "same-correctness"
    description = "the answer is right in both or in neither (e.g. under a context permutation)"

    def check(self, pair: Pair, options: dict[str, Any]) -> Verdict:
        a = is_correct(pair.source, pair.source_sample)
        b = is_correct(pair.followup, pair.followup_sample)
        details = {"source_correct": a, "followup_correct": b}
        if a is None or b is None:
            return Verdict(None, "the sample has no 'answer' to check against", details)
        word = {True: "right", False: "wrong"}
        if a == b:
            return Verdict(True, f"{word[a]} in both", details)
        return Verdict(False, f"{word[a]} -> {word[b]}", details)


BUILTIN_OUTPUT_RELATIONS: tuple[Relation, ...] = (
    NormalizedExact(), LabelEquality(), JsonFieldEquality(), NumericTolerance(), EmbeddingCosine(),
    FollowsOption(), LabelFlip(), Abstains(), FollowsEdit(), SameCorrectness(),
)
