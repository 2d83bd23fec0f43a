"""What a report says about the run that made it: models and fingerprints, engine counters,
versions, git commit, device. Read by ``llmops diff`` and the gate artifact to tell runs apart.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from pytest_llmops.core.engine import Engine, ModelStats
from pytest_llmops.core.specs import ModelSpec

EngineCounters = dict[str, dict[str, float]]


def engine_counters(engine: Engine | None) -> EngineCounters:
    """Per model alias: generated, served from cache, infra errors, generation and load seconds."""
    if engine is None:
        return {}
    out = {}
    for alias in engine.aliases:
        stats: ModelStats = engine.stats(alias)
        out[alias] = {"generated": stats.generated, "cache_hits": stats.cache_hits,
                      "infra_errors": stats.infra_errors, "generate_s": round(stats.generate_seconds, 4),
                      "load_s": round(stats.load_seconds, 4)}
    return out


def merge_counters(into: EngineCounters, more: EngineCounters) -> None:
    """Add one xdist worker's counters to the controller's running totals."""
    for alias, values in more.items():
        merged = into.setdefault(alias, {})
        for key, value in values.items():
            merged[key] = merged.get(key, 0) + value


def model_entries(specs: list[ModelSpec], baseline: ModelSpec | None, engine: Callable[[], Engine],
                  existing_engine: Callable[[], Engine | None]) -> list[dict[str, Any]]:
    """The report's ``run.models``: each subject (and the baseline model) with its fingerprint.

    ``engine()`` creates the engine if needed (a fingerprint may need the model's files);
    ``existing_engine()`` is the engine only if one exists, so nothing is loaded just to describe it.
    """
    def fingerprint_of(spec: ModelSpec) -> str:
        try:
            return str(engine().fingerprint(spec.alias))
        except Exception as exc:  # noqa: BLE001 - the report must still be written
            return f"unavailable: {type(exc).__name__}"

    def described(spec: ModelSpec) -> dict[str, Any]:
        current = existing_engine()
        return {k: v for k, v in current.describe(spec.alias).items() if k != "provider"} if current else {}

    models = [{"alias": s.alias, "spec": s.raw, "fingerprint": fingerprint_of(s), **described(s)} for s in specs]
    if baseline is not None and existing_engine() is not None:
        models.append({"alias": baseline.alias, "spec": baseline.raw, "fingerprint": fingerprint_of(baseline),
                       "role": "baseline", **described(baseline)})
    return models


def environment(devices: set[str], gpus: set[str]) -> dict[str, Any]:
    """Python, torch and transformers versions, platform, and the device the records ran on."""
    return {"python": platform.python_version(), "torch": dist_version("torch"),
            "transformers": dist_version("transformers"), "platform": platform.platform(),
            "device": "cuda" if "cuda" in devices else ("cpu" if "cpu" in devices or not devices
                                                         else sorted(devices)[0]),
            "gpu": sorted(gpus)[0] if gpus else None}


def dist_version(name: str) -> str | None:
    """An installed distribution's version, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_sha(rootdir: Path) -> str | None:
    """The commit checked out at ``rootdir``, or None outside git."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=rootdir, capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None
