"""The run's settings: ``--llm-*`` options over their ini keys, read once, plus the stash key.

Below the pytest hooks (``plugin.py``) and the session: both read settings from here, so an
option's precedence (command line over ini key over default) and its validation live in one
place. Imports nothing heavy: the plugin module imports it on every pytest run.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmops.sharding import Shard, ShardError, parse_shard
from pytest_llmops.core.slices import merge_slices, parse_slice
from pytest_llmops.core.specs import ModelSpec, SpecError, parse_spec
from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.suites.variants import CLI_REFERENCE, NAME_RE

# suites.repeats.MAX_REPEATS, spelled out: config sits above the suites in the layers but is
# imported on every pytest run, and the suites package is not light.
MAX_REPEATS = 100

if TYPE_CHECKING:
    pass

CACHE_MODES = ("rw", "read", "off", "refresh")
DEFAULT_SUITE_GLOBS = ("*.eval.yaml", "*.eval.yml")
SESSION_KEY = pytest.StashKey["LlmopsSession"]()


def parse_seed(text: str) -> int:
    """``--llm-seed``: a whole number >= 0 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--llm-seed expects an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--llm-seed must be >= 0, got {value}")
    return value


def parse_repeats(text: str) -> int:
    """``--llm-repeats``: samples per case, a whole number from 1 to 100 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--llm-repeats expects a whole number of samples, got {text!r}") from None
    if not 1 <= value <= MAX_REPEATS:
        raise argparse.ArgumentTypeError(f"--llm-repeats must be from 1 to {MAX_REPEATS}, got {value}")
    return value


def parse_temperature(text: str) -> float:
    """``--llm-temperature``: a finite number >= 0 (0 is greedy decoding)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--llm-temperature expects a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"--llm-temperature must be a finite number >= 0, got {text!r}")
    return value


def parse_cache_mode(text: str) -> str:
    """``--llm-cache``: one of :data:`CACHE_MODES`."""
    if text not in CACHE_MODES:
        raise argparse.ArgumentTypeError(f"--llm-cache expects one of {', '.join(CACHE_MODES)}, got {text!r}")
    return text


def parse_prompt_variant(text: str) -> tuple[str, str]:
    """``--llm-prompt-variant NAME=PATH``: a variant name and a template path (a usage error otherwise)."""
    name, sep, path = str(text).partition("=")
    name, path = name.strip(), path.strip()
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--llm-prompt-variant expects NAME=PATH (a variant name and a prompt "
                                         f"template file), got {text!r}")
    if not NAME_RE.match(name):
        raise argparse.ArgumentTypeError(f"--llm-prompt-variant {text!r}: the name {name!r} must be letters, "
                                         "digits, '.', '_' or '-'")
    if name == CLI_REFERENCE:
        raise argparse.ArgumentTypeError(f"--llm-prompt-variant {text!r}: {CLI_REFERENCE!r} names the suite's own "
                                         "template (the reference); choose another name")
    return name, path


def prompt_variant_settings(config: pytest.Config) -> list[tuple[str, Path]]:
    """The ``--llm-prompt-variant`` candidates (else ini ``llm_prompt_variants``), each template checked.

    Option paths are relative to the current directory, ini paths to the rootdir."""
    given: list[tuple[str, str]] | None = config.getoption("llm_prompt_variant")
    where, base = "--llm-prompt-variant", Path(config.invocation_params.dir)
    if not given:
        where, base = "ini llm_prompt_variants", Path(config.rootpath)
        try:
            given = [parse_prompt_variant(line) for line in config.getini("llm_prompt_variants")]
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini llm_prompt_variants: {exc}") from None
    out: list[tuple[str, Path]] = []
    for name, text in given or []:
        if name in {n for n, _ in out}:
            raise pytest.UsageError(f"{where}: the variant name {name!r} is given twice")
        path = (base / text).resolve()
        if not path.is_file():
            raise pytest.UsageError(f"{where} {name}={text}: template file {path} does not exist")
        out.append((name, path))
    return out


def setting(config: pytest.Config, name: str) -> str:
    """An option's value from the command line, else from its ini key."""
    value = config.getoption(name)
    return str(value) if value is not None else str(config.getini(name))


def model_specs(config: pytest.Config) -> list[ModelSpec]:
    """The run's model subjects: --llm-model, else the llm_model ini key, else smollm2."""
    specs: list[ModelSpec] | None = config.getoption("llm_model")
    if not specs:
        try:
            specs = [parse_spec(line) for line in config.getini("llm_model")]
        except SpecError as exc:
            raise pytest.UsageError(f"ini llm_model: {exc}") from None
    specs = specs or [parse_spec("smollm2")]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.alias in seen:
            raise pytest.UsageError(f"--llm-model {spec.raw!r} and {seen[spec.alias]!r} share the alias "
                                    f"{spec.alias!r}; give one of them '?alias=NAME'")
        seen[spec.alias] = spec.raw
    return specs


