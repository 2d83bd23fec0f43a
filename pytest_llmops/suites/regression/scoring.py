"""One golden row's scores: the candidate's answer, and the baseline's beside it.

Pure functions of the answers, the metrics and a :class:`MetricContext`, so the suite kind
and the sensitivity benchmark (``benchmarks/regression_sensitivity.py``) score exactly alike.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.suites.regression.agreement import AgreementSpec, compare_answers
from pytest_llmops.suites.regression.golden import GoldenRow
from pytest_llmops.suites.regression.metrics import MetricContext, MetricSpec, scorer_for


def score(metrics: list[MetricSpec], output: str, row: GoldenRow, context: MetricContext) -> dict[str, float]:
    """Every metric's score of ``output``, rounded so records and baselines stay stable."""
    return {m.name: round(float(scorer_for(m)(output, row, context)), 6) for m in metrics}


def score_answers(metrics: list[MetricSpec], row: GoldenRow, output: str, baseline_output: str | None,
                  context: MetricContext, agreement: AgreementSpec,
                  similarity: Callable[[str, str], float] | None,
                  scorer: Callable[..., dict[str, float]] = score) -> dict[str, Any]:
    """``scores`` and ``passed``; with a baseline answer also ``baseline``, ``flips`` and ``agreement``.

    ``context.fluency`` must know both answers when the suite scores fluency or compares them.
    ``scorer`` is :func:`score` or a memoised stand-in for it (the benchmark re-scores the
    same answers thousands of times).
    """
    scores = scorer(metrics, output, row, context)
    result: dict[str, Any] = {"scores": scores, "passed": {m.name: scores[m.name] >= m.threshold for m in metrics}}
    if baseline_output is None:
        return result
    base_scores = scorer(metrics, baseline_output, row, context)
    result["baseline"] = {"output": baseline_output, "scores": base_scores,
                          "passed": {m.name: base_scores[m.name] >= m.threshold for m in metrics}}
    result["flips"] = {name: ("improved" if now else "regressed") for name, now in result["passed"].items()
                       if now != result["baseline"]["passed"][name]}
    if agreement.enabled:
        gated = {m.name for m in metrics if m.gate}
        fluency = None
        if context.fluency is not None:
            fluency = (context.fluency(output), context.fluency(baseline_output))
        result["agreement"] = compare_answers(
            output, baseline_output, {k: v for k, v in result["flips"].items() if k in gated}, fluency, similarity)
        result["agreement_config"] = agreement.config()
    return result
