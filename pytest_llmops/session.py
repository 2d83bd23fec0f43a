"""The run's lifecycle: collect -> prefetch -> run -> gather records -> publish -> exit status.

One object per pytest run, kept in ``config.stash`` and registered as a plugin (the junitxml
pattern). It coordinates; the work lives elsewhere: settings in ``config.py``, subjects in
``subject_factory.py``, records in ``records.py``, provenance in ``provenance.py``, the
terminal section in ``terminal.py``, progress while loading and prefetching in
``progress_display.py``, the report and gate in ``publish.py``.

Created lazily (on the first YAML suite file, ``llm`` fixture or explicit ``--llm-model``),
so runs that never touch a model pay nothing. Workers generate and attach records to their
test reports; only the controller gathers records and writes files.
"""

from __future__ import annotations

import datetime as _dt
import functools
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops import __version__
from pytest_llmops.completeness import RunCompleteness
from pytest_llmops.config import Settings, gate_config_path, prompt_template_path
from pytest_llmops.core.baseline import BaselineStore
from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.cached_provider import CachedProvider
from pytest_llmops.core.engine import Engine
from pytest_llmops.core.registry import Registry
from pytest_llmops.core.specs import ModelSpec, SpecError
from pytest_llmops.provenance import EngineCounters, engine_counters, environment, git_sha, merge_counters, model_entries
from pytest_llmops.progress_display import progress_for
from pytest_llmops.publish import REPORT_NAME, Published, junit_properties, publish
from pytest_llmops.records import BaselineCollector, attach_record, record_of
from pytest_llmops.report.json_report import ReportBuilder
from pytest_llmops.report.run_marker import clear_run_marker, mark_run_started
from pytest_llmops.run_context import EngineRunContext
from pytest_llmops.shard_selection import select_shard
from pytest_llmops.subject_factory import SubjectFactory
from pytest_llmops.suites.builtins import registry_with
from pytest_llmops.suites.items import CaseItem
from pytest_llmops.suites.kinds import kind_named
from pytest_llmops.terminal import write_summary
from pytest_llmops.worker_groups import ModelGroups, group_by_model
from pytest_llmops.core.subjects import PromptTemplate


