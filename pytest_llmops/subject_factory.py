"""The run's subjects: model subjects for fixtures, judges, prompt templates and RAG pipelines.

Every subject generates through the run's engine, so its answers are prefetched, batched and
cached like any suite's. Pipelines and templates are built once per run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from pytest_llmops.config import Settings
from pytest_llmops.core.engine import Engine
from pytest_llmops.core.specs import SpecError, parse_spec
from pytest_llmops.core.subjects import Judge, ModelSubject, PromptTemplate, build_rag_pipeline
from pytest_llmops.providers.base import GenerationParams, InfraError

JUDGE_MAX_NEW_TOKENS = 512
# Judge repeats sample; 0.7 is a common default for sampled LLM-as-a-judge self-consistency.
JUDGE_REPEAT_TEMPERATURE = 0.7
SUBJECT_KEY = pytest.StashKey[ModelSubject]()


class SubjectFactory:
    """Builds subjects over the run's engine (created lazily, on first use)."""

    def __init__(self, settings: Settings, engine: Callable[[], Engine], registry: Callable[[], Any]) -> None:
        self.settings = settings
        self._engine = engine
        self._registry = registry
        self._rag_pipelines: dict[str, tuple[ModelSubject, Any]] = {}
        self._rag_answers: dict[tuple[str, str], dict[str, Any]] = {}
        self._rag_batch_failed: set[tuple[str, str]] = set()
        self._templates: dict[Path, PromptTemplate] = {}
        self._judges: dict[str, Judge] = {}
        #: RAG case items per (suite file, model alias), answered together through their pipeline
        self.rag_items: dict[tuple[str, str], list[Any]] = {}

    def model_subject(self, item: pytest.Item, alias: str) -> ModelSubject:
        """The ``llm`` fixture's subject; kept on the item so its record lists the generations."""
        subject = ModelSubject(self._engine(), alias, self.settings.default_params)
        item.stash[SUBJECT_KEY] = subject
        return subject

    def judge(self, spec_or_alias: str, temperature: float | None = None) -> Judge:
        """The grading model named by a run alias or any model spec, built once per run.

        Greedy with a budget of 512 new tokens (graders answer in JSON with reasons: the run's
        default budget cuts them off); repeats sample at ``temperature``, one seed each.
        """
        temperature = JUDGE_REPEAT_TEMPERATURE if temperature is None else temperature
        key = f"{spec_or_alias}|{temperature}"
        if key in self._judges:
            return self._judges[key]
        engine = self._engine()
        if spec_or_alias in engine.aliases:
            alias = spec_or_alias
        else:
            try:
                spec = parse_spec(spec_or_alias)
            except SpecError as exc:
                raise pytest.UsageError(f"judge: {exc}") from None
            self._registry().validate_spec(spec)
            engine.add_model(spec)
            alias = spec.alias
        # Greedy whatever --llm-temperature says: a grader's first answer must be reproducible.
        params = GenerationParams.from_mapping({"max_new_tokens": JUDGE_MAX_NEW_TOKENS, "temperature": 0.0},
                                               self.settings.default_params)
        repeat_params = GenerationParams.from_mapping({"temperature": temperature}, params)
        judge = Judge(engine, alias, params, f"{alias} ({engine.spec(alias).raw})", repeat_params)
        self._judges[key] = judge
        return judge

    def template(self, path: Path) -> PromptTemplate:
        """A prompt template loaded once per run."""
        if path not in self._templates:
            self._templates[path] = PromptTemplate(path)
        return self._templates[path]

    def _shared_rag(self, target: str, alias: str) -> tuple[ModelSubject, Any]:
        """The pipeline named ``target`` over model ``alias``, built once per run, and its subject."""
        key = f"{target}|{alias}"
        if key not in self._rag_pipelines:
            shared = ModelSubject(self._engine(), alias, self.settings.default_params)
            self._rag_pipelines[key] = (shared, build_rag_pipeline(target, shared, self.settings.rootdir))
        return self._rag_pipelines[key]

    def rag_pipeline_for(self, llm: ModelSubject, target: str | None = None) -> Any:
        """The pipeline over ``llm``'s model; its generations show up in the calling test's record."""
        shared, pipeline = self._shared_rag(target or self.settings.rag_target, llm.alias)
        shared.log = llm.log
        return pipeline

    def rag_answer(self, item: Any) -> Any:
        """``(answer, cached)`` from the pipeline for a ``subject: rag`` case, or the InfraError it met.

        All selected cases of the item's suite and model are answered together through the
        pipeline's ``batch`` method when it has one (one batched generation), otherwise one
        by one as they run (also after a batch call met an infra failure, so that it stays the
        failing case's). An infra failure is returned for the case, not raised.
        ``cached`` says whether every generation behind the answer came from the cache.
        """
        key = (str(item.path), item.alias)
        shared, pipeline = self._shared_rag(item.suite.rag or self.settings.rag_target, item.alias)
        answers = self._rag_answers.setdefault(key, {})
        if item.case.id not in answers and hasattr(pipeline, "batch") and key not in self._rag_batch_failed:
            siblings = self.rag_items.get(key) or [item]
            try:
                with _generations(shared) as made:
                    results = pipeline.batch([i.case.input for i in siblings])
                flags = _cached_flags(made, len(siblings))
                answers.update({i.case.id: (r, c) for i, r, c in zip(siblings, results, flags)})
            except InfraError:
                # One failed generation fails the whole batch call: answer each case on its own
                # (the batch's good generations come back from the cache), so it stays one case's error.
                self._rag_batch_failed.add(key)
        if item.case.id not in answers:
            try:
                with _generations(shared) as made:
                    result = pipeline(item.case.input)
                answers[item.case.id] = (result, _cached_flags(made, 1)[0])
            except InfraError as exc:
                answers[item.case.id] = exc
        # Each case takes its answer once; the dict stays small.
        return answers.pop(item.case.id)


@contextlib.contextmanager
def _generations(subject: ModelSubject) -> Iterator[list[dict[str, Any]]]:
    """The log entries ``subject`` gains inside the block (then dropped: the YAML cases' records
    carry what they need, and a long run's log must not grow without end)."""
    start = len(subject.log)
    made: list[dict[str, Any]] = []
    try:
        yield made
    finally:
        made.extend(subject.log[start:])
        del subject.log[start:]


def _cached_flags(made: list[dict[str, Any]], answers: int) -> list[bool]:
    """Per answer, whether its generations came from the cache: one generation per answer is
    read in order; any other shape gives every answer the flag of the whole call."""
    flags = [bool(entry.get("cached")) for entry in made]
    if len(flags) == answers:
        return flags
    return [bool(flags) and all(flags)] * answers
