"""Grounding: which sentences of an answer are supported by the retrieved contexts.

:func:`grounding` splits the answer into sentences and decides, per sentence that makes a
claim, whether some context supports it. Two signals, both offline and deterministic:

- **embedding support**: the highest cosine between the sentence and a context sentence
  (or two adjacent context sentences together, or a whole passage) under all-MiniLM-L6-v2
  (:func:`~pytest_llmops.checks.embeddings.shared_embedder`, the model ``similar`` uses); a
  sentence below :data:`SUPPORT_THRESHOLD` is unsupported;
- **lexical evidence**: a number written in digits, or a capitalised name in the middle of
  the sentence, that appears in no context makes the sentence unsupported whatever its
  cosine (an answer that says "90 days" where the passage says "30 days" is close in
  embedding space and still wrong).

The threshold was chosen on the ``dev`` split of ``fixtures/grounding/labelled.jsonl`` and the
accuracy is measured on its ``test`` split (``benchmarks/grounding_accuracy.py``; the figures
and what the scorer misses, contradictions above all, are in ``docs/grounding.md``).

Sentences that make no claim (a question, a sign-off such as "Happy to help further.") are
reported with ``claim: False`` and count as supported.
"""

from __future__ import annotations

import re
from typing import Any, Container, Sequence

from pytest_llmops.checks.builtin import Check, CheckResult

__all__ = ["GROUNDING_CHECKS", "SUPPORT_THRESHOLD", "Grounded", "grounding", "lexical_problems", "split_sentences", "unsupported_share"]

SUPPORT_THRESHOLD = 0.678
"""The cosine below which a claim is unsupported; chosen on the dev split (docs/grounding.md)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9\u00bf\u00a1])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "St.", "No.", "approx.")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_WORD = re.compile(r"[A-Za-z][\w'&-]*")
# "one" is left out of the sentence side below: "one of", "the one that" are not counts.
_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
                 "noon": "12", "midday": "12", "midnight": "12", "fifteen": "15", "twenty": "20",
                 "thirty": "30", "hundred": "100"}
_NON_CLAIM = re.compile(
    r"^(?:thanks?\b|thank you\b|let me know\b|happy to help\b|hope (?:this|that) helps\b|"
    r"(?:is there )?anything else\b|sure[.!]?$|of course[.!]?$|you're welcome\b|cheers\b|"
    r"feel free to\b)", re.IGNORECASE)
# Capitalised words that are not names when they stand mid-sentence.
_NOT_NAMES = {"I", "I'm", "I've", "I'll", "I'd", "OK", "AM", "PM", "Yes", "No"}


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences at ``.``, ``!`` or ``?`` followed by a capital or digit
    (common abbreviations such as "e.g." do not end a sentence); blank pieces are dropped."""
    guarded = text
    for index, abbreviation in enumerate(_ABBREVIATIONS):
        guarded = guarded.replace(abbreviation, abbreviation.replace(".", f"\x00{index}\x00"))
    pieces = []
    for piece in _SENTENCE_END.split(guarded.replace("\n", " ")):
        for index, abbreviation in enumerate(_ABBREVIATIONS):
            piece = piece.replace(abbreviation.replace(".", f"\x00{index}\x00"), abbreviation)
        if piece.strip():
            pieces.append(piece.strip())
    return pieces


def _is_claim(sentence: str) -> bool:
    words = _WORD.findall(sentence)
    return not (sentence.rstrip().endswith("?") or len(words) < 3 or _NON_CLAIM.match(sentence.strip()))


def _numbers(text: str) -> set[str]:
    """Numbers in ``text`` (digits with thousands separators removed, plus number words)."""
    found = {_plain(n) for n in _NUMBER.findall(text)}
    parts = {p for n in found for p in n.split(":")}  # "6:30" also offers 6 and 30
    return found | parts | set(_number_words(text))


def _plain(number: str) -> str:
    return number.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", number) else number


def _number_words(text: str) -> list[str]:
    return [_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS]


