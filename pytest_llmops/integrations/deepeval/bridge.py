"""DeepEval metrics judged by our own model subjects (the optional ``deepeval`` extra).

The regression suite names a DeepEval metric (``AnswerRelevancyMetric``, ``GEval``...) and
gives a judge: any callable ``prompt -> text``, usually a model subject of the run. The judge
is wrapped in DeepEval's custom-model interface (a ``DeepEvalBaseLLM`` subclass), so DeepEval
never builds a client of its own and never needs an API key.

Rules this module keeps, and why:

- **Lazy import.** Nothing in the package imports this module at import time, and DeepEval
  is imported only inside :func:`score_with_deepeval`: it is an optional extra, and it takes
  about a second to import. :func:`known_metrics` and :func:`validate_metric` work from a
  table here, so YAML collection never imports DeepEval.
- **Nothing phones home, nothing lands in the working directory.** DeepEval reads its
  switches from ``os.environ`` (see ``_DEEPEVAL_ENV``); they are set before the import and
  again before each measure. Telemetry off also stops DeepEval from creating ``.deepeval/``
  in the current directory and an id file under ``~/.deepeval``. We call ``metric.measure``
  directly, never ``deepeval.evaluate()``, which is what writes the result cache
  (``.deepeval/.deepeval-cache.json``), temporary test-run files and results folders.
- **A judge answer we cannot use is never a score.** DeepEval's prompts ask for JSON in a
  fixed shape (a pydantic schema per step). The judge's text is parsed and validated against
  that schema here; anything else raises :class:`JudgeFailed` with an excerpt of the answer,
  so a weak judge shows up as "judge failed", never as a silent 0 or 1.
- **Infra errors stay infra errors.** An exception raised by the judge callable itself
  (e.g. ``InfraError`` from the engine) propagates unchanged.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from pytest_llmops.core.json_text import NOT_FOUND, decode_first

INSTALL_HINT = 'pip install "pytest-llmops[deepeval]"'

# DeepEval's switches, forced for the whole process (DeepEval reads os.environ, not arguments).
_DEEPEVAL_ENV = {
    # No PostHog events; also stops `.deepeval/` in the cwd and `~/.deepeval/` id files.
    "DEEPEVAL_TELEMETRY_OPT_OUT": "1",
    # DeepEval loads `.env`, `.env.local`... from the cwd into os.environ on import; a user's
    # file there could switch on remote evaluation or change settings behind our back.
    "DEEPEVAL_DISABLE_DOTENV": "1",
    # "1" would make the import ask PyPI for the latest version.
    "DEEPEVAL_UPDATE_WARNING_OPT_IN": "0",
    # With a Confident AI key around, DeepEval would upload traces of the judge's calls
    # (prompts included) to Confident AI.
    "CONFIDENT_TRACING_ENABLED": "NO",
}

_EXCERPT_CHARS = 300

# The fields of a test case a metric may need beyond `input` and `actual_output`.
TEST_CASE_FIELDS = ("input", "actual_output", "expected_output", "retrieval_context")


class DeepEvalUnavailable(RuntimeError):
    """DeepEval is not installed (the ``deepeval`` extra)."""


class JudgeFailed(RuntimeError):
    """The judge's answer could not be used (not JSON, wrong shape, score out of range).

    Neither a pass nor a failure of the model under test: the case has no verdict.
    """


@dataclass(frozen=True)
class _Option:
    """One constructor option a suite may set, with a check of its value."""

    kind: str  # "float01", "bool", "int>=1", "str", "list[str]", "params"

    def check(self, metric: str, name: str, value: Any) -> Any:
        where = f"DeepEval metric {metric}: option {name!r}"
        if self.kind == "float01":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{where} must be a number between 0 and 1, got {value!r}")
            return float(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{where} must be true or false, got {value!r}")
            return value
        if self.kind == "int>=1":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where} must be a whole number >= 1, got {value!r}")
            return value
        if self.kind == "str":
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where} must be a non-empty string, got {value!r}")
            return value
        if self.kind == "list[str]":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{where} must be a non-empty list of strings, got {value!r}")
            return list(value)
        if self.kind == "params":
            if not isinstance(value, list) or not value or any(v not in TEST_CASE_FIELDS for v in value):
                raise ValueError(f"{where} must be a non-empty list of {list(TEST_CASE_FIELDS)}, got {value!r}")
            return list(dict.fromkeys(value))
        raise AssertionError(self.kind)


_COMMON = {"threshold": _Option("float01"), "include_reason": _Option("bool"), "strict_mode": _Option("bool")}


@dataclass(frozen=True)
class _Metric:
    """What the bridge knows about one DeepEval metric class, without importing DeepEval."""

    options: dict[str, _Option]
    needs: tuple[str, ...] = ()  # test-case fields required beyond input and actual_output
    # Most metrics can hand decisions to DeepEval's hosted "System One" model; we pin
    # eval_mode="llm" where the constructor takes it so only our judge is ever asked.
    pins_eval_mode: bool = True


# Metrics whose score means "higher is better"; the ones scoring harm (Bias, Toxicity,
# Hallucination) are left out so that a score here always reads the same way.
_METRICS: dict[str, _Metric] = {
    "AnswerRelevancyMetric": _Metric(_COMMON),
    "FaithfulnessMetric": _Metric({**_COMMON, "truths_extraction_limit": _Option("int>=1"),
                                   "penalize_ambiguous_claims": _Option("bool")},
                                  needs=("retrieval_context",)),
    "ContextualRelevancyMetric": _Metric(_COMMON, needs=("retrieval_context",)),
    "ContextualPrecisionMetric": _Metric(_COMMON, needs=("expected_output", "retrieval_context")),
    "ContextualRecallMetric": _Metric(_COMMON, needs=("expected_output", "retrieval_context")),
    "SummarizationMetric": _Metric({**_COMMON, "n": _Option("int>=1"), "assessment_questions": _Option("list[str]"),
                                    "truths_extraction_limit": _Option("int>=1")}),
    "GEval": _Metric({"name": _Option("str"), "criteria": _Option("str"), "evaluation_steps": _Option("list[str]"),
                      "evaluation_params": _Option("params"), "threshold": _Option("float01"),
                      "strict_mode": _Option("bool")},
                     pins_eval_mode=False),
}

_GEVAL_DEFAULT_PARAMS = ["input", "actual_output"]


def known_metrics() -> list[str]:
    """The DeepEval metric names a suite may use (DeepEval is not imported)."""
    return sorted(_METRICS)


def _spec(name: str) -> _Metric:
    if name not in _METRICS:
        raise ValueError(f"unknown DeepEval metric {name!r}; known metrics: {', '.join(known_metrics())}")
    return _METRICS[name]


def metric_needs(name: str) -> tuple[str, ...]:
    """Test-case fields ``name`` requires beyond ``input`` and ``actual_output``."""
    spec = _spec(name)
    if name == "GEval":
        return ()  # depends on evaluation_params: see validate_metric / score_with_deepeval
    return spec.needs


def validate_metric(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Check a metric name and its options; return the options to build it with.

    Raises ``ValueError`` naming the known metrics or the accepted options. Does not import
    DeepEval, so it is safe at YAML collection time.
    """
    spec = _spec(name)
    if not isinstance(options, dict):
        # ValueError like every other bad suite entry: the caller reports them all the same way.
        raise ValueError(  # noqa: TRY004
            f"DeepEval metric {name}: options must be a mapping, got {type(options).__name__}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(f"DeepEval metric {name}: unknown option(s) {unknown}; accepted: {sorted(spec.options)}")
    checked = {key: spec.options[key].check(name, key, value) for key, value in options.items()}
    if name == "GEval":
        if "criteria" not in checked and "evaluation_steps" not in checked:
            raise ValueError("DeepEval metric GEval needs 'criteria' or 'evaluation_steps'")
        checked.setdefault("name", "GEval")
        checked.setdefault("evaluation_params", list(_GEVAL_DEFAULT_PARAMS))
    return checked


def _needed_fields(name: str, options: dict[str, Any]) -> tuple[str, ...]:
    if name == "GEval":
        return tuple(p for p in options["evaluation_params"] if p in ("expected_output", "retrieval_context"))
    return _METRICS[name].needs


# -- DeepEval, imported lazily -----------------------------------------------------------

def apply_env() -> None:
    os.environ.update(_DEEPEVAL_ENV)


_first_import = True


def import_deepeval() -> Any:
    """Import DeepEval with its switches set; ``DeepEvalUnavailable`` when it is not installed."""
    global _first_import
    # Someone else imported DeepEval before our first call, with telemetry still on?
    preloaded = _first_import and "deepeval" in sys.modules
    opted_out_before = os.environ.get("DEEPEVAL_TELEMETRY_OPT_OUT", "").lower() in ("1", "true", "yes", "on")
    apply_env()
    try:
        import deepeval  # deepeval (optional extra): only when a DeepEval metric scores
        import deepeval.metrics
        import deepeval.models
    except ImportError as exc:
        raise DeepEvalUnavailable(f"DeepEval metrics need the deepeval extra: {INSTALL_HINT} ({exc})") from exc
    if preloaded and not opted_out_before:
        _warn_preloaded()
    _first_import = False
    return deepeval


@functools.lru_cache(maxsize=1)
def _warn_preloaded() -> None:
    # DeepEval's own pytest plugin imports it at pytest start-up, before we could switch
    # telemetry off: by then it may already have made `.deepeval/` in the cwd.
    warnings.warn("deepeval was imported before pytest-llmops could switch its telemetry off (its pytest "
                  "plugin loads on every run); run pytest with '-p no:deepeval' or set "
                  "DEEPEVAL_TELEMETRY_OPT_OUT=1 in the environment", RuntimeWarning, stacklevel=3)


def excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


def _first_json_object(text: str) -> Any:
    """The first complete top-level JSON object in ``text``.

    Judges wrap JSON in prose or code fences, and small ones repeat it. Candidates are the
    first ``{`` and any ``{`` opening a line; an object nested in a cut-off one is never a
    candidate, so a truncated answer cannot pass as its inner part.
    """
    first = text.find("{")
    starts = sorted({first, *(m.start() for m in re.finditer(r"(?m)^\{", text))}) if first != -1 else []
    # Raw newlines inside strings are accepted: llama-cpp-python's schema grammar allows them,
    # and they leave no doubt about what the string is.
    value = decode_first(text, starts, strict=False)
    if value is NOT_FOUND:
        raise ValueError("no complete JSON object in the answer")
    return value


def parse_judge_answer(text: str, schema: Any, judge_name: str) -> Any:
    """Validate the judge's ``text`` against a DeepEval pydantic ``schema``; ``JudgeFailed`` if unusable.

    No repair is attempted (DeepEval's own parser closes a missing brace): a cut-off or
    malformed answer is a judge failure, not something to guess at.
    """
    from pydantic import ValidationError  # pydantic comes with deepeval: only when it scores

    step = getattr(schema, "__name__", "answer")
    try:
        data = _first_json_object(text)
        return schema.model_validate(data)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "top level"
            why = f"{exc.error_count()} schema error(s), first at {where}: {first['msg']}"
        else:
            why = str(exc)
        raise JudgeFailed(f"judge {judge_name} gave no usable JSON for DeepEval's {step} step ({why}); "
                          f"if the answer was cut short, allow the judge more max_new_tokens. "
                          f"Answer: {excerpt(text)!r}") from exc


def build_metric(name: str, options: dict[str, Any], model: Any) -> Any:
    from deepeval import metrics  # deepeval (optional extra): only when a DeepEval metric scores
    from deepeval.test_case import SingleTurnParams

    kwargs = dict(options)
    if name == "GEval":
        kwargs["evaluation_params"] = [SingleTurnParams(p) for p in kwargs["evaluation_params"]]
    if _METRICS[name].pins_eval_mode:
        kwargs["eval_mode"] = "llm"
    # Asynchronous (we await a_measure, many cases at once) and quiet: no verbose logs on stdout.
    return getattr(metrics, name)(model=model, async_mode=True, verbose_mode=False, **kwargs)


def check_case(name: str, options: dict[str, Any], expected_output: str | None,
               retrieval_context: list[str] | None) -> dict[str, Any]:
    """Validated options for ``name``; ``ValueError`` when the case lacks a field the metric needs."""
    checked = validate_metric(name, options)
    given = {"expected_output": expected_output, "retrieval_context": retrieval_context}
    missing = [f for f in _needed_fields(name, checked) if not given[f]]
    if missing:
        raise ValueError(f"DeepEval metric {name} needs {' and '.join(missing)} in the case")
    return checked


def checked_score(metric: Any, model: Any, name: str, judge_name: str) -> tuple[float, str]:
    """The metric's ``(score, reason)`` after a measure; ``JudgeFailed`` when the score is unusable."""
    score = metric.score
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score) \
            or not 0 <= score <= 1:
        last = excerpt(model.answers[-1]) if model.answers else "(none)"
        raise JudgeFailed(f"DeepEval {name} scored {score!r} from the answers of judge {judge_name}, "
                          f"outside [0, 1]. Last answer: {last!r}")
    return float(score), metric.reason or ""


def measure_failed(exc: BaseException, model: Any, name: str, judge_name: str) -> BaseException:
    """What a failed measure means: the judge's own error unchanged, else ``JudgeFailed``."""
    if isinstance(exc, JudgeFailed):
        return exc
    if model.judge_error is not None:
        return model.judge_error  # the judge's own error (e.g. InfraError), unchanged
    last = excerpt(model.answers[-1]) if model.answers else "(none)"
    failed = JudgeFailed(f"DeepEval {name} could not use the answers of judge {judge_name}: "
                         f"{type(exc).__name__}: {exc}. Last answer: {last!r}")
    failed.__cause__ = exc
    return failed
