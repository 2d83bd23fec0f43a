"""DeepEval metrics of a regression suite: the judge's work for a whole suite, batched and repeated.

On a wholly selected suite, the first case scores every answer of the suite (the candidate's
and the baseline's) with every DeepEval metric, all cases at once, so the judge's prompts go
to the engine as a few large batches (one per DeepEval step) instead of one prompt at a
time. Later cases read their scores from here. Under ``-k`` a case is scored on its own.

``judge_repeats: k`` asks the judge ``k`` times per answer: the first greedily, the others
sampled with their own seed. A judgement keeps every repeat's score, their mean (the score
the suite uses) and spread, and the share of repeats that agree with the majority verdict.
A judgement whose verdict flips across repeats is **unstable**: the case is an error (no
verdict), never a pass.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from pytest_llmops.providers.base import Generation
from pytest_llmops.suites.kinds import CaseRun

Key = tuple[str, str, str, str, str]  # metric, options, input, output, expected


class JudgeUnstable(RuntimeError):
    """The judge's verdict on an answer flipped across repeats: the case has no verdict."""


@dataclass
class Judgement:
    """One DeepEval metric's judgement of one answer, over the judge's repeats."""

    metric: str
    scores: list[float]
    threshold: float

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def spread(self) -> float:
        """The sample standard deviation of the repeats' scores (0 for one repeat)."""
        return statistics.stdev(self.scores) if len(self.scores) > 1 else 0.0

    @property
    def verdicts(self) -> list[bool]:
        return [s >= self.threshold for s in self.scores]

    @property
    def self_agreement(self) -> float:
        """The share of repeats whose verdict is the majority's."""
        passes = sum(self.verdicts)
        return max(passes, len(self.scores) - passes) / len(self.scores)

    @property
    def unstable(self) -> bool:
        return 0 < sum(self.verdicts) < len(self.scores)

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "scores": [round(s, 6) for s in self.scores], "mean": round(self.mean, 6),
                "spread": round(self.spread, 6), "self_agreement": round(self.self_agreement, 6),
                "unstable": self.unstable}


@dataclass
class SuiteJudge:
    """The judge of one suite on one model: its scores so far, and what it has cost."""

    judge: Any  # pytest_llmops.core.subjects.Judge
    repeats: int = 1
    scored: dict[Key, list[Any]] = field(default_factory=dict)  # key -> one score or exception per repeat
    bulk_judged: bool = False  # every answer of the suite was judged on its first case

    @staticmethod
    def key(metric: str, options: dict[str, Any], input_text: str, output: str, expected: str | None) -> Key:
        return (metric, json.dumps(options, sort_keys=True), input_text, output, expected or "")

    def score_all(self, metric: str, options: dict[str, Any], items: Sequence[tuple[str, str, str | None]]) -> None:
        """Score ``(input, output, expected)`` items not scored yet, every repeat one batched pass."""
        from pytest_llmops.integrations.deepeval.batch import JudgeCase, score_many  # imports deepeval

        todo = list(dict.fromkeys(i for i in items if self.key(metric, options, *i) not in self.scored))
        if not todo:
            return
        cases = [JudgeCase(input=i, actual_output=o, expected_output=e) for i, o, e in todo]
        per_repeat = []
        for repeat in range(self.repeats):
            def ask_many(prompts: Sequence[tuple[str, dict[str, Any] | None]], repeat: int = repeat) -> list[Any]:
                return self.judge.ask_many(prompts, repeat)

            per_repeat.append(score_many(metric, options, cases, ask_many, self.judge.name))
        for index, item in enumerate(todo):
            self.scored[self.key(metric, options, *item)] = [results[index] for results in per_repeat]

    def judgement(self, metric: str, options: dict[str, Any], threshold: float, input_text: str, output: str,
                  expected: str | None) -> Judgement:
        """The judgement of one answer (scored now if the suite was not scored in bulk).

        Raises the judge's error (``JudgeFailed``, ``InfraError``) of the first repeat that
        failed, and :class:`JudgeUnstable` when the verdicts of the repeats disagree.
        """
        key = self.key(metric, options, input_text, output, expected)
        if key not in self.scored:
            self.score_all(metric, options, [(input_text, output, expected)])
        results = self.scored[key]
        for result in results:
            if isinstance(result, BaseException):
                raise result
        judgement = Judgement(f"deepeval:{metric}", [float(score) for score, _reason in results], threshold)
        return judgement


def check_unstable(judgements: list[Judgement]) -> None:
    """Raise :class:`JudgeUnstable` naming every judgement whose verdict flipped across repeats."""
    flipped = [j for j in judgements if j.unstable]
    if flipped:
        described = "; ".join(f"{j.metric} scored {', '.join(f'{s:.2f}' for s in j.scores)} "
                              f"(threshold {j.threshold:g})" for j in flipped)
        raise JudgeUnstable(f"the judge's verdict flipped across {len(flipped[0].scores)} repeats: {described}")