def _names(sentence: str, vocabulary: Container[str] | None) -> list[str]:
    """The names a sentence mentions: capitalised words after the first one, and, given a
    ``vocabulary`` (the embedding model's lower-case words), the first word when it is not in it."""
    words = _WORD.findall(sentence)
    first = [words[0]] if (vocabulary is not None and words and words[0][0].isupper()
                           and words[0].lower() not in vocabulary) else []
    return first + [w for w in words[1:] if w[0].isupper() and w not in _NOT_NAMES]


def lexical_problems(sentence: str, contexts_text: str, vocabulary: Container[str] | None = None) -> list[str]:
    """Numbers and names in ``sentence`` that appear in no context.

    A number counts in digits or as a word from "two" up (a context's "noon" is 12, its "two" is
    2); a name counts when some context word starts with it ("Sunday" is in "Sundays")."""
    problems: list[str] = []
    known_numbers = _numbers(contexts_text)
    for number in _NUMBER.findall(sentence):
        if _plain(number) not in known_numbers:
            problems.append(f"number {number!r} is in no context")
    for word in re.findall(r"[a-z]+", sentence.lower()):
        value = _NUMBER_WORDS.get(word) if word != "one" else None
        if value is not None and value not in known_numbers:
            problems.append(f"number {word!r} is in no context")
    lowered = contexts_text.lower()
    for name in _names(sentence, vocabulary):
        if not re.search(rf"(?<!\w){re.escape(name.lower())}", lowered):
            problems.append(f"name {name!r} is in no context")
    return problems


def _context_units(contexts: Sequence[str]) -> list[str]:
    """What a sentence can be supported by: each context sentence, each two adjacent ones, each passage."""
    units: list[str] = []
    for passage in contexts:
        sentences = split_sentences(passage)
        units += sentences
        units += [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]
        if len(sentences) > 2:
            units.append(passage.strip())
    return list(dict.fromkeys(u for u in units if u))


_CACHE_LIMIT = 50_000  # vectors of 384 floats: about 80 MB at the limit


def _embed(embedder: Any, texts: list[str]) -> Any:
    """Unit vectors of ``texts``, one row each; logged RAG traffic retrieves the same passages
    again and again, so the embedder keeps the vectors of the texts it has seen and only new
    texts are embedded."""
    import torch  # torch: only when grounding is scored

    cache: dict[str, Any] = embedder.__dict__.setdefault("_grounding_vectors", {})
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        if len(cache) + len(missing) > _CACHE_LIMIT:
            cache.clear()
        cache.update(zip(missing, embedder.embed(missing)))
    return torch.stack([cache[t] for t in texts])


def _vocabulary(embedder: Any) -> Container[str] | None:
    """The embedding model's whole lower-case words (no ``##`` pieces): what counts as a common word."""
    tokenizer = getattr(embedder, "tokenizer", None)
    if tokenizer is None:
        return None
    words = embedder.__dict__.get("_grounding_words")
    if words is None:
        words = embedder.__dict__["_grounding_words"] = frozenset(
            w for w in tokenizer.get_vocab() if w.isalpha() and w.islower())
    return words


def grounding(answer: str, contexts: Sequence[str], threshold: float = SUPPORT_THRESHOLD,
              embedder: Any = None) -> dict[str, Any]:
    """Which sentences of ``answer`` the ``contexts`` support.

    Returns ``{"supported": bool, "sentences": [{"text", "support", "supported", "claim",
    "problems"}], "unsupported": int}``: ``support`` is the best cosine against the contexts
    (``None`` without contexts), ``problems`` the lexical evidence (names and numbers found in
    no context); the answer is supported when no claim is unsupported. With no contexts at
    all every claim is unsupported. ``embedder`` defaults to the shared all-MiniLM-L6-v2.
    """
    sentences = split_sentences(answer)
    claims = [s for s in sentences if _is_claim(s)]
    units = _context_units(contexts)
    scores: dict[str, float] = {}
    if claims and units:
        if embedder is None:
            from pytest_llmops.checks.embeddings import shared_embedder  # torch: only when grounding is scored

            embedder = shared_embedder()
        vectors = _embed(embedder, [*claims, *units])
        similarity = vectors[:len(claims)] @ vectors[len(claims):].T
        scores = {claim: float(row.max()) for claim, row in zip(claims, similarity)}
    contexts_text = "\n".join(contexts)
    rows = []
    for sentence in sentences:
        if sentence not in claims:
            rows.append({"text": sentence, "support": None, "supported": True, "claim": False, "problems": []})
            continue
        support = scores.get(sentence)
        problems = lexical_problems(sentence, contexts_text, _vocabulary(embedder)) if units \
            else ["no context to support it"]
        if support is not None and support < threshold:
            problems.insert(0, f"best support {support:.3f} < {threshold}")
        rows.append({"text": sentence, "support": None if support is None else round(support, 4),
                     "supported": not problems, "claim": True, "problems": problems})
    unsupported = sum(1 for row in rows if not row["supported"])
    return {"supported": unsupported == 0, "sentences": rows, "unsupported": unsupported}


