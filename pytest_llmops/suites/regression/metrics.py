"""Scoring functions of the regression suite: each maps (output, golden row) to a score in [0, 1].

Deterministic metrics are computed here; ROUGE-L and BLEU come from ``rouge-score`` and
``sacrebleu``; embedding similarity uses the shipped all-MiniLM-L6-v2; DeepEval metrics
(``deepeval:NAME``) go through :mod:`pytest_llmops.integrations.deepeval.bridge`, judged by one of our
model subjects. A case *passes* a metric when its score reaches the metric's threshold;
McNemar's test works on those pass/fail flips, the bootstrap on the scores.
"""

from __future__ import annotations

import functools
import json
import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from pytest_llmops.checks.builtin import extract_json
from pytest_llmops.suites.regression.golden import GoldenRow

Scorer = Callable[[str, GoldenRow, "MetricContext"], float]
#: The default non-inferiority margin: 10% of the baseline's mean, on the metric's own scale.
#: A relative margin lets every metric regress (an absolute 0.05 could never be crossed by a
#: metric whose baseline mean is 0.04); docs/regression.md says how 10% was chosen.
DEFAULT_TOLERANCE = "10%"


class MetricUnavailable(RuntimeError):
    """A metric's scorer cannot run here (an optional extra is missing); the case errors."""


@dataclass
class MetricContext:
    """What a scorer may need beyond the output and the row: a judge, the fluency scorer."""

    judge: Callable[..., str] | None = None
    judge_name: str = ""
    #: the suite's judge with its repeats and bulk scores (a regression.judging.SuiteJudge)
    suite_judge: Any = None
    #: every DeepEval judgement made for this case, in order (regression.judging.Judgement)
    judgements: list[Any] = field(default_factory=list)
    input_text: str = ""
    #: answer -> fluency under the fixed scoring model, conditioned on this case's messages
    fluency: Callable[[str], float] | None = None


@dataclass(frozen=True)
class Tolerance:
    """A non-inferiority margin: absolute (``0.05``) or relative to the baseline mean (``10%``)."""

    value: float
    relative: bool = False

    @classmethod
    def parse(cls, raw: Any) -> "Tolerance":
        """``0.05`` or ``"10%"``; ValueError says what was expected."""
        if isinstance(raw, str) and raw.strip().endswith("%"):
            try:
                percent = float(raw.strip()[:-1])
            except ValueError:
                percent = -1.0
            if not 0 <= percent < 100:
                raise ValueError(f"expected a percentage in [0%, 100%) such as '10%', got {raw!r}")
            return cls(percent / 100.0, relative=True)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw < 1:
            raise ValueError(f"expected an absolute drop in [0, 1) such as 0.05, or a share of the baseline "
                             f"mean such as '10%'; got {raw!r}")
        return cls(float(raw))

    def absolute(self, baseline_mean: float | None) -> float:
        """The margin on the metric's scale, given the baseline's mean over the paired cases."""
        if not self.relative:
            return self.value
        return self.value * abs(baseline_mean or 0.0)

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


@dataclass(frozen=True)
class MetricSpec:
    """A metric as configured in a suite: how it scores, when a case passes, how it is gated."""

    name: str
    threshold: float
    gate: bool = True
    tolerance: Tolerance = Tolerance(0.10, relative=True)
    options: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        # A relative margin is resolved on the controller, against the paired baseline mean.
        return {"threshold": self.threshold, "gate": self.gate, "tolerance": self.tolerance.value,
                "tolerance_relative": self.tolerance.relative}


