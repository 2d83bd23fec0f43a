"""YAML suite files as pytest collectors, one item per (case, model)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Protocol

import pytest

from pytest_llmops.core.pricing import usage_fields
from pytest_llmops.providers.base import Generation, GenerationParams, GenerationRequest, InfraError
from pytest_llmops.suites.kinds import CaseRun, Evaluation, RunContext, SuiteKind, error_reason, kind_named
from pytest_llmops.suites.suite_file import CaseSpec, SuiteFileError, SuiteSpec, load_suite
from pytest_llmops.suites import variants
from pytest_llmops.core.subjects import check_rag_result



class SuiteHost(Protocol):
    """What YAML suite files and their items need of the run (the session provides it)."""

    registry: Any
    run_context: RunContext
    specs: list[Any]
    default_params: GenerationParams
    default_repeats: int  # --llm-repeats
    default_slices: list[tuple[str, str]]  # --llm-slice: (name, record path) every suite is sliced by
    rag_target: str

    def rag_answer(self, item: "CaseItem") -> Any:
        """``(answer, cached)`` from the RAG pipeline for a pipeline case, or the InfraError it met."""


class SuiteFile(pytest.File):
    """A ``*.eval.yaml`` file: validated as a whole, then one item per case and model."""

    def __init__(self, *, llmops: SuiteHost, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llmops = llmops

    def collect(self) -> Iterable[pytest.Item]:
        # One erroring item instead of a collection error: pytest would otherwise interrupt
        # the whole run, and the other suite files must still run. That holds for any
        # exception, not only the validation errors written for users.
        try:
            registry = self.llmops.registry
            suite = load_suite(self.path, self.config.rootpath, self.llmops.default_params, registry,
                               self.llmops.default_repeats, getattr(self.llmops, "default_slices", ()))
            # One suite per prompt variant (``<suite>@<variant>``), or the suite itself.
            runs = variants.expand(suite, kind_named(registry, suite.kind), getattr(self.llmops, "prompt_variants", ()))
            # A kind that reads logged answers runs once, under the first model's alias.
            specs = self.llmops.specs[:1] if kind_named(registry, suite.kind).model_free else self.llmops.specs
            items = [CaseItem.from_parent(self, name=case_name(case, spec.alias, run), suite=run, case=case,
                                          alias=spec.alias)
                     for run in runs for spec in specs for case in run.cases]
        except (SuiteFileError, variants.VariantError) as exc:
            yield InvalidSuiteItem.from_parent(self, name="<invalid suite file>", problem=str(exc))
            return
        except pytest.UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - a validation gap: still named, still only this file
            problem = (f"{self.path}: could not be read as a suite: {type(exc).__name__}: {exc} "
                       "(an input the validation does not name yet; please report it)")
            yield InvalidSuiteItem.from_parent(self, name="<invalid suite file>", problem=problem)
            return
        yield from items


def case_name(case: CaseSpec, alias: str, suite: SuiteSpec) -> str:
    """The item's name: ``id[model]``, or ``id[model-variant]`` for a prompt variant."""
    return f"{case.id}[{alias}-{suite.variant.name}]" if suite.variant is not None else f"{case.id}[{alias}]"


class InvalidSuiteError(Exception):
    """A suite file failed validation."""


class InvalidSuiteItem(pytest.Item):
    """Stands for a suite file that failed validation: it errors at setup with the reason."""

    def __init__(self, *, problem: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def setup(self) -> None:
        raise InvalidSuiteError(self.problem)

    def runtest(self) -> None:  # pragma: no cover - setup always raises
        raise InvalidSuiteError(self.problem)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}: invalid suite file"

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, InvalidSuiteError):
            return f"invalid suite file: {excinfo.value}"
        return super()._repr_failure_py(excinfo, style=style)


class CaseFailed(AssertionError):
    """One or more checks did not pass."""


class CaseError(Exception):
    """A kind ended the case as an error (its reason is the message)."""