def unsupported_share(pairs: Sequence[tuple[str, Sequence[str]]], threshold: float = SUPPORT_THRESHOLD,
                      embedder: Any = None) -> dict[str, Any]:
    """The share of ``(answer, contexts)`` pairs with an unsupported claim, as a rate metric
    (``{"value", "ci95" (Wilson), "n"}``) plus ``"unsupported"`` (the count); gate it like any
    rate, e.g. ``grounding.unsupported_share.ub95 <= 0.2``."""
    from pytest_llmops.core.stats import rate_metric

    bad = sum(1 for answer, contexts in pairs if not grounding(answer, contexts, threshold, embedder)["supported"])
    return {**rate_metric(bad, len(pairs)), "unsupported": bad}


class Grounded(Check):
    """``grounded: true`` (or ``{threshold: 0..1}``): no claim of the output is unsupported
    by the case's retrieved contexts (a RAG subject's, or a logged interaction's). A logged
    interaction without contexts (not a RAG answer) passes with evidence saying so; a case
    whose subject retrieves nothing at all (not a RAG subject) fails as misconfigured.

    The score is the share of claims supported; the evidence names each unsupported
    sentence and why (its best cosine, or a number or name found in no context). In a
    suite (or a suite's ``defaults``) where ``grounded`` is the only check, the suite's
    ``pass_rate`` (Wilson 95% interval) is the share of grounded answers, so
    ``"rag/*: pass_rate.lb95 >= 0.8"`` gates the unsupported share at ``ub95 <= 0.2``.
    """

    name = "grounded"

    def validate(self, arg: Any) -> Any:
        # ``true`` stays ``true`` (a log suite labels the check by its argument: "grounded").
        if arg is None or arg is True:
            return True
        threshold = arg.get("threshold", SUPPORT_THRESHOLD) if isinstance(arg, dict) else None
        if not isinstance(arg, dict) or set(arg) - {"threshold"} or isinstance(threshold, bool) \
                or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
            raise ValueError(f"'grounded' expects true or {{threshold: -1..1}}, got {arg!r}")
        return {"threshold": float(threshold)}

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        contexts = context.get("contexts")
        if contexts is None:
            return self.result(False, "no retrieved contexts: 'grounded' needs a RAG subject (rag: ...) "
                                      "or logged interactions with contexts", arg, 0.0)
        if not contexts:
            # A logged interaction without retrieval (a log mixes RAG and plain chat lines).
            return self.result(True, "no retrieved contexts on this answer: not a RAG answer, nothing to ground",
                               arg, 1.0)
        threshold = arg["threshold"] if isinstance(arg, dict) else SUPPORT_THRESHOLD
        result = grounding(output, [str(c) for c in contexts], threshold)
        claims = [s for s in result["sentences"] if s["claim"]]
        score = (sum(s["supported"] for s in claims) / len(claims)) if claims else 1.0
        bad = [s for s in claims if not s["supported"]]
        if not bad:
            return self.result(True, f"{len(claims)} claim(s), all supported by the {len(contexts)} "
                                     "context(s)", arg, score)
        evidence = "; ".join(f"unsupported {s['text'][:120]!r} ({', '.join(s['problems'])})" for s in bad[:3])
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        return self.result(False, f"{len(bad)} of {len(claims)} claim(s) unsupported: {evidence}{more}", arg,
                           score)


GROUNDING_CHECKS: list[Check] = [Grounded()]