class LlmopsSession:
    """Coordinates one pytest run of pytest-llmops (see the module docstring)."""

    def __init__(self, config: pytest.Config, specs: list[ModelSpec]) -> None:
        self.config = config
        self.started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self._t0 = time.perf_counter()
        self.settings = Settings.from_config(config, specs)
        self.baselines = BaselineStore(self.settings.baseline_dir)
        self.subjects = SubjectFactory(self.settings, lambda: self.engine, lambda: self.registry)
        self.run_context = EngineRunContext(self.settings, self.baselines, self.subjects, lambda: self.engine,
                                            lambda: self.registry, self.ensure_prefetched, self.relative_path)
        self._registry: Registry | None = None
        self._engine: Engine | None = None
        self._builder: ReportBuilder | None = None if self.settings.is_worker else \
            ReportBuilder(self.settings.report_dir, kind_of=self.kind_of)
        self._baseline_collector = BaselineCollector(self.settings.report_dir / "baseline", self.kind_of) \
            if self.settings.update_baseline else None
        self._worker_counters: EngineCounters = {}
        self._workers_down = 0  # xdist workers that finished (the controller has no worker env vars)
        self.published: Published | None = None
        self.baselines_written: list[Path] = []
        self.run_failures: list[str] = []
        self.gate_config: Any = None
        self.publish_error = ""
        #: YAML case items per model alias, in collection order, for prefetching
        self.items_by_model: dict[str, list[CaseItem]] = {}
        self.completeness = RunCompleteness()
        self._run_token: str | None = None  # the in-progress marker's (report/run_marker.py)
        self.shard_info: dict[str, Any] | None = None  # --llm-shard: which share of the selection ran
        # xdist with several models: each model's items go to one worker group (worker_groups.py).
        self.groups_by_model = group_by_model(config, [spec.alias for spec in specs])
        if self.groups_by_model:
            config.pluginmanager.register(ModelGroups(), "llmops-worker-groups")
        if not self.settings.is_worker:
            config.pluginmanager.register(self.completeness, "llmops-completeness")
            self.completeness.catch_sigterm()

    # -- what the run is made of -------------------------------------------------------------
    @property
    def specs(self) -> list[ModelSpec]:
        return self.settings.specs

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            # Our hooks may be implemented in pytest plugins and conftests too.
            plugins = [p for p in self.config.pluginmanager.get_plugins() if p is not self]
            self._registry = registry_with(plugins)
        return self._registry

    @property
    def default_params(self) -> Any:
        return self.settings.default_params

    @property
    def default_repeats(self) -> int:
        return self.settings.default_repeats

    @property
    def default_slices(self) -> list[tuple[str, str]]:
        """``--llm-slice`` slices every YAML suite adds to its own (docs/slices.md)."""
        return self.settings.default_slices

    @property
    def prompt_variants(self) -> list[tuple[str, Path]]:
        """``--llm-prompt-variant NAME=PATH`` candidates for every prompt-subject suite."""
        return self.settings.prompt_variants

    @property
    def rag_target(self) -> str:
        return self.settings.rag_target

    def rag_answer(self, item: CaseItem) -> Any:
        """The RAG pipeline's answer for a pipeline case (see SubjectFactory.rag_answer)."""
        return self.subjects.rag_answer(item)

    def kind_of(self, name: str) -> Any:
        """The suite kind called ``name`` (the functional kind for unknown names)."""
        return kind_named(self.registry, name)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.validate_specs()
            cache = ResponseCache(self.settings.cache_dir / "responses.sqlite", self.settings.cache_mode)
            self._engine = Engine(self.settings.all_specs, cache, functools.partial(self._create_provider, cache=cache),
                                  self.settings.worker_index, self.settings.worker_count,
                                  progress=progress_for(self.config))
        return self._engine

    def _create_provider(self, spec: ModelSpec, cache: ResponseCache) -> Any:
        try:
            # A wrapper's inner model (fault:, degrade:) shares the run's cache: its answers are
            # generated once whether the run asks for them plain, wrapped, or both.
            return self.registry.create_provider(spec, wrap_inner=lambda inner: CachedProvider(inner, cache))
        except (SpecError, ValueError, FileNotFoundError) as exc:
            raise pytest.UsageError(f"--llm-model {spec.raw!r}: {exc}") from None

    def validate_specs(self) -> None:
        """A model spec no provider serves is a usage error, before anything runs."""
        for spec in self.settings.all_specs:
            try:
                self.registry.validate_spec(spec)
            except SpecError as exc:
                raise pytest.UsageError(f"--llm-model: {exc}") from None

    def load_gate(self) -> None:
        """Read and validate the gate file now, so a mistake costs no generation time."""
        env = self.settings.gate_env
        if not env or self.gate_config is not None:
            return
        from pytest_llmops.gates import GateConfigError, load_gate_config  # only when a gate is asked for

        try:
            config = load_gate_config(self.settings.rootdir, gate_config_path(self.config))
        except GateConfigError as exc:
            raise pytest.UsageError(f"--llm-gate-env {env}: {exc}") from None
        if env not in config.environments:
            raise pytest.UsageError(f"--llm-gate-env {env!r}: no such environment in {config.source}; "
                                    f"known: {', '.join(sorted(config.environments))}")
        self.gate_config = config

    def relative_path(self, path: Any) -> str:
        """``path`` relative to the rootdir when it is inside it (stable across machines)."""
        resolved = Path(str(path)).resolve()
        try:
            return resolved.relative_to(self.settings.rootdir.resolve()).as_posix()
        except ValueError:
            return resolved.as_posix()

    # -- subjects for fixtures ------------------------------------------------------------------
    def subject_for(self, item: pytest.Item, alias: str) -> Any:
        """The ``llm`` fixture's model subject."""
        return self.subjects.model_subject(item, alias)

    def prompt_for(self, item: pytest.Item) -> Any:
        """The ``llm_prompt`` fixture's template."""
        return PromptTemplate(prompt_template_path(self.config, item))

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self._builder is not None:  # the controller: the process that writes the report
            self._run_token = mark_run_started(self.settings.report_dir, self.started_at, REPORT_NAME)

    # -- collection and prefetch ------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """``--llm-shard K/N``: keep this shard's items (after -k, -m and the other plugins chose)."""
        if self.settings.shard is None:
            return
        selection = select_shard(list(items), self.settings.shard)
        if selection.deselected:
            config.hook.pytest_deselected(items=selection.deselected)
        items[:] = selection.kept
        self.shard_info = selection.info

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items_by_model = {}
        self.subjects.rag_items = {}
        baseline_alias = self.settings.baseline_spec.alias if self.settings.baseline_spec else None
        cases = [item for item in session.items if isinstance(item, CaseItem)]
        for item in cases:
            if item.prefetchable:
                self.items_by_model.setdefault(item.alias, []).append(item)
                if baseline_alias and item.kind.uses_baseline_model:
                    # The baseline model answers the same requests, prefetched in bulk too.
                    self.items_by_model.setdefault(baseline_alias, []).append(item)
            else:
                self.subjects.rag_items.setdefault((str(item.path), item.alias), []).append(item)
        # Baselines and stale-case detection need to know whether a suite ran whole
        # (not narrowed by -k, -m or node ids).
        # (Per prompt variant too: each variant's copy of the file holds all its cases.)
        selected: dict[tuple[str, str, str], int] = {}
        for item in cases:
            key = (str(item.path), item.alias, item.suite.name)
            selected[key] = selected.get(key, 0) + 1
        for item in cases:
            item.suite_complete = selected[(str(item.path), item.alias, item.suite.name)] == len(item.suite.cases)

    def ensure_prefetched(self, alias: str) -> None:
        """Generate every selected case of ``alias`` together, before its first case runs."""
        engine = self.engine
        if engine.is_prefetched(alias):
            return
        requests = []
        for item in self.items_by_model.get(alias, []):
            try:
                requests.extend(item.requests())
            except Exception:  # noqa: BLE001 - the item reports its own error when it runs
                continue
        engine.prefetch(alias, requests)

    # -- records ----------------------------------------------------------------------------
    def attach_record(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        attach_record(item, call, report, self.relative_path, self.run_context.price_for)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = record_of(report) if self._builder is not None else None
        if record is None or self._builder is None:
            return
        self._builder.add(record)
        if self._baseline_collector is not None:
            self._baseline_collector.add(record)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: collect each worker's engine counters."""
        self._workers_down += 1
        output = getattr(node, "workeroutput", {})
        merge_counters(self._worker_counters, output.get("llmops_stats", {}))
        if self.shard_info is None and output.get("llmops_shard"):
            self.shard_info = output["llmops_shard"]  # every worker split the same selection the same way

    # -- end of run ------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file, so our properties make it in
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.settings.is_worker:
            if self._engine is not None:
                self.config.workeroutput["llmops_stats"] = engine_counters(self._engine)  # type: ignore[attr-defined]
            if self.shard_info is not None:
                self.config.workeroutput["llmops_shard"] = self.shard_info  # type: ignore[attr-defined]
            return
        if self._builder is None:
            return
        incomplete = self.completeness.finish(session)
        if self._builder.case_count == 0 and self.shard_info is None:
            # (A shard with no share of the selection still reports: the merge needs every shard.)
            if not incomplete:
                clear_run_marker(self.settings.report_dir, self._run_token, REPORT_NAME)  # finished, with nothing to report
            return
        run = {**self._run_info(), "complete": not incomplete, "incomplete": incomplete}
        try:
            self.published = publish(self._builder, run, self.settings.report_dir, self.gate_config,
                                     self.settings.gate_env or None, self.settings.history)
        except OSError as exc:  # a full disk, a folder that cannot be written
            self.publish_error = (f"llmops: could not write the report into {self.settings.report_dir}: "
                                  f"{exc.strerror or exc} ({exc.filename or 'no file name'}); any previous "
                                  "report there is left as it was, marked as an earlier run's (no gate allows it)")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # an infra failure: neither a pass nor a model failure
            return
        finally:
            self._builder.close()
        clear_run_marker(self.settings.report_dir, self._run_token, REPORT_NAME)
        if self._baseline_collector is not None:
            self.baselines_written = self._baseline_collector.write()
        self._add_junit_properties(self.published.header)
        self.run_failures = [f"{name}: {reason}" for name, suite in self.published.header.get("suites", {}).items()
                             for reason in suite.get("metrics", {}).get("run_failures", [])]
        if self.run_failures and session.exitstatus == pytest.ExitCode.OK:
            # A suite-level verdict (a gated metric that regressed) fails the run even when every case ran fine.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        gate = self.published.gate
        if gate is not None and gate.decision == "BLOCK" and session.exitstatus == pytest.ExitCode.OK:
            # A blocked promotion fails the run even when every test passed.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _add_junit_properties(self, header: dict[str, Any]) -> None:
        # The junitxml plugin keeps its writer under a private stash key; properties
        # added here land in the <testsuite> element as <property> entries.
        try:
            from _pytest.junitxml import xml_key  # pytest's private junitxml key: only at the end of a run
        except ImportError:  # pragma: no cover - a pytest without the junitxml plugin
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        for name, value in junit_properties(header):
            xml.add_global_property(name, value)

    def _counters(self) -> EngineCounters:
        return self._worker_counters or engine_counters(self._engine)

    def _run_info(self) -> dict[str, Any]:
        settings = self.settings
        builder = self._builder
        return {
            "started_at": self.started_at,
            "duration_s": round(time.perf_counter() - self._t0, 3),
            "git_sha": git_sha(settings.rootdir),
            "plugin_version": __version__,
            "seed": settings.seed,
            "cache": settings.cache_mode,
            "models": model_entries(settings.specs, settings.baseline_spec, lambda: self.engine,
                                               lambda: self._engine),
            "engine": self._counters(),
            "env": environment(builder.devices if builder else set(), builder.gpus if builder else set()),
            "workers": self._workers_down,
            **({"shard": self.shard_info} if self.shard_info else {}),
            # Tokens and cost of the whole run and per model (report/usage.py), when records had any.
            **({"usage": usage} if builder and (usage := builder.usage.as_dict()) else {}),
            # The run's sampling defaults, only when set (reports of runs without them are unchanged).
            **({"repeats": settings.default_repeats} if settings.default_repeats > 1 else {}),
            **({"temperature": settings.default_params.temperature}
               if settings.default_params.temperature > 0 else {}),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.publish_error:
            terminalreporter.write_line(self.publish_error, red=True, bold=True)
            return
        if self._builder is None or self._builder.case_count == 0:
            return
        write_summary(terminalreporter, self._builder.suites_json(), self._counters(), self.published,
                      self.baselines_written, self.run_failures)
        run = self.published.header.get("run", {}) if self.published is not None else {}
        if run.get("complete") is False:
            terminalreporter.write_line("llmops: the report is marked INCOMPLETE (no gate allows it): "
                                        + "; ".join(run.get("incomplete") or []), yellow=True, bold=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.completeness.release_sigterm()
        if self._engine is not None:
            self._engine.close()
