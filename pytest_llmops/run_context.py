"""The run as a suite kind sees it: a narrow view over the engine, subjects, baselines and settings.

Kinds get this (through :class:`~pytest_llmops.suites.kinds.CaseRun`), never the session, so
what a kind may reach is written down here and in :class:`~pytest_llmops.suites.kinds.RunContext`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pytest_llmops.config import Settings
from pytest_llmops.core.baseline import BaselineStore
from pytest_llmops.core.engine import Engine
from pytest_llmops.core.registry import Registry
from pytest_llmops.providers.base import GenerationRequest
from pytest_llmops.subject_factory import SubjectFactory


class EngineRunContext:
    """Implements :class:`~pytest_llmops.suites.kinds.RunContext` over the run's parts.

    ``engine`` and ``registry`` are getters: both are built lazily, on first use.
    ``ensure_prefetched`` is the session's bulk prefetch of one model's planned requests.
    """

    def __init__(self, settings: Settings, baselines: BaselineStore, subjects: SubjectFactory,
                 engine: Callable[[], Engine], registry: Callable[[], Registry],
                 ensure_prefetched: Callable[[str], None], relative_path: Callable[[Any], str]) -> None:
        self._settings = settings
        self._baselines = baselines
        self._subjects = subjects
        self._engine = engine
        self._registry = registry
        self.ensure_prefetched = ensure_prefetched
        self.relative_path = relative_path
        self.rootdir: Path = settings.rootdir
        self.seed: int = settings.seed
        self.cache_dir: Path = settings.cache_dir
        self.cache_mode: str = settings.cache_mode
        self.gate_env: str = settings.gate_env

    @property
    def registry(self) -> Registry:
        return self._registry()

    @property
    def baseline_alias(self) -> str | None:
        spec = self._settings.baseline_spec
        return spec.alias if spec is not None else None

    @property
    def baseline_spec(self) -> Any:
        return self._settings.baseline_spec

    @property
    def baseline_dir(self) -> Path | None:
        return self._settings.baseline_dir

    def baseline_for(self, suite: str) -> dict[str, Any]:
        return self._baselines.for_suite(suite)

    def generate(self, alias: str, requests: list[GenerationRequest]) -> list[Any]:
        return self._engine().generate_many(alias, requests)

    def peek(self, alias: str, requests: list[GenerationRequest]) -> list[Any]:
        return self._engine().peek_many(alias, requests)

    def provider(self, alias: str) -> Any:
        return self._engine().provider(alias)

    def fingerprint(self, alias: str) -> str:
        return self._engine().fingerprint(alias)

    def describe(self, alias: str) -> dict[str, Any]:
        return self._engine().describe(alias)

    def price_for(self, alias: str) -> Any:
        """The model's price from the run's price table (``prices:`` in the gate file), or None."""
        return self._settings.prices.price_for(alias) if self._settings.prices else None

    def judge(self, spec_or_alias: str, temperature: float | None = None) -> Any:
        """The grading model (a :class:`~pytest_llmops.core.subjects.Judge`) named by ``spec_or_alias``."""
        return self._subjects.judge(spec_or_alias, temperature)

    def template(self, path: Path) -> Any:
        return self._subjects.template(path)
