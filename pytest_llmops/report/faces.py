"""Reading a suite's report face: the headline metric its kind declared, and metric directions.

A kind writes its face into every suite entry of the report (``suite["face"]``, see
:class:`~pytest_llmops.suites.kinds.ReportFace`), so renderers read it from the JSON alone
and never need to know a kind. A suite without one (a report from before faces) reads as
the default face: the pass rate, higher is better.
"""

from __future__ import annotations

import math
from typing import Any

#: Metrics every suite may carry whose smaller values are the better ones: the error rate, and the
#: tokens and cost folded from records (report/usage.py).
COMMON_LOWER_IS_BETTER = ("error_rate", "input_tokens", "output_tokens", "cost")
#: metrics where lower is better whatever the suite's face says (any kind may report them)
LOWER_EVERYWHERE = ("flakiness", "max_gap")

DEFAULT_FACE: dict[str, Any] = {"headline": "pass_rate", "label": "pass rate", "direction": "higher", "unit": "",
                                "lower_is_better": sorted(COMMON_LOWER_IS_BETTER), "breakdown": "", "summary": ""}


def face_of(suite: Any) -> dict[str, Any]:
    """The suite's face, filled with the defaults for anything it does not say."""
    face = suite.get("face") if isinstance(suite, dict) else None
    return {**DEFAULT_FACE, **face} if isinstance(face, dict) else dict(DEFAULT_FACE)


def lower_is_better(metric: str, suite: Any = None) -> bool:
    """Whether a smaller value of ``metric`` is the better one, by the suite's face."""
    parts = [*LOWER_EVERYWHERE, *(face_of(suite)["lower_is_better"] or ())]
    return any(str(part) in metric for part in parts)


def is_number(value: Any) -> bool:
    """Whether a report value is a usable number: a finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_at(metrics: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``ttft_ms.p95``) of a metrics mapping, or ``None``."""
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def headline_metric(suite: Any) -> tuple[str, Any]:
    """``(label, metric)`` of the suite's headline: the metric dict at the face's dotted path."""
    face = face_of(suite)
    metrics = suite.get("metrics") if isinstance(suite, dict) else None
    return str(face["label"]), metric_at(metrics, str(face["headline"]))


def headline_text(suite: Any) -> str:
    """The one-line summary the kind wrote (``violations 0.38 [0.14, 0.69]``); the pass rate without one.

    A suite whose cases were sampled several times adds its flakiness (see :func:`flakiness_text`)."""
    summary = face_of(suite).get("summary")
    metrics = suite.get("metrics") if isinstance(suite, dict) else None
    if not (isinstance(summary, str) and summary):
        summary = rate_summary("pass rate", metrics.get("pass_rate") if isinstance(metrics, dict) else None)
    flaky = flakiness_text(metrics)
    return f"{summary}; {flaky}" if flaky else summary


def flakiness_text(metrics: Any) -> str:
    """``flaky 2/10 0.20 [0.06, 0.51], k=5`` from a suite's ``flakiness`` metric; empty without one."""
    flakiness = metrics.get("flakiness") if isinstance(metrics, dict) else None
    if not isinstance(flakiness, dict) or not is_number(flakiness.get("value")):
        return ""
    ks = [k for k in flakiness.get("k") or [] if is_number(k)]
    k_text = f", k={'/'.join(str(k) for k in ks)}" if ks else ""
    label = f"flaky {flakiness.get('flaky', '?')}/{flakiness.get('n', '?')}"
    return rate_summary(label, flakiness) + k_text


def rate_summary(label: str, rate: Any) -> str:
    """``label 0.94 [0.81, 0.98]`` for a rate metric dict; ``label n/a`` without a value; else ``n/a``."""
    if isinstance(rate, dict) and "ci95" in rate:
        if rate.get("value") is None:
            return f"{label} n/a"
        return f"{label} {rate['value']:.2f} [{rate['ci95'][0]:.2f}, {rate['ci95'][1]:.2f}]"
    return "n/a"