def baseline_settings(config: pytest.Config) -> tuple[str, ModelSpec | None, bool]:
    """``(--llm-baseline, --llm-baseline-model, --llm-update-baseline)``, options over ini keys.

    Comparing and updating in one run is refused: a baseline is a fixed reference, and a
    run that both reads and rewrites it would compare against something it just changed.
    """
    folder = str(config.getoption("llm_baseline") or config.getini("llm_baseline") or "")
    model: ModelSpec | None = config.getoption("llm_baseline_model")
    if model is None and config.getini("llm_baseline_model"):
        try:
            model = parse_spec(str(config.getini("llm_baseline_model")))
        except SpecError as exc:
            raise pytest.UsageError(f"ini llm_baseline_model: {exc}") from None
    update = config.getoption("llm_update_baseline")
    update = bool(config.getini("llm_update_baseline")) if update is None else bool(update)
    if update and (folder or model is not None):
        raise pytest.UsageError("--llm-update-baseline writes a new baseline; it cannot be combined with "
                                "--llm-baseline or --llm-baseline-model, which compare against one")
    if folder and model is not None:
        raise pytest.UsageError("--llm-baseline (a stored baseline) and --llm-baseline-model (a baseline "
                                "generated in this run) are alternatives; give one of them")
    return folder, model, update


def parse_slice_option(text: str) -> tuple[str, str]:
    """``--llm-slice PATH`` or ``NAME=PATH``: ``(name, record path)`` every suite is sliced by."""
    try:
        return parse_slice(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--llm-slice {text!r}: {exc}") from None


def slice_settings(config: pytest.Config) -> list[tuple[str, str]]:
    """The ``--llm-slice`` slices (else ini ``llm_slices``, one per line), without clashing names."""
    given: list[tuple[str, str]] | None = config.getoption("llm_slice", None)
    where = "--llm-slice"
    if not given:
        where = "ini llm_slices"
        try:
            given = [parse_slice(line) for line in config.getini("llm_slices")]
        except ValueError as exc:
            raise pytest.UsageError(f"ini llm_slices: {exc}") from None
    try:
        return list(merge_slices(given or []).items())
    except ValueError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def check_settings(config: pytest.Config) -> None:
    """Cheap syntax checks at configure time: a bad ini value is a usage error, not a collection error."""
    cache = setting(config, "llm_cache")
    if cache not in CACHE_MODES:
        raise pytest.UsageError(f"ini llm_cache: expected one of {', '.join(CACHE_MODES)}, got {cache!r}")
    for name, parse in (("llm_seed", parse_seed), ("llm_repeats", parse_repeats),
                        ("llm_temperature", parse_temperature)):
        try:
            parse(setting(config, name))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"{name}: {exc}") from None
    shard_setting(config)
    model_specs(config)
    prompt_variant_settings(config)
    slice_settings(config)


def shard_setting(config: pytest.Config) -> Shard | None:
    """``--llm-shard K/N`` (or ini ``llm_shard``), parsed; None when the run is not sharded."""
    text = setting(config, "llm_shard").strip()
    if not text:
        return None
    try:
        return parse_shard(text)
    except ShardError as exc:
        raise pytest.UsageError(str(exc)) from None


