"""pytest hooks only: options, ini keys, markers, fixtures and YAML collection.

This is the module named by the ``pytest11`` entry point, so it is imported on every
pytest run in the environment: it imports nothing heavy (no torch, transformers, jinja2,
openai, PyGithub), and the per-run state lives in a session object created lazily.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from pytest_llmops.config import (
    DEFAULT_SUITE_GLOBS,
    SESSION_KEY,
    baseline_settings,
    check_settings,
    model_specs,
    parse_cache_mode,
    parse_repeats,
    parse_prompt_variant,
    parse_slice_option,
    parse_seed,
    parse_temperature,
    setting,
)
from pytest_llmops.core.specs import argparse_spec

if TYPE_CHECKING:
    from pytest_llmops.session import LlmopsSession
    from pytest_llmops.core.subjects import ModelSubject, PromptTemplate

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmops", "LLM evaluation (pytest-llmops)")
    group.addoption("--llm-model", action="append", type=argparse_spec, dest="llm_model", metavar="SPEC",
                    help="model subject, repeatable: smollm2 | hf:PATH_OR_HUB_ID[?opts] | openai:MODEL@BASE_URL[?opts] "
                         "(ini: llm_model; default smollm2)")
    group.addoption("--llm-report-dir", dest="llm_report_dir", metavar="DIR",
                    help="where reports are written (ini: llm_report_dir; default 'reports')")
    group.addoption("--llm-cache", dest="llm_cache", type=parse_cache_mode, metavar="MODE",
                    help="response cache: rw (default), read, off or refresh (ini: llm_cache)")
    group.addoption("--llm-seed", dest="llm_seed", type=parse_seed, metavar="N",
                    help="seed for sampling and for seeded suites (ini: llm_seed; default 0)")
    group.addoption("--llm-repeats", dest="llm_repeats", type=parse_repeats, metavar="N",
                    help="sample each case N times where its suite file sets no 'repeats' (functional-style "
                         "suites; needs a temperature > 0) (ini: llm_repeats; default 1)")
    group.addoption("--llm-temperature", dest="llm_temperature", type=parse_temperature, metavar="T",
                    help="sampling temperature where a suite sets no generation.temperature; 0 is greedy "
                         "(ini: llm_temperature; default 0)")
    group.addoption("--llm-prompt", dest="llm_prompt", metavar="PATH",
                    help="prompt template for the llm_prompt fixture (ini: llm_prompt)")
    group.addoption("--llm-prompt-variant", action="append", type=parse_prompt_variant, dest="llm_prompt_variant",
                    metavar="NAME=PATH",
                    help="compare prompt template PATH, as variant NAME, with the template of every 'subject: prompt' "
                         "suite (its reference, 'base'); repeatable (ini: llm_prompt_variants, one per line)")
    group.addoption("--llm-slice", action="append", type=parse_slice_option, dest="llm_slice", metavar="FIELD",
                    help="slice every suite's pass rate by record field FIELD (metadata.segment, tags, group; "
                         "NAME=FIELD names it): each group's rate and the largest gap, as metrics "
                         "slices.NAME; repeatable (ini: llm_slices, one per line)")
    group.addoption("--llm-rag-pipeline", dest="llm_rag_pipeline", metavar="MODULE:ATTR",
                    help="RAG pipeline or factory for rag_pipeline and 'subject: rag' suites (ini: llm_rag_pipeline)")
    group.addoption("--llm-gate-env", dest="llm_gate_env", metavar="ENV",
                    help="apply the promotion gate of ENV (dev, qa, prod...) at the end of the run; BLOCK fails "
                         "the run (ini: llm_gate_env)")
    group.addoption("--llm-gate-config", dest="llm_gate_config", metavar="PATH",
                    help="gate file (default: llmops.yaml, else [tool.llmops] in pyproject.toml; "
                         "ini: llm_gate_config)")
    group.addoption("--llm-history", dest="llm_history", action="store_true", default=None,
                    help="append this run to <report-dir>/history.jsonl and chart the trend (ini: llm_history)")
    group.addoption("--llm-baseline", dest="llm_baseline", metavar="DIR",
                    help="compare regression and latency suites against the baselines in DIR, one "
                         "<suite>.json each, as written by --llm-update-baseline (ini: llm_baseline)")
    group.addoption("--llm-baseline-model", dest="llm_baseline_model", type=argparse_spec, metavar="SPEC",
                    help="generate the baseline in this run with model SPEC and compare every --llm-model "
                         "against it (ini: llm_baseline_model)")
    group.addoption("--llm-update-baseline", dest="llm_update_baseline", action="store_true", default=None,
                    help="write <report-dir>/baseline/<suite>.json from this run's regression and latency "
                         "suites (ini: llm_update_baseline)")
    group.addoption("--llm-shard", dest="llm_shard", metavar="K/N",
                    help="run shard K of N: a deterministic, cost-balanced share of the selected tests for one "
                         "of N CI jobs; `llmops merge` joins the shards' reports (ini: llm_shard)")
    parser.addini("llm_model", "model specs (one per line)", type="linelist", default=[])
    parser.addini("llm_shard", "run only shard K/N of the selected tests", default="")
    parser.addini("llm_baseline", "baseline folder for regression and latency suites, relative to the rootdir",
                  default="")
    parser.addini("llm_baseline_model", "model spec that generates the baseline in the same run", default="")
    parser.addini("llm_update_baseline", "write baselines from every run", type="bool", default=False)
    parser.addini("llm_gate_env", "gate environment applied at the end of every run", default="")
    parser.addini("llm_gate_config", "gate file, relative to the rootdir", default="")
    parser.addini("llm_history", "append every run to <report-dir>/history.jsonl", type="bool", default=False)
    parser.addini("llm_report_dir", "report directory, relative to the rootdir", default="reports")
    parser.addini("llm_cache", "response cache mode: rw, read, off or refresh", default="rw")
    parser.addini("llm_seed", "seed for sampling and seeded suites", default="0")
    parser.addini("llm_repeats", "samples per case where a suite file sets no repeats", default="1")
    parser.addini("llm_temperature", "sampling temperature where a suite sets none (0: greedy)", default="0")
    parser.addini("llm_prompt", "default prompt template for llm_prompt", default="")
    parser.addini("llm_prompt_variants", "NAME=PATH prompt variants compared with every prompt suite's template "
                  "(one per line, paths relative to the rootdir)", type="linelist", default=[])
    parser.addini("llm_slices", "record fields every suite is sliced by (PATH or NAME=PATH, one per line)",
                  type="linelist", default=[])
    parser.addini("llm_rag_pipeline", "RAG pipeline as module:attribute",
                  default="pytest_llmops.core.rag_default:make_pipeline")
    parser.addini("llm_suite_files", "glob patterns of YAML suite files", type="args",
                  default=list(DEFAULT_SUITE_GLOBS))
    parser.addini("llm_cache_dir", "response cache folder, relative to the rootdir", default=".llmops-cache")
    parser.addini("llm_max_new_tokens", "default max_new_tokens for generations", default="64")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llm_prompt(path): the prompt template the llm_prompt fixture loads")
    config.addinivalue_line("markers", "llm_models(*aliases): run this test only for these model aliases")
    config.addinivalue_line("markers", "llm(kind, suite): set on every YAML suite case")
    check_settings(config)  # a bad ini value is a usage error, not a collection error
    baseline_options = baseline_settings(config)
    if (config.getoption("llm_model") or setting(config, "llm_gate_env") or any(baseline_options)
            or setting(config, "llm_shard")):
        # Only pay for loading the plugin registry (and the gate file) when asked to.
        llmops = _get_session(config)
        llmops.validate_specs()
        llmops.load_gate()
    elif getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput"):
        # xdist controller: it runs no test itself, so nothing else would create the session
        # that gathers the workers' records and writes the report.
        _get_session(config)


def _get_session(config: pytest.Config) -> "LlmopsSession":
    existing = config.stash.get(SESSION_KEY, None)
    if existing is None:
        from pytest_llmops.session import LlmopsSession  # the session (and the engine) load only for runs that use a model

        existing = LlmopsSession(config, model_specs(config))
        config.stash[SESSION_KEY] = existing
        config.pluginmanager.register(existing, "llmops-session")
    return existing


def _is_suite_file(config: pytest.Config, file_path: Path) -> bool:
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    return any(fnmatch.fnmatch(file_path.name, pattern) for pattern in config.getini("llm_suite_files"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_suite_file(parent.config, file_path):
        from pytest_llmops.suites.items import SuiteFile  # suite loading (kinds, YAML) only for runs with suite files

        return SuiteFile.from_parent(parent, path=file_path, llmops=_get_session(parent.config))
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "llm_alias" not in metafunc.fixturenames:
        return
    aliases = [spec.alias for spec in model_specs(metafunc.config)]
    marker = metafunc.definition.get_closest_marker("llm_models")
    if marker is not None:
        aliases = [a for a in aliases if a in marker.args]
    metafunc.parametrize("llm_alias", aliases, indirect=True, ids=aliases)


@pytest.fixture
def llm_alias(request: pytest.FixtureRequest) -> str:
    """The alias of the model subject this test runs against (parametrized per --llm-model)."""
    param = getattr(request, "param", None)
    if param is None:  # a test that skipped parametrization (e.g. llm_models matched nothing)
        pytest.skip("no model subject selected for this test")
    return str(param)


@pytest.fixture
def llm(request: pytest.FixtureRequest, llm_alias: str) -> "ModelSubject":
    """The model subject: ``generate(prompt)``, ``generate_many(prompts)``, ``chat(messages)``.

    Generations go through the run's engine and response cache; the test's record in the
    report lists what was asked and answered.
    """
    return _get_session(request.config).subject_for(request.node, llm_alias)


@pytest.fixture
def llm_prompt(request: pytest.FixtureRequest) -> "PromptTemplate":
    """The prompt template under test: ``@pytest.mark.llm_prompt(path)``, ``--llm-prompt`` or ini
    ``llm_prompt``. ``render(**vars)`` gives chat messages; ``version`` is its content hash."""
    return _get_session(request.config).prompt_for(request.node)


@pytest.fixture
def rag_pipeline(request: pytest.FixtureRequest, llm: "ModelSubject") -> Any:
    """The RAG pipeline under test (``--llm-rag-pipeline`` / ini ``llm_rag_pipeline``), built
    over this test's model subject: ``pipeline(question) -> {"answer", "contexts"}``."""
    return _get_session(request.config).subjects.rag_pipeline_for(llm)


@pytest.fixture
def llmops_run(request: pytest.FixtureRequest) -> Any:
    """The run as suite kinds see it (:class:`~pytest_llmops.suites.kinds.RunContext`): the
    registry, the engine, baselines and settings. Kinds' own fixtures build on it (for example
    ``metamorphic``, in ``pytest_llmops/suites/metamorphic/fixture.py``)."""
    return _get_session(request.config).run_context


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    """A case or ``llm`` test whose body met an infra error is an ERROR, not a FAILED model answer."""
    # records.ERROR_ATTRIBUTE, spelled out: this module stays light (records imports the suites).
    if report.when == "call" and report.failed and getattr(report, "llmops_infra_error", False):
        return "error", "E", ("ERROR", {"red": True})
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    llmops = item.config.stash.get(SESSION_KEY, None)
    if llmops is not None:
        llmops.attach_record(item, call, report)
    return report
