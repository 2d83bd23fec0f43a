"""The run as a suite kind sees it: a narrow view over the session's engine, subjects and baselines.

Kinds get this (through :class:`~pytest_llmops.suites.kinds.CaseRun`), never the session, so
what a kind may reach is written down here and in :class:`~pytest_llmops.suites.kinds.RunContext`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pytest_llmops.providers.base import GenerationRequest

if TYPE_CHECKING:
    from pytest_llmops.session import LlmopsSession


class SessionRunContext:
    """Implements :class:`~pytest_llmops.suites.kinds.RunContext` over one run's session."""

    def __init__(self, session: "LlmopsSession") -> None:
        self._session = session
        self.rootdir: Path = session.settings.rootdir
        self.cache_dir: Path = session.settings.cache_dir
        self.gate_env: str = session.settings.gate_env

    @property
    def registry(self) -> Any:
        return self._session.registry

    @property
    def baseline_alias(self) -> str | None:
        spec = self._session.settings.baseline_spec
        return spec.alias if spec is not None else None

    @property
    def baseline_spec(self) -> Any:
        return self._session.settings.baseline_spec

    @property
    def baseline_dir(self) -> Path | None:
        return self._session.settings.baseline_dir

    def baseline_for(self, suite: str) -> dict[str, Any]:
        return self._session.baselines.for_suite(suite)

    def generate(self, alias: str, requests: list[GenerationRequest]) -> list[Any]:
        return self._session.engine.generate_many(alias, requests)

    def ensure_prefetched(self, alias: str) -> None:
        self._session.ensure_prefetched(alias)

    def provider(self, alias: str) -> Any:
        return self._session.engine.provider(alias)

    def fingerprint(self, alias: str) -> str:
        return self._session.engine.fingerprint(alias)

    def describe(self, alias: str) -> dict[str, Any]:
        return self._session.engine.describe(alias)

    def judge(self, spec_or_alias: str) -> tuple[Callable[[str], str], str]:
        return self._session.subjects.judge(spec_or_alias)

    def template(self, path: Path) -> Any:
        return self._session.subjects.template(path)

    def relative_path(self, path: Any) -> str:
        return self._session.relative_path(path)
