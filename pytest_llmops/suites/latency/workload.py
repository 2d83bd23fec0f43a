"""The fixed workload of a latency suite: prompt sets, output length, warm-up, levels, budgets.

A ``kind: latency`` file::

    workload:
      sets: [short, medium, long]   # fixtures/latency/NAME.yaml above the file, or {name: path}
      requests: 20                  # measured requests per set and concurrency level
      warmup: 1                     # discarded requests before each set is measured
      output_tokens: 8              # fixed output length (min = max new tokens)
      fixed_output: true            # false: let the model stop at EOS
    concurrency: [1, 4, 16]         # openai subjects; other subjects are measured at 1
    budgets:                        # per environment (--llm-gate-env, else dev), in ms
      dev: {ttft_ms: {p95: 2000}, e2e_ms: {p95: 10000}}
    baseline:
      tolerance: 0.10               # a median ratio above 1.10 (whole CI) is "regressed"
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from pytest_llmops.suites.kinds import Fail

METRICS = ("ttft_ms", "tpot_ms", "e2e_ms", "itl_ms")
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
DEFAULT_ENV = "dev"
_WORKLOAD_KEYS = {"sets", "requests", "warmup", "output_tokens", "fixed_output"}
WARMUP_PROMPT = "Warm-up request, not measured: list three colours."


def _whole(value: Any, field: str, fail: Fail, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(field, f"expected a whole number of at least {minimum}, got {value!r}")
    return value


def _find_upwards(start: Path, relative: str) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / relative).exists():
            return folder / relative
    return None


def load_prompt_set(path: Path) -> list[str]:
    """A prompt set file: a YAML list of prompts, or a mapping with a ``prompts`` list."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("prompts")
    if not isinstance(data, list) or not data or not all(isinstance(p, str) and p.strip() for p in data):
        raise ValueError(f"{path}: expected a non-empty list of prompt strings (or 'prompts: [...]')")
    return list(data)


def parse_sets(raw: Any, suite_path: Path, fail: Fail) -> dict[str, list[str]]:
    """``{set name: prompts}`` from a list of names (looked up in fixtures/latency) or a name -> path mapping."""
    if isinstance(raw, list) and raw and all(isinstance(n, str) for n in raw):
        folder = _find_upwards(suite_path.parent, "fixtures/latency")
        if folder is None:
            raise fail("workload.sets", f"no fixtures/latency folder above {suite_path.parent}; give "
                                        "'sets: {name: path}' instead")
        paths = {name: folder / f"{name}.yaml" for name in raw}
    elif isinstance(raw, dict) and raw:
        paths = {str(name): (suite_path.parent / str(p)).resolve() for name, p in raw.items()}
    else:
        raise fail("workload.sets", "expected a list of prompt set names or a mapping name -> file")
    sets = {}
    for name, path in paths.items():
        if not path.is_file():
            raise fail(f"workload.sets.{name}", f"{path} does not exist")
        try:
            sets[name] = load_prompt_set(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise fail(f"workload.sets.{name}", str(exc)) from None
    return sets


def parse_budgets(raw: Any, fail: Fail) -> dict[str, dict[str, dict[str, float]]]:
    """``{env: {metric: {percentile: ms}}}``, every entry validated."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail("budgets", "expected a mapping environment -> {metric: {percentile: milliseconds}}")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for env, metrics in raw.items():
        if not isinstance(metrics, dict):
            raise fail(f"budgets.{env}", "expected a mapping metric -> {percentile: milliseconds}")
        out[str(env)] = {}
        for metric, levels in metrics.items():
            if metric not in METRICS:
                raise fail(f"budgets.{env}.{metric}", f"unknown metric; expected one of {list(METRICS)}")
            if not isinstance(levels, dict) or not levels:
                raise fail(f"budgets.{env}.{metric}", "expected a mapping such as {p95: 200}")
            for name, value in levels.items():
                if name not in PERCENTILES:
                    raise fail(f"budgets.{env}.{metric}.{name}", f"expected one of {list(PERCENTILES)}")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise fail(f"budgets.{env}.{metric}.{name}", f"expected a positive number of ms, got {value!r}")
            out[str(env)][metric] = {name: float(v) for name, v in levels.items()}
    return out


def parse_levels(raw: Any, fail: Fail) -> list[int]:
    levels = [1] if raw is None else raw
    if isinstance(levels, int) and not isinstance(levels, bool):
        levels = [levels]
    if not isinstance(levels, list) or not levels:
        raise fail("concurrency", "expected a list of concurrency levels such as [1, 4, 16]")
    for position, level in enumerate(levels):
        _whole(level, f"concurrency[{position}]", fail, 1)
    if len(set(levels)) != len(levels):
        raise fail("concurrency", "a level is listed twice")
    return sorted(levels)


def parse_workload(data: dict[str, Any], suite_path: Path, fail: Fail) -> dict[str, Any]:
    """Everything a latency case needs, validated, as plain JSON-able data."""
    raw = data.get("workload")
    if not isinstance(raw, dict):
        raise fail("workload", "a latency suite needs 'workload:' with 'sets' (prompt sets) and 'requests'")
    unknown = set(raw) - _WORKLOAD_KEYS
    if unknown:
        raise fail(f"workload.{min(unknown)}", f"unknown key; expected one of {sorted(_WORKLOAD_KEYS)}")
    sets = parse_sets(raw.get("sets"), suite_path, fail)
    fixed = raw.get("fixed_output", True)
    if not isinstance(fixed, bool):
        raise fail("workload.fixed_output", "expected true or false")
    baseline = data.get("baseline") or {}
    if not isinstance(baseline, dict) or set(baseline) - {"tolerance"}:
        raise fail("baseline", "expected a mapping with 'tolerance' (for example 0.10)")
    tolerance = baseline.get("tolerance", 0.10)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 10:
        raise fail("baseline.tolerance", f"expected a number such as 0.10, got {tolerance!r}")
    workload = {
        "sets": sets,
        "requests": _whole(raw.get("requests", 20), "workload.requests", fail, 1),
        "warmup": _whole(raw.get("warmup", 1), "workload.warmup", fail, 0),
        "output_tokens": _whole(raw.get("output_tokens", 16), "workload.output_tokens", fail, 1),
        "fixed_output": fixed,
        "concurrency": parse_levels(data.get("concurrency"), fail),
        "budgets": parse_budgets(data.get("budgets"), fail),
        "tolerance": float(tolerance),
    }
    # What a stored baseline must share with this run to be comparable (budgets may change).
    measured = {k: workload[k] for k in ("sets", "output_tokens", "fixed_output")}
    workload["sha256"] = hashlib.sha256(json.dumps(measured, sort_keys=True).encode()).hexdigest()
    return workload


def request_budget(budgets: dict[str, dict[str, float]]) -> dict[str, float]:
    """Per-request limits for goodput: each metric's budget at its highest listed percentile.

    A request is "good" when every one of its figures is within these (vLLM's goodput takes
    one limit per metric; with ``{p50: 100, p95: 200}`` the tail limit, 200, is the one a
    single request can be held to).
    """
    out = {}
    for metric, levels in budgets.items():
        top = max(levels, key=lambda name: PERCENTILES[name])
        out[metric] = levels[top]
    return out