@dataclass
class JudgeTally:
    """A suite's judge over its cases: how often it failed, wavered and agreed with itself."""

    cases: int = 0
    errors: int = 0
    unstable: int = 0
    agreements: list[float] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
    identity: dict[str, Any] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        """Count one case's ``judge`` record (see :func:`judge_record`)."""
        self.cases += 1
        self.errors += record.get("error") is not None
        self.unstable += bool(record.get("unstable"))
        for judgement in record.get("judgements") or []:
            self.agreements.append(float(judgement["self_agreement"]))
            self.spreads.append(float(judgement["spread"]))
        self.identity = {key: record.get(key) for key in ("name", "fingerprint", "repeats")}

    def summary(self) -> dict[str, Any]:
        """The ``judge`` metrics of a suite: error and unstable rates with intervals, self-agreement."""
        from pytest_llmops.core.stats import rate_metric

        return {**self.identity, "cases": self.cases, "judgements": len(self.agreements), "errors": self.errors,
                "error_rate": rate_metric(self.errors, self.cases), "unstable": self.unstable,
                "unstable_rate": rate_metric(self.unstable, self.cases),
                "self_agreement": round(statistics.fmean(self.agreements), 6) if self.agreements else None,
                "mean_spread": round(statistics.fmean(self.spreads), 6) if self.spreads else None}


def parse_judge_settings(data: dict[str, Any], fail: Any) -> dict[str, Any]:
    """``judge_repeats`` (a whole number >= 1, default 1) and ``judge_temperature`` (> 0, default 0.7)."""
    repeats = data.get("judge_repeats", 1)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise fail("judge_repeats", f"expected a whole number of at least 1, got {repeats!r}")
    temperature = data.get("judge_temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                                    or not 0 < temperature <= 2):
        raise fail("judge_temperature", f"expected a number above 0 and at most 2, got {temperature!r}")
    if data.get("judge") is None and (repeats != 1 or temperature is not None):
        raise fail("judge_repeats", "judge repeats need 'judge: SPEC'")
    return {"judge_repeats": repeats, "judge_temperature": None if temperature is None else float(temperature)}


def judge_errors() -> tuple[type[BaseException], ...]:
    """What ends a case as a judge error: unusable answers, an unstable verdict, an unanswered prompt."""
    from pytest_llmops.integrations.deepeval.bridge import JudgeFailed  # light: DeepEval itself is not imported
    from pytest_llmops.providers.base import InfraError

    return (JudgeFailed, JudgeUnstable, InfraError)


def judge_record(suite_judge: SuiteJudge, judgements: list[Judgement], error: BaseException | None) -> dict[str, Any]:
    """The ``judge`` section of a case record: who judged, every judgement, and any judge error."""
    record: dict[str, Any] = {
        "name": suite_judge.judge.name, "fingerprint": suite_judge.judge.fingerprint(),
        "repeats": suite_judge.repeats, "judgements": [j.as_dict() for j in judgements],
        "unstable": sum(j.unstable for j in judgements),
        "error": None if error is None else f"{type(error).__name__}: {error}"[:500],
    }
    return record


def peeked_answers(case: CaseRun, runs: list[CaseRun], with_baseline: bool) -> list[list[str | None]]:
    """The candidate's answers to ``runs`` (peeked, not taken) and, when compared, the baseline's."""
    requests = [run.request() for run in runs]

    def texts(generations: list[Any]) -> list[str | None]:
        return [g.text if isinstance(g, Generation) else None for g in generations]

    answers = [texts(case.run.peek(case.alias, requests))]
    if with_baseline and case.run.baseline_alias:
        case.run.ensure_prefetched(case.run.baseline_alias)
        answers.append(texts(case.run.peek(case.run.baseline_alias, requests)))
    elif with_baseline and case.run.baseline_dir is not None:
        stored = case.run.baseline_for(case.suite_name).get("cases", {})
        outputs = [(stored.get(run.case.id) or {}).get("output") for run in runs]
        answers.append([o if isinstance(o, str) else None for o in outputs])
    return answers


def prefetch_judgements(case: CaseRun, suite_judge: SuiteJudge, metrics: list[Any], with_baseline: bool,
                        own_answers: Sequence[str | None]) -> None:
    """Judge every answer of the suite (candidate's and baseline's) with every DeepEval metric.

    Called on the first case of a wholly selected suite; the answers are peeked at, as for
    fluency, so no case generates twice. ``own_answers``: this case's answers (candidate's,
    then baseline's), already taken from the engine, so not there to peek at.
    """
    from pytest_llmops.suites.regression.metrics import DEEPEVAL_PREFIX

    runs = [replace(case, case=other) for other in case.suite.cases]
    answers = peeked_answers(case, runs, with_baseline)
    for index, run in enumerate(runs):
        if run.case.id == case.case.id:
            for side, own in zip(answers, own_answers):
                side[index] = own
    items = []
    for index, run in enumerate(runs):
        row = run.case.data["row"]
        input_text = row.input or json.dumps(row.vars, sort_keys=True)
        items.extend((input_text, side[index], row.expected) for side in answers if side[index] is not None)
    for spec in metrics:
        if spec.name.startswith(DEEPEVAL_PREFIX):
            suite_judge.score_all(spec.name[len(DEEPEVAL_PREFIX):], spec.options, items)
