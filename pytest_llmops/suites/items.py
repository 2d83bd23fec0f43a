"""YAML suite files as pytest collectors, one item per (case, model)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pytest

from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.suites.suite_file import CaseSpec, SuiteFileError, SuiteSpec, load_suite

if TYPE_CHECKING:
    from pytest_llmops.session import LlmopsSession


class SuiteFile(pytest.File):
    """A ``*.eval.yaml`` file: validated as a whole, then one item per case and model."""

    def __init__(self, *, llmops: "LlmopsSession", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llmops = llmops

    def collect(self) -> Iterable[pytest.Item]:
        try:
            registry = self.llmops.registry
            suite = load_suite(self.path, self.config.rootpath, registry.checks, self.llmops.default_params,
                               registry.kinds, registry)
        except SuiteFileError as exc:
            # One erroring item instead of a collection error: pytest would otherwise
            # interrupt the whole run, and the other suite files must still run.
            yield InvalidSuiteItem.from_parent(self, name="<invalid suite file>", problem=str(exc))
            return
        for spec in self.llmops.specs:
            for case in suite.cases:
                yield CaseItem.from_parent(self, name=f"{case.id}[{spec.alias}]", suite=suite, case=case,
                                           alias=spec.alias)


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


def _functional() -> Any:
    from pytest_llmops.suites.kinds import FUNCTIONAL

    return FUNCTIONAL


class CaseFailed(AssertionError):
    """One or more checks did not pass."""


class CaseItem(pytest.Item):
    """One case of a YAML suite against one model subject."""

    def __init__(self, *, suite: SuiteSpec, case: CaseSpec, alias: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.alias = alias
        self.llmops: LlmopsSession = self.parent.llmops  # type: ignore[union-attr]
        self.generation: Generation | None = None  # the first (usually only) generation
        self.generations: list[Generation] = []
        self.rag_contexts: list[str] | None = None
        #: every case of this suite file was selected for this model (set after collection)
        self.suite_complete = True
        self.kind = self.llmops.registry.kinds.get(suite.kind) or _functional()
        self.suite_name = case.suite or suite.name
        self.add_marker(pytest.mark.llm(kind=suite.kind, suite=suite.name))
        # Tags and the suite kind are matched by -k without needing registered markers.
        self.extra_keyword_matches.update([suite.kind, *case.tags])

    @property
    def prefetchable(self) -> bool:
        """Model and prompt cases are generated in bulk; RAG cases go through their pipeline."""
        return self.suite.subject in ("model", "prompt")

    def requests(self) -> list[GenerationRequest]:
        """Everything this case asks the model (prefetched with the rest of the run)."""
        return self.kind.requests(self)

    def request(self) -> GenerationRequest:
        case = self.case
        if self.suite.subject == "prompt":
            template = self.llmops_prompt()
            variables = dict(case.vars)
            if case.input is not None:
                variables.setdefault("input", case.input)
            messages = template.render(**variables)
            if case.system and not any(m["role"] == "system" for m in messages):
                messages.insert(0, {"role": "system", "content": case.system})
            return GenerationRequest.chat(messages, case.params)
        assert case.input is not None
        return GenerationRequest.prompt(case.input, system=case.system, params=case.params)

    def llmops_prompt(self) -> Any:
        assert self.suite.prompt is not None
        return self.llmops.template(self.suite.prompt)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.suite.name}::{self.case.id}[{self.alias}]"

    # -- running -----------------------------------------------------------------------
    def setup(self) -> None:
        start = time.perf_counter()
        try:
            self.kind.prepare(self)
            if self.suite.subject == "rag":
                self._run_rag()
            else:
                self.llmops.ensure_prefetched(self.alias)
                results = self.llmops.engine.generate_many(self.alias, self.kind.requests(self))
                for result in results:
                    if isinstance(result, InfraError):
                        raise result
                self.generations = list(results)  # type: ignore[arg-type]
                self.generation = self.generations[0] if self.generations else None
        except Exception as exc:
            # Neither the model's fault nor a pass: the case is an error in the report too.
            label = "infra error" if isinstance(exc, InfraError) else f"error: {type(exc).__name__}"
            self._keep_record(self._record("error", checks=[], error=f"{label}: {exc}",
                                           seconds=time.perf_counter() - start))
            raise

    def _run_rag(self) -> None:
        from pytest_llmops.core.subjects import check_rag_result

        result = self.llmops.rag_answer(self)
        if isinstance(result, InfraError):
            raise result
        result = check_rag_result(result, self.suite.rag or self.llmops.rag_target())
        self.rag_contexts = [str(c) for c in result.get("contexts", [])]
        self.generation = Generation(text=result["answer"])
        self.generations = [self.generation]

    def runtest(self) -> None:
        start = time.perf_counter()
        try:
            verdict = self.kind.evaluate(self, self.generations)
        except Exception as exc:
            # Scoring broke (a judge's unusable answer, a missing extra): the case is an error
            # in the report, never silently dropped, and never a pass or a model failure.
            label = "infra error" if isinstance(exc, InfraError) else f"error: {type(exc).__name__}"
            self._keep_record(self._record("error", checks=[], error=f"{label}: {exc}",
                                           seconds=time.perf_counter() - start))
            raise
        record = self._record(verdict.outcome, checks=verdict.checks, seconds=time.perf_counter() - start)
        record.update(verdict.fields)
        self._keep_record(record)
        if verdict.outcome == "failed":
            raise CaseFailed(verdict.failure or "the case failed")

    def _record(self, outcome: str, checks: list[dict[str, Any]], seconds: float,
                error: str | None = None) -> dict[str, Any]:
        gen = self.generation
        try:
            shown_input: Any = self.request().message_dicts() if self.suite.subject != "rag" else self.case.input
        except Exception:  # noqa: BLE001 - a broken template is reported through the error
            shown_input = self.case.input
        provider_info = self.llmops.engine.describe(self.alias)
        record: dict[str, Any] = {
            "id": self.case.id, "nodeid": self.nodeid, "suite": self.suite_name, "kind": self.suite.kind,
            "subject": self.suite.subject, "model": self.alias, "index": self.case.index,
            "suite_file": self.llmops.relative_path(self.path), "suite_sha256": self.suite.sha256,
            "input": shown_input, "output": gen.text if gen else None, "checks": checks, "outcome": outcome,
            "cached": bool(gen and gen.cached), "tags": self.case.tags,
            "device": provider_info.get("device"), "gpu": provider_info.get("gpu"),
            "timings": {"generate_s": round(gen.seconds, 6) if gen else None,
                        "batch_size": gen.batch_size if gen else None, "check_s": round(seconds, 6)},
            "output_tokens": gen.output_tokens if gen else None,
            "finish_reason": gen.finish_reason if gen else None,
        }
        if self.suite.subject == "prompt" and self.suite.prompt is not None:
            record["prompt_version"] = self.llmops_prompt().version
        if self.rag_contexts is not None:
            record["contexts"] = self.rag_contexts
        if error:
            record["error"] = error
        return record

    def _keep_record(self, record: dict[str, Any]) -> None:
        from pytest_llmops.session import RECORD_KEY

        self.stash[RECORD_KEY] = record

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            output = self.generation.text if self.generation else ""
            return (f"case {self.case.id!r} of {self.suite_name} ({self.path.name}:{self.case.line}) "
                    f"failed on model {self.alias}\n  output: {output[:500]!r}\n  failed checks:\n    "
                    + str(excinfo.value).replace("\n", "\n    "))
        return super().repr_failure(excinfo, style=style)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        # Setup errors are rendered here rather than by repr_failure: keep infra errors short.
        if isinstance(excinfo.value, InfraError):
            return f"infra error (not a model failure) for {self.alias}: {excinfo.value}"
        return super()._repr_failure_py(excinfo, style=style)
