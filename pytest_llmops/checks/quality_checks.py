"""Reference-free quality checks for YAML cases: ``no-hedging``, ``no-repetition``, ``english``, ``not-empty``.

Each is written ``- NAME: true`` (or a bare ``- NAME``) and fails with the evidence its detector
in :mod:`pytest_llmops.checks.quality` found, so they need no expected answer and can sit in a
suite's ``defaults`` for every case.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.checks.builtin import Check, CheckResult, _window
from pytest_llmops.checks.quality import find_foreign_language, find_repetition, hedge_match, is_empty


class _QualityCheck(Check):
    """A ``NAME: true`` check that fails when its detector returns evidence."""

    clean = ""  # the evidence of a pass
    problem = ""  # what a failure's evidence starts with

    def validate(self, arg: Any) -> Any:
        # Only true: "no-hedging: false" would read as "must hedge", which nobody should gate on.
        if arg is None or arg is True:
            return True
        raise ValueError(f"'{self.name}' expects true, got {arg!r}")

    def detect(self, output: str) -> str | None:
        """The evidence of the problem in ``output``, or None."""
        raise NotImplementedError

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        found = self.detect(output)
        if found is None:
            return self.result(True, self.clean, arg)
        return self.result(False, f"{self.problem}: {found}", arg)


class NoHedging(_QualityCheck):
    """No hedging or uncertainty phrase ("I think", "probably", "I'm not sure", ...)."""

    name = "no-hedging"
    clean = "no hedging phrase"
    problem = "hedging phrase"

    def detect(self, output: str) -> str | None:
        match = hedge_match(output)
        if match is None:
            return None
        phrase = output[match.start():match.end()]
        return f"{phrase!r} at {match.start()}: …{_window(output, match.start(), match.end())}…"


class NoRepetition(_QualityCheck):
    """No degenerate repetition (an n-gram three times in a row, a repeated sentence, a looping answer)."""

    name = "no-repetition"
    clean = "no degenerate repetition"
    problem = "repetition"

    def detect(self, output: str) -> str | None:
        return find_repetition(output)


class English(_QualityCheck):
    """The answer is English, or too short to tell (a number, a name)."""

    name = "english"
    clean = "no sign of another language"
    problem = "not English"

    def detect(self, output: str) -> str | None:
        return find_foreign_language(output)


class NotEmpty(_QualityCheck):
    """The answer holds more than whitespace and punctuation."""

    name = "not-empty"
    clean = "not empty"
    problem = "empty output"

    def detect(self, output: str) -> str | None:
        return repr(output[:40]) if is_empty(output) else None


QUALITY_CHECKS: list[Check] = [NoHedging(), NoRepetition(), English(), NotEmpty()]


class Fluency(Check):
    """``fluency: 0.05``: the answer's fluency under the fixed scoring model reaches a minimum.

    Fluency is the geometric-mean token probability of the answer given the case's messages,
    under the embedded SmolLM2 (:mod:`pytest_llmops.checks.fluency`); the score is recorded, so
    a report shows how close each case came.
    """

    name = "fluency"

    def validate(self, arg: Any) -> Any:
        if isinstance(arg, bool) or not isinstance(arg, (int, float)) or not 0 < arg < 1:
            raise ValueError(f"'fluency' expects the smallest acceptable score in (0, 1), such as 0.05; got {arg!r}")
        return float(arg)

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        from pytest_llmops.checks.fluency import shared_fluency_scorer  # loads the scoring model

        request = context.get("request")  # the case's rendered request, built on demand
        messages = request().message_dicts() if callable(request) else None
        if not messages:
            case = context.get("case")
            messages = [{"role": "user", "content": str(getattr(case, "input", "") or "")}]
        scorer = shared_fluency_scorer(context.get("cache_dir"), context.get("cache_mode", "rw"))
        value = scorer.score_many([(messages, output)])[0]
        verdict = "at least" if value >= arg else "below"
        return self.result(value >= arg, f"fluency {value:.4f} is {verdict} {arg:g}", arg, score=value)


QUALITY_CHECKS.append(Fluency())