# -- normalisation ----------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def normalize(text: str) -> str:
    """Lowercase, NFKC, no punctuation or English articles, single spaces (SQuAD-style)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _needs_refs(row: GoldenRow, metric: str) -> list[str]:
    refs = row.references
    if not refs:
        raise ValueError(f"metric {metric!r} needs 'expected' (or 'accept') in row {row.id!r}")
    return refs


# -- scorers ------------------------------------------------------------------------------
def exact_match(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    got = normalize(output)
    return float(any(got == normalize(ref) for ref in _needs_refs(row, "exact_match")))


def contains(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    got = f" {normalize(output)} "
    return float(any(f" {normalize(ref)} " in got for ref in _needs_refs(row, "contains")))


def regex(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    if row.pattern is None:
        raise ValueError(f"metric 'regex' needs 'pattern' in row {row.id!r}")
    return float(re.search(row.pattern, output) is not None)


def token_f1(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    got = normalize(output).split()
    best = 0.0
    for ref in _needs_refs(row, "token_f1"):
        want = normalize(ref).split()
        common = sum((Counter(got) & Counter(want)).values())
        if not got or not want or not common:
            continue
        precision, recall = common / len(got), common / len(want)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


@functools.lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer  # optional extra, only for suites scoring rouge_l

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    scorer = _rouge()
    return max(scorer.score(ref, output)["rougeL"].fmeasure for ref in _needs_refs(row, "rouge_l"))


def bleu(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    import sacrebleu  # optional extra, only for suites scoring bleu

    # Sentence BLEU with sacrebleu's default exponential smoothing, on the 0-1 scale.
    return float(sacrebleu.sentence_bleu(output, _needs_refs(row, "bleu")).score) / 100.0


def json_valid(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    try:
        extract_json(output)
    except ValueError:
        return 0.0
    return 1.0


def json_fields(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    """The share of ``expected_json`` fields the output's JSON object has with equal values."""
    if not row.expected_json:
        raise ValueError(f"metric 'json_fields' needs 'expected_json' in row {row.id!r}")
    try:
        data = extract_json(output)
    except ValueError:
        return 0.0
    if not isinstance(data, dict):
        return 0.0
    hits = sum(1 for key, value in row.expected_json.items() if _same(data.get(key), value))
    return hits / len(row.expected_json)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, str) and isinstance(got, str):
        return normalize(got) == normalize(want)
    return json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def embedding_similarity(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    from pytest_llmops.checks.embeddings import shared_embedder  # loads a sentence-embedding model

    embedder = shared_embedder()
    return max(0.0, max(embedder.cosine(output, ref) for ref in _needs_refs(row, "embedding_similarity")))


# -- reference-free signals (docs/regression.md, "Reference-free signals") ---------------
def fluency(output: str, row: GoldenRow, ctx: MetricContext) -> float:
    """Geometric-mean token probability of the answer under the fixed scoring model."""
    if ctx.fluency is None:
        raise MetricUnavailable("fluency needs the scoring model; the suite did not provide it")
    return ctx.fluency(output)


# Each detector names what it found (or returns None / False); see pytest_llmops.checks.quality.
_DETECTORS = {"no_hedging": "find_hedge", "no_repetition": "find_repetition", "english": "find_foreign_language",
              "not_empty": "is_empty", "no_refusal": "detect_refusal"}


def detector(name: str) -> Callable[[str], Any]:
    """The detector behind a 0/1 reference-free metric (imported on first use)."""
    import pytest_llmops.checks.builtin as builtin_checks
    import pytest_llmops.checks.quality as quality_checks

    function = _DETECTORS[name]
    return getattr(builtin_checks if function == "detect_refusal" else quality_checks, function)


def _clean_unless(name: str) -> Scorer:
    """A 0/1 metric: 1 when the detector behind ``name`` finds nothing in the output."""

    def score(output: str, row: GoldenRow, ctx: MetricContext) -> float:
        return 0.0 if detector(name)(output) else 1.0

    score.__name__ = name
    return score


def deepeval_scorer(name: str, options: dict[str, Any], threshold: float = 0.5) -> Scorer:
    """A scorer running DeepEval metric ``name`` with the suite's judge.

    With ``ctx.suite_judge`` (the run's path) the score is the mean over the judge's repeats,
    usually already computed for the whole suite in one batched pass, and the judgement is
    logged in ``ctx.judgements``. Without it (the sensitivity benchmark) the judge callable
    scores the answer on its own.
    """

    def score(output: str, row: GoldenRow, ctx: MetricContext) -> float:
        from pytest_llmops.integrations.deepeval import batch as deepeval_batch  # imports deepeval
        from pytest_llmops.integrations.deepeval import bridge as deepeval_bridge

        # JudgeFailed (the judge's answers were unusable) propagates: the case is an error,
        # neither a pass nor a low score.
        if ctx.judge is None and ctx.suite_judge is None:
            raise MetricUnavailable(f"deepeval:{name} needs a judge model")
        try:
            if ctx.suite_judge is not None:
                judgement = ctx.suite_judge.judgement(name, options, threshold, ctx.input_text, output, row.expected)
                ctx.judgements.append(judgement)
                return judgement.mean
            value, _reason = deepeval_batch.score_with_deepeval(
                name, options, input=ctx.input_text, actual_output=output, expected_output=row.expected,
                retrieval_context=None, judge=ctx.judge, judge_name=ctx.judge_name)
        except deepeval_bridge.DeepEvalUnavailable as exc:
            raise MetricUnavailable(str(exc)) from None
        return float(value)

    return score


# name -> (scorer, default pass threshold, row field it needs)
BUILTIN_METRICS: dict[str, tuple[Scorer, float, str]] = {
    "exact_match": (exact_match, 1.0, "expected"),
    "contains": (contains, 1.0, "expected"),
    "regex": (regex, 1.0, "pattern"),
    "token_f1": (token_f1, 0.5, "expected"),
    "rouge_l": (rouge_l, 0.5, "expected"),
    "bleu": (bleu, 0.3, "expected"),
    "json_valid": (json_valid, 1.0, ""),
    "json_fields": (json_fields, 1.0, "expected_json"),
    "embedding_similarity": (embedding_similarity, 0.8, "expected"),
    "fluency": (fluency, 0.05, ""),
    **{name: (_clean_unless(name), 1.0, "") for name in _DETECTORS},
}
DEEPEVAL_PREFIX = "deepeval:"


def scorer_for(spec: MetricSpec) -> Scorer:
    """The scoring function of a configured metric."""
    if spec.name.startswith(DEEPEVAL_PREFIX):
        return deepeval_scorer(spec.name[len(DEEPEVAL_PREFIX):], spec.options, spec.threshold)
    return BUILTIN_METRICS[spec.name][0]


def required_field(name: str) -> str:
    """The row field a metric reads ('' when it needs none)."""
    if name.startswith(DEEPEVAL_PREFIX):
        return ""
    return BUILTIN_METRICS[name][2]


def row_has(row: GoldenRow, needed: str) -> bool:
    if needed == "expected":
        return bool(row.references)
    if needed == "pattern":
        return row.pattern is not None
    if needed == "expected_json":
        return bool(row.expected_json)
    return True
