"""Many DeepEval test cases scored at once, with the judge's prompts batched.

DeepEval asks its judge one step at a time per case (statements, then verdicts, then a
reason). Scored case by case, a local judge answers one prompt at a time. Here every case's
metric runs as a coroutine (DeepEval's ``a_measure``); each judge call parks on a future, and
once every coroutine is parked the waiting prompts go to the judge as **one batch** (the
engine batches and caches them like any generation). So 200 cases cost about as many
batches as the metric has steps, not 600 single calls.

The judge side is ``ask_many([(prompt, schema or None), ...]) -> [text or exception]``:
the schema is the JSON schema of the answer DeepEval wants at that step, for judges that
constrain their decoding to it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmops.integrations.deepeval.bridge import (
    JudgeFailed,
    apply_env,
    build_metric,
    check_case,
    checked_score,
    import_deepeval,
    measure_failed,
    parse_judge_answer,
    validate_metric,
)

# What a judge answers a batch with: one text, or the exception that stopped it, per prompt.
AskMany = Callable[[Sequence[tuple[str, "dict[str, Any] | None"]]], Sequence["str | BaseException"]]
Score = tuple[float, str]

# Event-loop turns with no new judge prompt before the waiting ones are sent: every coroutine
# is CPU-bound between judge calls, so one quiet turn already means all are parked.
_QUIET_TURNS = 3


@dataclass(frozen=True)
class JudgeCase:
    """The fields of one DeepEval test case."""

    input: str
    actual_output: str
    expected_output: str | None = None
    retrieval_context: list[str] | None = None


def accepts_schema(judge: Callable[..., str]) -> bool:
    """Whether ``judge`` takes a ``schema`` keyword (and so can constrain its answer)."""
    try:
        return "schema" in inspect.signature(judge).parameters
    except (TypeError, ValueError):
        return False  # builtins such as `str` have no signature to read


def one_by_one(judge: Callable[..., str]) -> AskMany:
    """``ask_many`` for a judge that answers one prompt at a time."""
    with_schema = accepts_schema(judge)

    def ask_many(items: Sequence[tuple[str, dict[str, Any] | None]]) -> list[str | BaseException]:
        answers: list[str | BaseException] = []
        for prompt, schema in items:
            try:
                answers.append(judge(prompt, schema=schema) if with_schema else judge(prompt))
            except BaseException as exc:  # noqa: BLE001 - handed to the case that asked
                if not isinstance(exc, Exception):
                    raise  # KeyboardInterrupt and friends stop the run
                answers.append(exc)
        return answers

    return ask_many


class _Batcher:
    """Collects the prompts of parked coroutines and answers them in one call."""

    def __init__(self, ask_many: AskMany) -> None:
        self.ask_many = ask_many
        self.waiting: list[tuple[str, dict[str, Any] | None, asyncio.Future[str]]] = []

    async def ask(self, prompt: str, schema: dict[str, Any] | None) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting.append((prompt, schema, future))
        return await future

    def flush(self) -> None:
        batch, self.waiting = self.waiting, []
        answers = list(self.ask_many([(prompt, schema) for prompt, schema, _ in batch]))
        if len(answers) != len(batch):
            raise RuntimeError(f"the judge answered {len(answers)} of {len(batch)} prompts")
        for (_, _, future), answer in zip(batch, answers):
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)


def _judge_model_class() -> type:
    """The ``DeepEvalBaseLLM`` subclass, defined on first use (its base class is DeepEval's)."""
    from deepeval.models import DeepEvalBaseLLM  # deepeval (optional extra): only when a DeepEval metric scores

    # Keyed by the base class itself: if DeepEval is imported afresh (pytester restores
    # sys.modules after an in-process run), a subclass of the old class would fail DeepEval's
    # isinstance checks.
    return _judge_model_class_on(DeepEvalBaseLLM)


@functools.lru_cache(maxsize=4)
def _judge_model_class_on(DeepEvalBaseLLM: type) -> type:  # noqa: N803 - it is DeepEval's class
    """Define the judge model on DeepEval's ``DeepEvalBaseLLM``."""

    class JudgeModel(DeepEvalBaseLLM):  # type: ignore[misc, valid-type]
        """One case's view of the judge, behind DeepEval's custom-model interface."""

        def __init__(self, batcher: _Batcher, judge_name: str, constrained: bool) -> None:
            self.batcher = batcher
            self.judge_name = judge_name
            self.constrained = constrained
            self.answers: list[str] = []
            self.judge_error: BaseException | None = None
            super().__init__(judge_name)

        def load_model(self, *args: Any, **kwargs: Any) -> Any:
            return self.batcher  # already loaded: the engine loads models on first use

        def generate(self, *args: Any, **kwargs: Any) -> Any:
            # The bridge builds every metric with async_mode on: the sync path is never taken.
            raise JudgeFailed("the judge is asked through a_generate only")

        async def a_generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> Any:
            if kwargs or not isinstance(prompt, str):
                # Audio or image prompts: our judges take text only.
                raise JudgeFailed(f"judge {self.judge_name} takes text prompts only; DeepEval asked with "
                                  f"{sorted(kwargs) or type(prompt).__name__}")
            wanted = schema.model_json_schema() if schema is not None and self.constrained else None
            try:
                text = await self.batcher.ask(prompt, wanted)
            except Exception as exc:
                self.judge_error = exc  # re-raised unchanged by measure_failed
                raise
            self.answers.append(text)
            if schema is None:
                return text  # DeepEval parses it; its errors become JudgeFailed in measure_failed
            return parse_judge_answer(text, schema, self.judge_name)

        async def a_generate_with_schema(self, *args: Any, schema: Any = None, **kwargs: Any) -> Any:
            # The base class retries without the schema on *any* TypeError, which would hide a
            # TypeError raised by the judge itself; our a_generate always takes a schema.
            return await self.a_generate(*args, schema=schema, **kwargs)

        def generate_with_schema(self, *args: Any, schema: Any = None, **kwargs: Any) -> Any:
            return self.generate(*args, schema=schema, **kwargs)

        def get_model_name(self, *args: Any, **kwargs: Any) -> str:
            return self.judge_name

        # Capabilities: plain text in, text out. No log-probs, so GEval asks for a JSON score.
        def supports_log_probs(self) -> bool:
            return False

        def supports_structured_outputs(self) -> bool:
            return False

        def supports_json_mode(self) -> bool:
            return False

        def supports_multimodal(self) -> bool:
            return False

    return JudgeModel


async def _measure(name: str, options: dict[str, Any], case: JudgeCase, batcher: _Batcher, judge_name: str,
                   constrained: bool) -> Score:
    from deepeval.test_case import LLMTestCase  # deepeval (optional extra): only when a DeepEval metric scores

    model = _judge_model_class()(batcher, judge_name, constrained)
    metric = build_metric(name, options, model)
    test_case = LLMTestCase(input=case.input, actual_output=case.actual_output,
                            expected_output=case.expected_output,
                            retrieval_context=list(case.retrieval_context) if case.retrieval_context else None)
    try:
        await metric.a_measure(test_case, _show_indicator=False)
    except Exception as exc:  # noqa: BLE001 - sorted into the judge's error or JudgeFailed
        raise measure_failed(exc, model, name, judge_name) from None
    return checked_score(metric, model, name, judge_name)


async def _settle(tasks: list[asyncio.Task[Score]], batcher: _Batcher) -> None:
    """Run the coroutines until every one is finished or parked on a judge answer."""
    quiet, seen = 0, -1
    while not all(task.done() for task in tasks):
        await asyncio.sleep(0)
        quiet = quiet + 1 if len(batcher.waiting) == seen else 0
        seen = len(batcher.waiting)
        if quiet >= _QUIET_TURNS:
            if batcher.waiting:
                return
            await asyncio.sleep(0.01)  # something else (a DeepEval back-off?) is being awaited


def _drive(coroutines: list[Any], batcher: _Batcher) -> list[Score | BaseException]:
    """Run the coroutines, answering their parked judge prompts in batches between loop runs.

    The batch is answered outside the running loop: a judge behind an OpenAI-compatible
    endpoint runs an event loop of its own, which cannot start inside another.
    """
    loop = asyncio.new_event_loop()
    try:
        tasks = [loop.create_task(coroutine) for coroutine in coroutines]
        while not all(task.done() for task in tasks):
            loop.run_until_complete(_settle(tasks, batcher))
            if batcher.waiting:
                batcher.flush()
        results: list[Score | BaseException] = []
        for task in tasks:
            error = task.exception()
            results.append(error if error is not None else task.result())
        return results
    finally:
        loop.close()


def score_many(name: str, options: dict[str, Any], cases: Sequence[JudgeCase], ask_many: AskMany,
               judge_name: str, constrained: bool = True) -> list[Score | BaseException]:
    """Score every case with DeepEval metric ``name``; one ``(score, reason)`` or exception per case.

    A case's exception is :class:`JudgeFailed` (answers unusable), ``ValueError`` (a field
    the metric needs is missing) or the judge's own error (e.g. ``InfraError``). A bad
    metric name or options raise ``ValueError``, a missing DeepEval
    :class:`~pytest_llmops.integrations.deepeval.bridge.DeepEvalUnavailable`, for all cases.
    ``constrained``: hand DeepEval's JSON schema to the judge with each prompt.
    """
    validate_metric(name, options)  # a bad name or option concerns every case: raised
    prepared: list[dict[str, Any] | BaseException] = []
    for case in cases:
        try:
            prepared.append(check_case(name, options, case.expected_output, case.retrieval_context))
        except ValueError as exc:
            prepared.append(exc)  # a field this case lacks
    if not cases:
        return []
    import_deepeval()
    apply_env()  # again: a user's code may have changed them since the import
    batcher = _Batcher(ask_many)
    todo = [(i, _measure(name, opts, case, batcher, judge_name, constrained))
            for i, (case, opts) in enumerate(zip(cases, prepared)) if not isinstance(opts, BaseException)]
    scored = _drive([coroutine for _, coroutine in todo], batcher) if todo else []
    results: list[Score | BaseException] = list(prepared)  # type: ignore[arg-type]
    for (index, _), result in zip(todo, scored):
        results[index] = result
    return results


def score_with_deepeval(name: str, options: dict[str, Any], *, input: str, actual_output: str,
                        expected_output: str | None, retrieval_context: list[str] | None,
                        judge: Callable[..., str], judge_name: str) -> tuple[float, str]:
    """Run DeepEval metric ``name`` on one test case with ``judge`` as its evaluation model.

    Returns ``(score, reason)`` with the score in [0, 1] (the reason is empty when
    ``include_reason`` is off). Raises ``ValueError`` for a bad name, options or a missing
    test-case field, :class:`DeepEvalUnavailable` without the extra, :class:`JudgeFailed`
    when the judge's answers cannot be used, and whatever the judge callable itself raised
    (e.g. ``InfraError``) unchanged.

    ``judge`` takes a prompt and, if it has a ``schema`` parameter, the JSON schema DeepEval
    asks for (so that it can constrain its decoding to it). Many cases are scored at once,
    with the judge's prompts batched, by :func:`score_many`.
    """
    case = JudgeCase(input=input, actual_output=actual_output, expected_output=expected_output,
                     retrieval_context=retrieval_context)
    (result,) = score_many(name, options, [case], one_by_one(judge), judge_name)
    if isinstance(result, BaseException):
        raise result
    return result
