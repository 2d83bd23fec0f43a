"""The per-run object, registered as a plugin: engine, records, report, terminal summary.

Created lazily (on the first YAML suite file, ``llm`` fixture or explicit ``--llm-model``),
so runs that never touch a model pay nothing. Workers generate and attach records to
their test reports; only the controller gathers records and writes files.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops import __version__
from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.core.engine import Engine, ModelStats
from pytest_llmops.plugin import baseline_settings, setting
from pytest_llmops.providers.base import GenerationParams, InfraError
from pytest_llmops.core.registry import Registry
from pytest_llmops.publish import Published, junit_properties, publish
from pytest_llmops.report.json_report import ReportBuilder
from pytest_llmops.core.specs import ModelSpec, SpecError, parse_spec
from pytest_llmops.suites.builtins import registry_with
from pytest_llmops.suites.items import CaseItem
from pytest_llmops.suites.kinds import kind_named

JUDGE_MAX_NEW_TOKENS = 512
SUBJECT_KEY = pytest.StashKey[Any]()


class LlmopsSession:
    """Everything one pytest run of pytest-llmops needs, in one place."""

    def __init__(self, config: pytest.Config, specs: list[ModelSpec]) -> None:
        self.config = config
        self.specs = specs
        self.started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self._t0 = time.perf_counter()
        self.rootdir = Path(config.rootpath)
        self.is_worker = hasattr(config, "workerinput")
        self.cache_mode = setting(config, "llm_cache")
        self.seed = int(setting(config, "llm_seed"))
        self.default_params = GenerationParams(max_new_tokens=int(config.getini("llm_max_new_tokens")),
                                               seed=self.seed)
        self.report_dir = self._report_dir()
        self.cache_dir = self.rootdir / config.getini("llm_cache_dir")
        self.baseline_dir, self.baseline_spec, self.update_baseline = self._baseline_settings()
        self._baselines: dict[str, Any] = {}
        self._baseline_writer: Any = None
        self._registry: Registry | None = None
        self._engine: Engine | None = None
        self._builder: ReportBuilder | None = None if self.is_worker else \
            ReportBuilder(self.report_dir, aggregator_factory=lambda kind: kind_named(self.registry, kind).aggregator())
        self._worker_stats: dict[str, dict[str, float]] = {}
        self._workers_down = 0  # xdist workers that finished (the controller has no worker env vars)
        self._rag_cache: dict[str, Any] = {}
        self._rag_answers: dict[tuple[str, str], dict[str, Any]] = {}
        self._templates: dict[Path, Any] = {}
        self.published: Published | None = None
        self.baselines_written: list[Path] = []
        self.run_failures: list[str] = []
        self.gate_env = setting(config, "llm_gate_env")
        self.gate_config: Any = None
        # YAML case items per model alias, in collection order, for prefetching; RAG case
        # items per (suite file, model alias), answered together through the pipeline.
        self.items_by_model: dict[str, list[Any]] = {}
        self.rag_items: dict[tuple[str, str], list[Any]] = {}
        from pytest_llmops.run_context import SessionRunContext

        self.run_context = SessionRunContext(self)

    # -- configuration --------------------------------------------------------------------
    def _report_dir(self) -> Path:
        option = self.config.getoption("llm_report_dir")
        if option:
            return Path(self.config.invocation_params.dir, option).resolve()
        return (self.rootdir / self.config.getini("llm_report_dir")).resolve()

    def _baseline_settings(self) -> tuple[Path | None, ModelSpec | None, bool]:
        folder, spec, update = baseline_settings(self.config)
        directory = None
        if folder:
            base = Path(self.config.invocation_params.dir) if self.config.getoption("llm_baseline") else self.rootdir
            directory = (base / folder).resolve()
        if update and len(self.specs) > 1:
            raise pytest.UsageError("--llm-update-baseline stores one model's results as the baseline; "
                                    f"this run has {len(self.specs)} --llm-model subjects")
        if spec is not None:
            # The baseline model is not a test subject: it gets its own alias in the engine.
            alias = spec.options.get("alias", "baseline")
            if alias in {s.alias for s in self.specs}:
                raise pytest.UsageError(f"--llm-baseline-model {spec.raw!r}: alias {alias!r} is also a --llm-model "
                                        "alias; give the baseline '?alias=NAME'")
            spec = ModelSpec(raw=spec.raw, provider=spec.provider, target=spec.target,
                             options={**spec.options, "alias": alias})
        return directory, spec, update

    @property
    def baseline_alias(self) -> str | None:
        """The engine alias of ``--llm-baseline-model``, when one was given."""
        return self.baseline_spec.alias if self.baseline_spec is not None else None

    @property
    def comparing(self) -> bool:
        """Whether this run compares against a baseline (stored or generated in the run)."""
        return self.baseline_dir is not None or self.baseline_spec is not None

    def baseline_for(self, suite: str) -> dict[str, Any]:
        """The stored baseline of ``suite`` (``--llm-baseline``), read once per run.

        Raises :class:`~pytest_llmops.core.baseline.BaselineError` when it is missing or unreadable.
        """
        from pytest_llmops.core.baseline import BaselineError, load_baseline

        if self.baseline_dir is None:
            raise BaselineError("no --llm-baseline folder was given")
        if suite not in self._baselines:
            try:
                self._baselines[suite] = load_baseline(self.baseline_dir, suite)
            except BaselineError as exc:
                self._baselines[suite] = exc
        found = self._baselines[suite]
        if isinstance(found, BaselineError):
            raise found
        return found

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            # Our hooks may be implemented in pytest plugins and conftests too.
            plugins = [p for p in self.config.pluginmanager.get_plugins() if p is not self]
            self._registry = registry_with(plugins)
        return self._registry

    def validate_specs(self) -> None:
        for spec in self.all_specs:
            try:
                self.registry.validate_spec(spec)
            except SpecError as exc:
                raise pytest.UsageError(f"--llm-model: {exc}") from None

    def load_gate(self) -> None:
        """Read and validate the gate file now, so a mistake costs no generation time."""
        if not self.gate_env or self.gate_config is not None:
            return
        from pytest_llmops.gates import GateConfigError, load_gate_config

        option = self.config.getoption("llm_gate_config")
        if option:
            path: Path | None = Path(self.config.invocation_params.dir, option)
        elif self.config.getini("llm_gate_config"):
            path = self.rootdir / self.config.getini("llm_gate_config")
        else:
            path = None
        try:
            config = load_gate_config(self.rootdir, path)
        except GateConfigError as exc:
            raise pytest.UsageError(f"--llm-gate-env {self.gate_env}: {exc}") from None
        if self.gate_env not in config.environments:
            raise pytest.UsageError(f"--llm-gate-env {self.gate_env!r}: no such environment in {config.source}; "
                                    f"known: {', '.join(sorted(config.environments))}")
        self.gate_config = config

    @property
    def all_specs(self) -> list[ModelSpec]:
        """The test subjects and, when given, the baseline model."""
        return self.specs + ([self.baseline_spec] if self.baseline_spec is not None else [])

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.validate_specs()
            cache = ResponseCache(self.cache_dir / "responses.sqlite", self.cache_mode)
            worker_index, worker_count = 0, 1
            if self.is_worker:
                workerinput = self.config.workerinput  # type: ignore[attr-defined]
                worker_index = int(str(workerinput.get("workerid", "gw0")).lstrip("gw") or 0)
                worker_count = int(workerinput.get("workercount", 1))
            self._engine = Engine(self.all_specs, cache, self._create_provider, worker_index, worker_count)
        return self._engine

    def _create_provider(self, spec: ModelSpec) -> Any:
        try:
            return self.registry.create_provider(spec)
        except (SpecError, ValueError, FileNotFoundError) as exc:
            raise pytest.UsageError(f"--llm-model {spec.raw!r}: {exc}") from None

    def relative_path(self, path: Any) -> str:
        """``path`` relative to the rootdir when it is inside it (stable across machines)."""
        resolved = Path(str(path)).resolve()
        try:
            return resolved.relative_to(self.rootdir.resolve()).as_posix()
        except ValueError:
            return resolved.as_posix()

    # -- subjects -------------------------------------------------------------------------
    def judge(self, spec_or_alias: str) -> tuple[Any, str]:
        """``(prompt -> text, name)`` for a grading model: a run alias or any model spec.

        The judge's generations go through the engine and the cache like any other, so a
        rerun does not pay for grading again.
        """
        from pytest_llmops.core.subjects import ModelSubject

        engine = self.engine
        if spec_or_alias in engine.aliases:
            alias = spec_or_alias
        else:
            try:
                spec = parse_spec(spec_or_alias)
            except SpecError as exc:
                raise pytest.UsageError(f"judge: {exc}") from None
            self.registry.validate_spec(spec)
            engine.add_model(spec)
            alias = spec.alias
        subject = ModelSubject(engine, alias, self.default_params)

        def ask(prompt: str) -> str:
            # Graders answer in JSON with reasons: the run's default token budget cuts them off.
            return subject.generate(prompt, max_new_tokens=JUDGE_MAX_NEW_TOKENS)

        return ask, f"{alias} ({engine.spec(alias).raw})"

    def subject_for(self, item: pytest.Item, alias: str) -> Any:
        from pytest_llmops.core.subjects import ModelSubject

        subject = ModelSubject(self.engine, alias, self.default_params)
        item.stash[SUBJECT_KEY] = subject
        return subject

    def prompt_for(self, item: pytest.Item) -> Any:
        from pytest_llmops.core.subjects import PromptTemplate

        marker = item.get_closest_marker("llm_prompt")
        if marker is not None and marker.args:
            base = Path(str(item.path)).parent
            path = base / str(marker.args[0])
        elif self.config.getoption("llm_prompt"):
            path = Path(self.config.invocation_params.dir, self.config.getoption("llm_prompt"))
        elif self.config.getini("llm_prompt"):
            path = self.rootdir / self.config.getini("llm_prompt")
        else:
            raise pytest.UsageError("llm_prompt: no template given; use @pytest.mark.llm_prompt(PATH), "
                                    "--llm-prompt PATH or the llm_prompt ini key")
        if not path.is_file():
            raise pytest.UsageError(f"llm_prompt: template file {path} does not exist")
        return PromptTemplate(path)

    def rag_target(self) -> str:
        return str(self.config.getoption("llm_rag_pipeline") or self.config.getini("llm_rag_pipeline"))

    def _shared_rag(self, target: str, alias: str) -> tuple[Any, Any]:
        """The pipeline named ``target`` over model ``alias``, built once per run, and its subject."""
        from pytest_llmops.core.subjects import ModelSubject, build_rag_pipeline

        key = f"{target}|{alias}"
        if key not in self._rag_cache:
            shared = ModelSubject(self.engine, alias, self.default_params)
            self._rag_cache[key] = (shared, build_rag_pipeline(target, shared, self.rootdir))
        return self._rag_cache[key]

    def rag_pipeline_for(self, llm: Any, target: str | None = None) -> Any:
        """The pipeline over ``llm``'s model; its generations show up in the calling test's record."""
        shared, pipeline = self._shared_rag(target or self.rag_target(), llm.alias)
        shared.log = llm.log
        return pipeline

    def template(self, path: Path) -> Any:
        """A prompt template loaded once per run."""
        from pytest_llmops.core.subjects import PromptTemplate

        if path not in self._templates:
            self._templates[path] = PromptTemplate(path)
        return self._templates[path]

    def rag_answer(self, item: Any) -> Any:
        """The pipeline's answer for a ``subject: rag`` case.

        All selected cases of the item's suite and model are answered together through the
        pipeline's ``batch`` method when it has one (one batched generation), otherwise one
        by one as they run. An infra failure is returned for the case, not raised.
        """
        key = (str(item.path), item.alias)
        _, pipeline = self._shared_rag(item.suite.rag or self.rag_target(), item.alias)
        answers = self._rag_answers.setdefault(key, {})
        if item.case.id not in answers and hasattr(pipeline, "batch"):
            siblings = self.rag_items.get(key) or [item]
            try:
                results = pipeline.batch([i.case.input for i in siblings])
                answers.update({i.case.id: r for i, r in zip(siblings, results)})
            except InfraError as exc:
                answers.update({i.case.id: exc for i in siblings})
        if item.case.id not in answers:
            try:
                answers[item.case.id] = pipeline(item.case.input)
            except InfraError as exc:
                answers[item.case.id] = exc
        # Each case takes its answer once; the dict stays small.
        return answers.pop(item.case.id)

    # -- collection and prefetch ------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items_by_model = {}
        self.rag_items = {}
        for item in session.items:
            if not isinstance(item, CaseItem):
                continue
            if item.prefetchable:
                self.items_by_model.setdefault(item.alias, []).append(item)
                if self.baseline_alias and getattr(item.kind, "uses_baseline_model", False):
                    # The baseline model answers the same requests, prefetched in bulk too.
                    self.items_by_model.setdefault(self.baseline_alias, []).append(item)
            else:
                self.rag_items.setdefault((str(item.path), item.alias), []).append(item)
        # Baselines and stale-case detection need to know whether a suite ran whole
        # (not narrowed by -k, -m or node ids).
        selected: dict[tuple[str, str], int] = {}
        for item in session.items:
            if isinstance(item, CaseItem):
                key = (str(item.path), item.alias)
                selected[key] = selected.get(key, 0) + 1
        for item in session.items:
            if isinstance(item, CaseItem):
                item.suite_complete = selected[(str(item.path), item.alias)] == len(item.suite.cases)

    def ensure_prefetched(self, alias: str) -> None:
        """Generate every selected case of ``alias`` together, before its first case runs."""
        engine = self.engine
        if engine.is_prefetched(alias):
            return
        items = self.items_by_model.get(alias, [])
        requests = []
        for item in items:
            try:
                requests.extend(item.requests())
            except Exception:  # noqa: BLE001 - the item reports its own error when it runs
                continue
        engine.prefetch(alias, requests)

    # -- records ----------------------------------------------------------------------------
    def attach_record(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        """Put the case record on the report that ends the test (call, or a failed setup)."""
        record = item.record if isinstance(item, CaseItem) else None
        final = report.when == "call" or (report.when == "setup" and not report.passed)
        if not final:
            return
        if record is None:
            subject = item.stash.get(SUBJECT_KEY, None)
            if subject is None:
                return
            record = self._python_test_record(item, subject, call, report)
        elif report.when == "call" and not report.passed and record.get("outcome") == "passed":
            # An exception after the checks passed (e.g. in a hook) still fails the case.
            record["outcome"] = "failed"
        report.llmops_record = json.dumps(record, ensure_ascii=False)  # type: ignore[attr-defined]

    def _python_test_record(self, item: pytest.Item, subject: Any, call: pytest.CallInfo[None],
                            report: pytest.TestReport) -> dict[str, Any]:
        excinfo = call.excinfo
        if report.skipped:
            outcome = "skipped"
        elif excinfo is not None and isinstance(excinfo.value, InfraError):
            outcome = "error"
        else:
            outcome = "passed" if report.passed else ("error" if report.when == "setup" else "failed")
        rel = Path(self.relative_path(item.path))
        last = subject.log[-1] if subject.log else {}
        record: dict[str, Any] = {
            "id": item.name, "nodeid": item.nodeid, "suite": str(rel.with_suffix("")), "kind": "functional",
            "subject": "python", "model": subject.alias, "index": _line_of(item),
            "input": last.get("input"), "output": last.get("output"), "checks": [], "outcome": outcome,
            "cached": bool(subject.log) and all(g.get("cached") for g in subject.log),
            "generations": subject.log[-20:], "timings": {"total_s": round(report.duration, 6)},
        }
        if excinfo is not None and outcome in ("failed", "error"):
            record["error"] = f"{excinfo.typename}: {str(excinfo.value)[:500]}"
        return record

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "llmops_record", None)
        if data and self._builder is not None:
            record = json.loads(data)
            self._builder.add(record)
            if self.update_baseline:
                self._add_to_baseline(record)

    def _add_to_baseline(self, record: dict[str, Any]) -> None:
        """Hand a record to the baseline writer when its kind stores baselines."""
        kind = self.registry.kinds.get(record.get("kind", ""))
        entry = kind.baseline_entry(record) if hasattr(kind, "baseline_entry") else None
        if entry is None:
            return
        if self._baseline_writer is None:
            from pytest_llmops.core.baseline import BaselineWriter

            self._baseline_writer = BaselineWriter(self.report_dir / "baseline")
        header, case_entry = entry
        self._baseline_writer.add(record["suite"], header, record["id"], case_entry, bool(record.get("suite_complete")))

    # -- end of run ------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file, so our properties make it in
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            if self._engine is not None:
                self.config.workeroutput["llmops_stats"] = self._stats_json()  # type: ignore[attr-defined]
            return
        if self._builder is None or self._builder.case_count == 0:
            return
        history = bool(self.config.getoption("llm_history") or self.config.getini("llm_history"))
        self.published = publish(self._builder, self._run_info(), self.report_dir, self.gate_config,
                                 self.gate_env or None, history)
        self._builder.close()
        if self._baseline_writer:
            self.baselines_written = self._baseline_writer.write()
        self._add_junit_properties(self.published.header)
        self.run_failures = [f"{name}: {reason}" for name, suite in self.published.header.get("suites", {}).items()
                             for reason in suite.get("metrics", {}).get("run_failures", [])]
        if self.run_failures and session.exitstatus == pytest.ExitCode.OK:
            # A gated regression fails the run even when every case ran fine.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        gate = self.published.gate
        if gate is not None and gate.decision == "BLOCK" and session.exitstatus == pytest.ExitCode.OK:
            # A blocked promotion fails the run even when every test passed.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _add_junit_properties(self, header: dict[str, Any]) -> None:
        # The junitxml plugin keeps its writer under a private stash key; properties
        # added here land in the <testsuite> element as <property> entries.
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - a pytest without the junitxml plugin
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        for name, value in junit_properties(header):
            xml.add_global_property(name, value)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: collect each worker's engine counters."""
        self._workers_down += 1
        stats = getattr(node, "workeroutput", {}).get("llmops_stats", {})
        for alias, values in stats.items():
            merged = self._worker_stats.setdefault(alias, {})
            for key, value in values.items():
                merged[key] = merged.get(key, 0) + value

    def _stats_json(self) -> dict[str, dict[str, float]]:
        engine = self._engine
        if engine is None:
            return {}
        out = {}
        for alias in engine.aliases:
            stats: ModelStats = engine.stats(alias)
            out[alias] = {"generated": stats.generated, "cache_hits": stats.cache_hits,
                          "infra_errors": stats.infra_errors, "generate_s": round(stats.generate_seconds, 4),
                          "load_s": round(stats.load_seconds, 4)}
        return out

    def _run_info(self) -> dict[str, Any]:
        models = []
        for spec in self.specs:
            try:
                fingerprint = self.engine.fingerprint(spec.alias)
            except Exception as exc:  # noqa: BLE001 - the report must still be written
                fingerprint = f"unavailable: {type(exc).__name__}"
            entry = {"alias": spec.alias, "spec": spec.raw, "fingerprint": fingerprint}
            if self._engine is not None:
                entry.update({k: v for k, v in self._engine.describe(spec.alias).items() if k != "provider"})
            models.append(entry)
        if self.baseline_spec is not None and self._engine is not None:
            spec = self.baseline_spec
            try:
                fingerprint = self.engine.fingerprint(spec.alias)
            except Exception as exc:  # noqa: BLE001 - the report must still be written
                fingerprint = f"unavailable: {type(exc).__name__}"
            models.append({"alias": spec.alias, "spec": spec.raw, "fingerprint": fingerprint, "role": "baseline",
                           **{k: v for k, v in self._engine.describe(spec.alias).items() if k != "provider"}})
        devices = self._builder.devices if self._builder else set()
        gpus = self._builder.gpus if self._builder else set()
        stats = self._worker_stats or self._stats_json()
        return {
            "started_at": self.started_at,
            "duration_s": round(time.perf_counter() - self._t0, 3),
            "git_sha": _git_sha(self.rootdir),
            "plugin_version": __version__,
            "seed": self.seed,
            "cache": self.cache_mode,
            "models": models,
            "engine": stats,
            "env": {"python": platform.python_version(), "torch": _dist_version("torch"),
                    "transformers": _dist_version("transformers"), "platform": platform.platform(),
                    "device": "cuda" if "cuda" in devices else ("cpu" if "cpu" in devices or not devices
                                                                 else sorted(devices)[0]),
                    "gpu": sorted(gpus)[0] if gpus else None},
            "workers": self._workers_down,
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._builder is None or self._builder.case_count == 0:
            return
        tr = terminalreporter
        tr.section("llmops")
        suites = self._builder.suites_json()
        width = max(len(name) for name in suites)
        tr.write_line(f"{'suite'.ljust(width)}  {'model':<12} {'n':>5} {'pass':>5} {'fail':>5} {'err':>4}  "
                      f"key metric [95% CI]")
        for name, suite in suites.items():
            tr.write_line(f"{name.ljust(width)}  {suite['model']:<12} {suite['n']:>5} {suite['passed']:>5} "
                          f"{suite['failed']:>5} {suite['errors']:>4}  {_key_metric(suite['metrics'])}")
        stats = self._worker_stats or self._stats_json()
        for alias, values in stats.items():
            tr.write_line(f"model {alias}: {int(values['generated'])} generated, {int(values['cache_hits'])} "
                          f"from cache, {int(values['infra_errors'])} infra errors")
        published = self.published
        if published is None:
            return
        for problem in published.problems:
            tr.write_line(f"warning: {problem}", yellow=True)
        tr.write_line(f"report: {published.report}")
        for path in self.baselines_written:
            tr.write_line(f"baseline written: {path}")
        for failure in self.run_failures:
            tr.write_line(f"REGRESSION {failure}", red=True, bold=True)
        for extra in (published.html, published.markdown, published.gate_file):
            if extra is not None:
                tr.write_line(f"        {extra}")
        if published.gate is not None:
            from pytest_llmops.gates import format_gate_table

            tr.section(f"llmops gate ({published.gate.env})")
            lines = format_gate_table(published.gate).splitlines()
            for line in lines[:-1]:
                tr.write_line(line)
            allowed = published.gate.decision == "ALLOW"
            tr.write_line(lines[-1], green=allowed, red=not allowed, bold=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._engine is not None:
            self._engine.close()


# The headline metric of a suite kind, shown in the terminal table.
_KEY_METRICS = (("attack_success_rate", "attack success"), ("violation_rate", "violations"),
                ("garak_pass_rate", "garak pass rate"), ("pass_rate", "pass rate"))


def _key_metric(metrics: dict[str, Any]) -> str:
    if isinstance(metrics.get("decision"), str):
        return f"decision {metrics['decision']}"
    ttft = metrics.get("ttft_ms")
    p95 = ttft.get("p95") if isinstance(ttft, dict) else None
    if isinstance(p95, dict) and isinstance(p95.get("value"), (int, float)):
        bound = p95.get("ub95")
        shown = f"{bound:.0f}" if isinstance(bound, (int, float)) else str(bound)
        return f"TTFT p95 {p95['value']:.0f} ms (ub95 {shown}, n={ttft.get('n')})"
    for key, label in _KEY_METRICS:
        rate = metrics.get(key)
        if isinstance(rate, dict) and "ci95" in rate:
            if rate.get("value") is None:
                return f"{label} n/a"
            return f"{label} {rate['value']:.2f} [{rate['ci95'][0]:.2f}, {rate['ci95'][1]:.2f}]"
    return "n/a"


def _line_of(item: pytest.Item) -> int:
    location = getattr(item, "location", None)
    return int(location[1] or 0) if location else 0


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_sha(rootdir: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=rootdir, capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None
