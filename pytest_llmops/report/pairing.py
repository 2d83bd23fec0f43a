"""Which suite and case of a base report is the same one in a head report, for diffs.

The most common pull request in LLMOps swaps the model, or how it is served, and runs the
same suites under another model alias. Matching cases by (suite, model, id) then finds no
pair at all: every case reads as removed and again as new, and no flip is ever seen. So
when each side of a diff ran one model, suites pair by their name without the
``[model]`` suffix and cases by (suite, id), and the diff says once that the model changed.

With several models on a side, which base model a head model replaces cannot be told, so
suites pair by name and model (``name[model]``, the report key of a multi-model run) and
cases by (suite, model, id), as before; the diff says that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_llmops.report.safe_text import md_text, to_text

__all__ = ["Pairing", "bare_name", "models_of"]


def bare_name(name: str, model: str) -> str:
    """A suite name without its ``[model]`` suffix (the key a multi-model run gives a suite)."""
    suffix = f"[{model}]"
    return name[: -len(suffix)] if model and name.endswith(suffix) and len(name) > len(suffix) else name


def models_of(report: dict[str, Any]) -> tuple[str, ...]:
    """The model aliases a report's suites and cases ran on, sorted.

    Not ``run.models``: that also lists a reference model a suite only compared with."""
    models = {to_text(s.get("model")) for s in (report.get("suites") or {}).values() if isinstance(s, dict)}
    models.update(to_text(c.get("model")) for c in report.get("cases") or [] if isinstance(c, dict))
    models.discard("")
    return tuple(sorted(models))


@dataclass(frozen=True)
class Pairing:
    """How a diff of ``base`` → ``head`` matches suites and cases (see the module docstring)."""

    base_models: tuple[str, ...]
    head_models: tuple[str, ...]

    @classmethod
    def of(cls, base: dict[str, Any], head: dict[str, Any]) -> Pairing:
        return cls(models_of(base), models_of(head))

    @property
    def by_name(self) -> bool:
        """Whether suites and cases pair by name alone: at most one model on each side."""
        return len(self.base_models) <= 1 and len(self.head_models) <= 1

    @property
    def model_changed(self) -> bool:
        """Whether one model was swapped for another (both sides with one model each)."""
        return (self.by_name and len(self.base_models) == 1 and len(self.head_models) == 1
                and self.base_models != self.head_models)

    def suite_name(self, key: str, suite: dict[str, Any]) -> str:
        """The name a suite entry (under report key ``key``) pairs by."""
        model = to_text(suite.get("model"))
        name = bare_name(key, model)
        # A single-model side keys suites by bare name: give them the model here too, so
        # a diff of one model against two still pairs the suites of the model in both.
        return name if self.by_name or not model else f"{name}[{model}]"

    def suites(self, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """A report's suite entries by the name they pair by, in report order."""
        out: dict[str, dict[str, Any]] = {}
        for key, suite in (report.get("suites") or {}).items():
            if isinstance(suite, dict):
                out.setdefault(self.suite_name(str(key), suite), suite)
        return out

    def case_suite(self, case: dict[str, Any]) -> str:
        """The paired name of a case's suite (a key of :meth:`suites`)."""
        model = to_text(case.get("model"))
        name = bare_name(to_text(case.get("suite")), model)
        return name if self.by_name or not model else f"{name}[{model}]"

    def case_key(self, case: dict[str, Any]) -> tuple[str, ...]:
        """What a case pairs by: (suite, id) with one model a side, else (suite, model, id)."""
        if self.by_name:
            return (self.case_suite(case), to_text(case.get("id")))
        return (self.case_suite(case), to_text(case.get("model")), to_text(case.get("id")))

    def index(self, report: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
        """A report's cases by :meth:`case_key`; the first of duplicates wins."""
        out: dict[tuple[str, ...], dict[str, Any]] = {}
        for case in report.get("cases") or []:
            if isinstance(case, dict):
                out.setdefault(self.case_key(case), case)
        return out

    def models_line(self) -> str | None:
        """A Markdown line on how models were paired, or ``None`` when the model did not change."""
        if self.model_changed:
            return f"model: {md_text(self.base_models[0], 60)} \u2192 {md_text(self.head_models[0], 60)}"
        if self.by_name:
            return None

        def names(models: tuple[str, ...]) -> str:
            return ", ".join(md_text(m, 60) for m in models) or "none"

        return (f"models: {names(self.base_models)} \u2192 {names(self.head_models)} (several on a side: suites "
                "and cases pair by name and model, so a model swapped for another shows as removed and new cases)")