@dataclass
class Settings:
    """Everything the session reads from options and ini keys, resolved once."""

    specs: list[ModelSpec]
    rootdir: Path
    invocation_dir: Path
    is_worker: bool
    worker_index: int
    worker_count: int
    cache_mode: str
    cache_dir: Path
    seed: int
    default_params: GenerationParams  # the run's generation defaults (--llm-seed, --llm-temperature)
    report_dir: Path
    baseline_dir: Path | None
    baseline_spec: ModelSpec | None
    update_baseline: bool
    gate_env: str
    history: bool
    rag_target: str
    shard: Shard | None = None
    prices: Any = None  # the price table (core.pricing.PriceTable) from the gate file, or None
    default_repeats: int = 1  # --llm-repeats: samples per case where a suite file says none
    prompt_variants: list[tuple[str, Path]] = field(default_factory=list)
    default_slices: list[tuple[str, str]] = field(default_factory=list)  # --llm-slice: every suite's slices

    @classmethod
    def from_config(cls, config: pytest.Config, specs: list[ModelSpec]) -> "Settings":
        rootdir = Path(config.rootpath)
        invocation_dir = Path(config.invocation_params.dir)
        is_worker = hasattr(config, "workerinput")
        worker_index, worker_count = 0, 1
        if is_worker:
            workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
            worker_index = int(str(workerinput.get("workerid", "gw0")).lstrip("gw") or 0)
            worker_count = int(workerinput.get("workercount", 1))
        seed = int(setting(config, "llm_seed"))
        option = config.getoption("llm_report_dir")
        report_dir = (Path(invocation_dir, option) if option else rootdir / config.getini("llm_report_dir")).resolve()
        baseline_dir, baseline_spec, update = _baseline(config, specs, rootdir, invocation_dir)
        return cls(
            specs=specs, rootdir=rootdir, invocation_dir=invocation_dir, is_worker=is_worker,
            worker_index=worker_index, worker_count=worker_count, cache_mode=setting(config, "llm_cache"),
            cache_dir=rootdir / config.getini("llm_cache_dir"), seed=seed,
            default_params=GenerationParams(max_new_tokens=int(config.getini("llm_max_new_tokens")), seed=seed,
                                            temperature=parse_temperature(setting(config, "llm_temperature"))),
            report_dir=report_dir, baseline_dir=baseline_dir, baseline_spec=baseline_spec, update_baseline=update,
            gate_env=setting(config, "llm_gate_env"),
            history=bool(config.getoption("llm_history") or config.getini("llm_history")),
            rag_target=str(config.getoption("llm_rag_pipeline") or config.getini("llm_rag_pipeline")),
            shard=shard_setting(config),
            prices=price_table(config),
            default_repeats=parse_repeats(setting(config, "llm_repeats")),
            prompt_variants=prompt_variant_settings(config),
            default_slices=slice_settings(config),
        )

    @property
    def all_specs(self) -> list[ModelSpec]:
        """The test subjects and, when given, the baseline model."""
        return self.specs + ([self.baseline_spec] if self.baseline_spec is not None else [])


def _baseline(config: pytest.Config, specs: list[ModelSpec], rootdir: Path,
              invocation_dir: Path) -> tuple[Path | None, ModelSpec | None, bool]:
    folder, spec, update = baseline_settings(config)
    directory = None
    if folder:
        base = invocation_dir if config.getoption("llm_baseline") else rootdir
        directory = (base / folder).resolve()
    if update and len(specs) > 1:
        raise pytest.UsageError("--llm-update-baseline stores one model's results as the baseline; "
                                f"this run has {len(specs)} --llm-model subjects")
    if spec is not None:
        # The baseline model is not a test subject: it gets its own alias in the engine.
        alias = spec.options.get("alias", "baseline")
        if alias in {s.alias for s in specs}:
            raise pytest.UsageError(f"--llm-baseline-model {spec.raw!r}: alias {alias!r} is also a --llm-model "
                                    "alias; give the baseline '?alias=NAME'")
        spec = ModelSpec(raw=spec.raw, provider=spec.provider, target=spec.target,
                         options={**spec.options, "alias": alias})
    return directory, spec, update


def gate_config_path(config: pytest.Config) -> Path | None:
    """The gate file named by ``--llm-gate-config`` or its ini key (None: the default lookup)."""
    option = config.getoption("llm_gate_config")
    if option:
        return Path(config.invocation_params.dir, option)
    if config.getini("llm_gate_config"):
        return Path(config.rootpath) / config.getini("llm_gate_config")
    return None


def price_table(config: pytest.Config) -> Any:
    """The run's price table (``prices:`` in the gate file), or None; a bad one is a usage error."""
    from pytest_llmops.gates.config import GateConfigError  # yaml: only once a run uses a model
    from pytest_llmops.gates.prices import load_price_table

    try:
        return load_price_table(Path(config.rootpath), gate_config_path(config))
    except GateConfigError as exc:
        raise pytest.UsageError(f"price table: {exc}") from None


def prompt_template_path(config: pytest.Config, item: pytest.Item) -> Path:
    """The template for the ``llm_prompt`` fixture: the test's marker, ``--llm-prompt`` or the ini key."""
    marker = item.get_closest_marker("llm_prompt")
    if marker is not None and marker.args:
        path = Path(str(item.path)).parent / str(marker.args[0])
    elif config.getoption("llm_prompt"):
        path = Path(config.invocation_params.dir, config.getoption("llm_prompt"))
    elif config.getini("llm_prompt"):
        path = Path(config.rootpath) / config.getini("llm_prompt")
    else:
        raise pytest.UsageError("llm_prompt: no template given; use @pytest.mark.llm_prompt(PATH), "
                                "--llm-prompt PATH or the llm_prompt ini key")
    if not path.is_file():
        raise pytest.UsageError(f"llm_prompt: template file {path} does not exist")
    return path