class CaseItem(pytest.Item):
    """One case of a YAML suite against one model subject: runs its kind's lifecycle."""

    def __init__(self, *, suite: SuiteSpec, case: CaseSpec, alias: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.alias = alias
        self.llmops: SuiteHost = self.parent.llmops  # type: ignore[union-attr]
        self.run = self.llmops.run_context
        self.generation: Generation | None = None  # the answer that stands for the case
        self.generations: list[Generation] = []
        self.measurement: Any = None
        self.record: dict[str, Any] | None = None  # the case's record, once it has one
        self.kind: SuiteKind = kind_named(self.llmops.registry, suite.kind)
        self.suite_name = case.suite or suite.name
        self.case_run = CaseRun(suite=suite, case=case, alias=alias, suite_name=self.suite_name,
                                run=self.run, kind=self.kind)
        self.add_marker(pytest.mark.llm(kind=suite.kind, suite=suite.name))
        # Tags and the suite kind are matched by -k without needing registered markers.
        self.extra_keyword_matches.update([suite.kind, *case.tags])

    @property
    def suite_complete(self) -> bool:
        """Every case of this suite file was selected for this model (set after collection)."""
        return self.case_run.suite_complete

    @suite_complete.setter
    def suite_complete(self, value: bool) -> None:
        self.case_run.suite_complete = value

    @property
    def prefetchable(self) -> bool:
        """Planned cases are generated in bulk; pipeline (RAG) cases go through their pipeline."""
        return not self.kind.through_pipeline(self.suite)

    def requests(self) -> list[GenerationRequest]:
        """Everything this case asks the model (prefetched with the rest of the run)."""
        return self.kind.plan(self.case_run)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.suite.name}::{self.name}"

    # -- running -----------------------------------------------------------------------
    def setup(self) -> None:
        start = time.perf_counter()
        try:
            self.kind.check_ready(self.case_run)
            if self.kind.through_pipeline(self.suite):
                self._answer_through_pipeline()
            elif not self.kind.model_free:
                self.run.ensure_prefetched(self.alias)
                results = self.run.generate(self.alias, self.kind.plan(self.case_run))
                for result in results:
                    if isinstance(result, InfraError):
                        raise result
                self.generations = list(results)  # type: ignore[arg-type]
                self.generation = self.generations[0] if self.generations else None
            self.measurement = self.kind.measure(self.case_run)
        except Exception as exc:
            # Neither the model's fault nor a pass: the case is an error in the report too.
            self._keep_error(exc, time.perf_counter() - start)
            raise
        if isinstance(self.measurement, Evaluation):  # the measurement ended the case (skipped, error)
            self._conclude(self.measurement, time.perf_counter() - start)

    def _answer_through_pipeline(self) -> None:
        answer = self.llmops.rag_answer(self)
        if isinstance(answer, InfraError):
            raise answer
        result, cached = answer
        result = check_rag_result(result, self.suite.rag or self.llmops.rag_target)
        self.case_run.rag_contexts = [str(c) for c in result.get("contexts", [])]
        self.generation = Generation(text=result["answer"], cached=cached)
        self.generations = [self.generation]

    def runtest(self) -> None:
        start = time.perf_counter()
        try:
            verdict = self.kind.evaluate(self.case_run, self.generations, self.measurement)
        except Exception as exc:
            # Scoring broke (a judge's unusable answer, a missing extra): the case is an error
            # in the report, never silently dropped, and never a pass or a model failure.
            self._keep_error(exc, time.perf_counter() - start)
            raise
        self._conclude(verdict, time.perf_counter() - start)

    def _conclude(self, verdict: Evaluation, seconds: float) -> None:
        """Keep the verdict's record, then end the test the way pytest shows that outcome."""
        if verdict.shown is not None:
            self.generation = verdict.shown
            self.generations = [verdict.shown]
        record = self._record(verdict.outcome, checks=verdict.checks, seconds=seconds,
                              error=verdict.failure if verdict.outcome == "error" else None)
        record.update(verdict.fields)
        self.record = record
        if verdict.outcome == "skipped":
            pytest.skip(verdict.failure or "skipped by its suite kind")
        if verdict.outcome == "error":
            raise CaseError(verdict.failure or "the case could not be evaluated")
        if verdict.outcome == "failed":
            if verdict.measured is not None:
                # A measurement (a successful attack, a violation), not a broken test: the
                # kind's metric and the gate decide; pytest shows it as xfail.
                self.add_marker(pytest.mark.xfail(reason=verdict.measured, strict=False))
            raise CaseFailed(verdict.failure or "the case failed")

    def _keep_error(self, exc: Exception, seconds: float) -> None:
        self.record = self._record("error", checks=[], error=error_reason(exc), seconds=seconds)

    def _record(self, outcome: str, checks: list[dict[str, Any]], seconds: float,
                error: str | None = None) -> dict[str, Any]:
        gen = self.generation
        try:
            shown_input: Any = self.kind.shown_input(self.case_run)
        except Exception:  # noqa: BLE001 - a broken template is reported through the error
            shown_input = self.case.input
        provider_info = self.run.describe(self.alias)
        record: dict[str, Any] = {
            "id": self.case.id, "nodeid": self.nodeid, "suite": self.suite_name, "kind": self.suite.kind,
            "subject": self.suite.subject, "model": self.alias, "index": self.case.index,
            "suite_file": self.run.relative_path(self.path), "suite_sha256": self.suite.sha256,
            "input": shown_input, "output": gen.text if gen else None, "checks": checks, "outcome": outcome,
            "cached": bool(gen and gen.cached), "tags": self.case.tags,
            "device": provider_info.get("device"), "gpu": provider_info.get("gpu"),
            "timings": {"generate_s": round(gen.seconds, 6) if gen else None,
                        "batch_size": gen.batch_size if gen else None, "check_s": round(seconds, 6)},
            "finish_reason": gen.finish_reason if gen else None,
            # Tokens summed over every generation the case used, and their cost at the run's prices.
            **usage_fields([g.usage() for g in self.generations], self.run.price_for(self.alias)),
        }
        if self.suite.subject == "prompt" and self.suite.prompt is not None:
            record["prompt_version"] = self.run.template(self.suite.prompt).version
        record.update(variants.record_fields(self.suite, self.suite_name))
        if self.case_run.rag_contexts is not None:
            record["contexts"] = self.case_run.rag_contexts
        if self.case.metadata:
            record["metadata"] = dict(self.case.metadata)
        if self.suite.slices:  # the fields report/slices.py folds this suite's records by
            record["slice_by"] = dict(self.suite.slices)
        if error:
            record["error"] = error
        return record

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            output = self.generation.text if self.generation else ""
            return (f"case {self.case.id!r} of {self.suite_name} ({self.path.name}:{self.case.line}) "
                    f"failed on model {self.alias}\n  output: {output[:500]!r}\n  failed checks:\n    "
                    + str(excinfo.value).replace("\n", "\n    "))
        return super().repr_failure(excinfo, style=style)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        # Setup errors are rendered here rather than by repr_failure: keep infra errors short.
        if isinstance(excinfo.value, CaseError):
            return f"error (not a model failure) for {self.alias}: {excinfo.value}"
        if isinstance(excinfo.value, InfraError):
            return f"infra error (not a model failure) for {self.alias}: {excinfo.value}"
        if type(excinfo.value).__module__.startswith("pytest_llmops."):
            # Our own errors (a missing baseline, a bad option) carry the whole story in their
            # message; a traceback would add nothing but time (pytest parses each frame's source,
            # about 2 s a case here). A bug's builtin exception keeps its full traceback.
            return f"error (not a model failure) for {self.alias}: {type(excinfo.value).__name__}: {excinfo.value}"
        return super()._repr_failure_py(excinfo, style=style)
