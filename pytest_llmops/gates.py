"""Promotion gates: per-environment checks on a report's suite metrics.

A gate file (``llmops.yaml`` at the rootdir, or ``[tool.llmops]`` in ``pyproject.toml``)
names environments (dev, qa, prod, ...), each with checks such as
``functional/*: pass_rate.lb95 >= 0.8``. :func:`evaluate_gate` applies one environment's
checks to a canonical JSON report and decides ALLOW or BLOCK:

* checks compare the conservative side of an interval where the check names one
  (``X.lb95`` is the lower end of ``X``'s Wilson 95% interval, ``X.ub95`` the upper end);
* a check that cannot be decided (missing metric, no data, the value ``"inconclusive"``)
  is INCONCLUSIVE, and so is one that would pass on a suite with infra errors: an infra
  error never counts as a pass;
* an environment says whether INCONCLUSIVE blocks (``on_inconclusive``) and what a check
  matching no suite does (``on_missing``).

Only the standard library and PyYAML are imported here: the plugin and the ``llmops``
command load this module on every run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import hashlib
import json
import math
import operator
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

__all__ = [
    "ALLOW", "BLOCK", "CheckSpec", "EnvConfig", "GateConfig", "GateConfigError", "GateResult",
    "evaluate_gate", "format_gate_table", "gate_artifact", "gate_main", "load_gate_config",
    "parse_check", "write_gate_artifact",
]

ALLOW = "ALLOW"
BLOCK = "BLOCK"

PASS = "PASS"
FAIL = "FAIL"
INCONCLUSIVE = "INCONCLUSIVE"
SKIPPED = "SKIPPED"
MISSING = "MISSING"

GATE_FILE = "llmops.yaml"
PYPROJECT = "pyproject.toml"
ARTIFACT_SCHEMA_VERSION = 1

# Order matters only for display in error messages.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
    "==": operator.eq, "!=": operator.ne,
}
NUMERIC_OPS = frozenset({"<=", "<", ">=", ">"})
ON_INCONCLUSIVE = ("warn", "block")
ON_MISSING = ("skip", "warn", "block")

TOP_LEVEL_KEYS = ("environments",)
ENV_KEYS = ("description", "on_inconclusive", "on_missing", "checks")
LONG_CHECK_KEYS = ("suite", "metric", "op", "value")

_METRIC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*")
_OP_CHARS_RE = re.compile(r"[<>=!]+")
_MODEL_SUFFIX_RE = re.compile(r"\[[^\[\]]*\]$")
_INTERVAL_ENDS = {"lb95": 0, "ub95": 1}
# Checks on these metrics judge infra errors themselves, so a suite's infra errors do not
# turn their PASS into INCONCLUSIVE (``errors <= 2`` means what it says).
_ERROR_METRICS = frozenset({"errors", "error_rate"})


class GateConfigError(ValueError):
    """A gate file that cannot be used; the message names the file, environment and check."""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class CheckSpec:
    """One check: ``<suite glob>: <metric path> <op> <value>``."""

    text: str
    suite: str
    metric: str
    op: str
    value: Any  # a float for numeric operators; a float or str for == and !=
    index: int = 0


@dataclass
class EnvConfig:
    name: str
    on_inconclusive: str
    on_missing: str
    checks: list[CheckSpec]
    description: str | None = None


@dataclass
class GateConfig:
    source: str
    sha256: str
    environments: dict[str, EnvConfig] = field(default_factory=dict)


def _ops_list() -> str:
    return ", ".join(OPERATORS)


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (bools are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _threshold(raw: Any, op: str, quoted: bool) -> tuple[Any, str | None]:
    """The threshold for ``op`` and an error message (None when fine)."""
    if op in NUMERIC_OPS:
        number = None if quoted else _number(raw)
        if number is None:
            return None, f"threshold {raw!r} is not a number; {op} needs a number"
        return number, None
    if isinstance(raw, bool) or raw is None:
        return None, f"threshold {raw!r} must be a number or a word"
    if isinstance(raw, (int, float)):
        number = _number(raw)
        if number is None:
            return None, f"threshold {raw!r} is not a finite number"
        return number, None
    if not isinstance(raw, str) or not raw.strip():
        return None, f"threshold {raw!r} must be a number or a word"
    if not quoted:
        number = _number(raw)
        if number is not None:
            return number, None
    return raw.strip() if not quoted else raw, None


def _fmt_threshold(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def parse_check(raw: Any, index: int = 0) -> CheckSpec:
    """Parse one check (text or long form); raises ValueError with what was expected."""
    if isinstance(raw, str):
        return _parse_check_text(raw, index)
    if isinstance(raw, dict):
        return _parse_check_long(raw, index)
    raise ValueError(f"a check must be a string '<suite glob>: <metric> <op> <value>' or a mapping with "
                     f"keys {', '.join(LONG_CHECK_KEYS)}; got {type(raw).__name__}")


def _parse_check_text(text: str, index: int) -> CheckSpec:
    form = "expected '<suite glob>: <metric> <op> <value>', e.g. 'functional/*: pass_rate.lb95 >= 0.8'"
    glob, colon, rest = text.partition(":")
    glob = glob.strip()
    if not colon or not glob:
        raise ValueError(f"no suite pattern before ':'; {form}")
    rest = rest.strip()
    metric_match = _METRIC_RE.match(rest)
    if not metric_match:
        raise ValueError(f"no metric path after ':'; {form}")
    metric = metric_match.group(0)
    rest = rest[metric_match.end():].lstrip()
    op_match = _OP_CHARS_RE.match(rest)
    if not op_match:
        raise ValueError(f"no operator after metric {metric!r}; expected one of {_ops_list()}")
    op = op_match.group(0)
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}; expected one of {_ops_list()}")
    raw_value = rest[op_match.end():].strip()
    if not raw_value:
        raise ValueError(f"no value after {op!r}; {form}")
    quoted = len(raw_value) >= 2 and raw_value[0] == raw_value[-1] and raw_value[0] in "'\""
    if quoted:
        raw_value = raw_value[1:-1]
    elif any(ch.isspace() for ch in raw_value):
        raise ValueError(f"value {raw_value!r} has spaces; quote it")
    value, error = _threshold(raw_value, op, quoted)
    if error:
        raise ValueError(error)
    return CheckSpec(text=text.strip(), suite=glob, metric=metric, op=op, value=value, index=index)


def _parse_check_long(raw: dict[str, Any], index: int) -> CheckSpec:
    unknown = [str(k) for k in raw if k not in LONG_CHECK_KEYS]
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected {', '.join(LONG_CHECK_KEYS)}")
    missing = [k for k in LONG_CHECK_KEYS if k not in raw]
    if missing:
        raise ValueError(f"missing key(s) {', '.join(missing)}; a check needs {', '.join(LONG_CHECK_KEYS)}")
    glob, metric, op = raw["suite"], raw["metric"], raw["op"]
    if not isinstance(glob, str) or not glob.strip():
        raise ValueError(f"suite {glob!r} must be a non-empty glob string")
    if not isinstance(metric, str) or not _METRIC_RE.fullmatch(metric.strip()):
        raise ValueError(f"metric {metric!r} must be a dotted path such as pass_rate.lb95")
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}; expected one of {_ops_list()}")
    value, error = _threshold(raw["value"], op, quoted=False)
    if error:
        raise ValueError(error)
    glob, metric = glob.strip(), metric.strip()
    text = f"{glob}: {metric} {op} {_fmt_threshold(value)}"
    return CheckSpec(text=text, suite=glob, metric=metric, op=op, value=value, index=index)


def _check_label(raw: Any) -> str:
    if isinstance(raw, str):
        return repr(raw)
    try:
        return repr(json.dumps(raw, sort_keys=True, default=str))
    except (TypeError, ValueError):  # pragma: no cover - yaml gives plain data
        return repr(str(raw))


def _parse_env(name: str, raw: Any, where: str) -> EnvConfig:
    loc = f"{where}: environments.{name}"
    if raw is None or (isinstance(raw, dict) and not raw):
        raise GateConfigError(f"{loc}: environment is empty; expected a mapping with 'checks' (a non-empty list)")
    if not isinstance(raw, dict):
        raise GateConfigError(f"{loc}: expected a mapping with keys {', '.join(ENV_KEYS)}; got {type(raw).__name__}")
    unknown = [str(k) for k in raw if k not in ENV_KEYS]
    if unknown:
        raise GateConfigError(f"{loc}: unknown key(s) {', '.join(map(repr, unknown))}; expected {', '.join(ENV_KEYS)}")
    is_prod = name == "prod"
    on_inconclusive = raw.get("on_inconclusive", "block" if is_prod else "warn")
    if on_inconclusive not in ON_INCONCLUSIVE:
        raise GateConfigError(f"{loc}.on_inconclusive: {on_inconclusive!r}; expected one of {', '.join(ON_INCONCLUSIVE)}")
    on_missing = raw.get("on_missing", "block" if is_prod else "skip")
    if on_missing not in ON_MISSING:
        raise GateConfigError(f"{loc}.on_missing: {on_missing!r}; expected one of {', '.join(ON_MISSING)}")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise GateConfigError(f"{loc}.description: expected a string")
    checks_raw = raw.get("checks")
    if not isinstance(checks_raw, list) or not checks_raw:
        raise GateConfigError(f"{loc}.checks: expected a non-empty list of checks like "
                              f"'functional/*: pass_rate.lb95 >= 0.8'; got {checks_raw!r}")
    checks = []
    for index, item in enumerate(checks_raw):
        try:
            checks.append(parse_check(item, index))
        except ValueError as exc:
            raise GateConfigError(f"{loc}.checks[{index}]: {_check_label(item)}: {exc}") from None
    return EnvConfig(name=name, on_inconclusive=on_inconclusive, on_missing=on_missing, checks=checks,
                     description=description)


def parse_gate_config(data: Any, source: str, sha256: str = "") -> GateConfig:
    """Validate already-parsed gate data (the YAML document or ``[tool.llmops]``)."""
    if not isinstance(data, dict):
        raise GateConfigError(f"{source}: expected a mapping with 'environments'; got {type(data).__name__}")
    unknown = [str(k) for k in data if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise GateConfigError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
                              f"expected {', '.join(TOP_LEVEL_KEYS)}")
    envs = data.get("environments")
    if not isinstance(envs, dict) or not envs:
        raise GateConfigError(f"{source}: environments: expected a mapping of environment names (dev, qa, prod, ...) "
                              f"to their checks; got {envs!r}")
    environments: dict[str, EnvConfig] = {}
    for name, raw in envs.items():
        if not isinstance(name, str) or not name.strip():
            raise GateConfigError(f"{source}: environments: environment name {name!r} must be a non-empty string")
        environments[name] = _parse_env(name, raw, source)
    return GateConfig(source=source, sha256=sha256, environments=environments)


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _read_bytes(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise GateConfigError(f"{shown}: cannot read gate config: {exc.strerror or exc}") from None


def _load_toml(data: bytes, shown: str) -> dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef, import-not-found]
        except ModuleNotFoundError:
            raise GateConfigError(f"{shown}: reading TOML needs Python 3.11+ or the 'tomli' package; "
                                  f"use {GATE_FILE} instead") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise GateConfigError(f"{shown}: not valid TOML: {exc}") from None


def _from_pyproject(path: Path, data: bytes, shown: str, required: bool) -> GateConfig | None:
    doc = _load_toml(data, shown)
    section = doc.get("tool", {}).get("llmops") if isinstance(doc.get("tool"), dict) else None
    if section is None:
        if path.name != PYPROJECT and "environments" in doc:
            section = doc  # a standalone TOML gate file
        elif required:
            raise GateConfigError(f"{shown}: no [tool.llmops] table with gate environments")
        else:
            return None
    where = f"{shown} [tool.llmops]" if section is not doc else shown
    return parse_gate_config(section, where, hashlib.sha256(data).hexdigest())


def _from_yaml(data: bytes, shown: str) -> GateConfig:
    try:
        doc = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise GateConfigError(f"{shown}: not UTF-8 text: {exc}") from None
    except yaml.YAMLError as exc:
        raise GateConfigError(f"{shown}: not valid YAML: {exc}") from None
    if doc is None:
        raise GateConfigError(f"{shown}: file is empty; expected a mapping with 'environments'")
    return parse_gate_config(doc, shown, hashlib.sha256(data).hexdigest())


def load_gate_config(rootdir: Path, path: Path | None = None) -> GateConfig:
    """Load and validate the gate configuration.

    ``path`` if given (YAML, or TOML when it ends in ``.toml``); otherwise
    ``rootdir/llmops.yaml``; otherwise ``[tool.llmops]`` in ``rootdir/pyproject.toml``.
    """
    if path is not None:
        path = Path(path)
        shown = _display(path)
        if not path.is_file():
            raise GateConfigError(f"{shown}: gate config file not found")
        data = _read_bytes(path, shown)
        if path.suffix == ".toml":
            config = _from_pyproject(path, data, shown, required=True)
            assert config is not None
            return config
        return _from_yaml(data, shown)
    rootdir = Path(rootdir)
    gate_file = rootdir / GATE_FILE
    if gate_file.is_file():
        shown = _display(gate_file)
        return _from_yaml(_read_bytes(gate_file, shown), shown)
    pyproject = rootdir / PYPROJECT
    if pyproject.is_file():
        shown = _display(pyproject)
        config = _from_pyproject(pyproject, _read_bytes(pyproject, shown), shown, required=False)
        if config is not None:
            return config
    raise GateConfigError(f"no gate configuration: looked for {_display(gate_file)} and a [tool.llmops] table "
                          f"in {_display(pyproject)}; create {GATE_FILE} or pass --config PATH")


# --------------------------------------------------------------------------- evaluation


@dataclass
class GateResult:
    env: str
    decision: str
    checks: list[dict[str, Any]]
    warnings: list[str]
    config_source: str = ""
    config_sha256: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "decision": self.decision, "checks": [dict(c) for c in self.checks],
                "warnings": list(self.warnings),
                "config": {"source": self.config_source, "sha256": self.config_sha256}}


_MISSING = object()


def _literal_brackets(glob: str) -> str:
    """``glob`` with ``[`` taken literally, so ``*[smollm2]`` selects one model's suites."""
    return glob.replace("[", "[[]") if "[" in glob else glob


def _suite_matches(glob: str, key: str) -> bool:
    """fnmatch ``glob`` against the key, and against the key without its ``[model]`` suffix.

    Brackets are tried both as fnmatch character classes and literally.
    """
    patterns = {glob, _literal_brackets(glob)}
    bare = _MODEL_SUFFIX_RE.sub("", key)
    return any(fnmatch.fnmatchcase(name, pattern) for name in {key, bare} for pattern in patterns)


def resolve_metric(suite: dict[str, Any], metric: str) -> tuple[Any, Any, str | None]:
    """``(value, bound, problem)`` for ``metric`` in ``suite``.

    ``bound`` is what the check compares: the interval end for ``X.lb95``/``X.ub95``, the
    value otherwise. ``value`` is the metric's point value for context. ``problem`` says
    why nothing could be resolved (then value and bound are None).
    """
    parts = metric.split(".")
    metrics = suite.get("metrics")
    root: Any = metrics if isinstance(metrics, dict) and parts[0] in metrics else suite
    node: Any = root
    parent: Any = None
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if isinstance(node, dict) and part in node:
            parent, node = node, node[part]
            continue
        if last and part in _INTERVAL_ENDS and isinstance(node, dict) and "ci95" in node:
            ci = node["ci95"]
            if not isinstance(ci, (list, tuple)) or len(ci) != 2:
                return None, None, f"{'.'.join(parts[:-1])}.ci95 is not a [low, high] pair"
            return node.get("value"), ci[_INTERVAL_ENDS[part]], None
        prefix = ".".join(parts[:position]) or "the suite"
        return None, None, f"metric {metric!r} not in suite ({part!r} missing under {prefix})"
    if isinstance(node, dict):
        if "value" in node:
            return node["value"], node["value"], None
        return None, None, f"metric {metric!r} is a mapping without 'value'"
    if parts[-1] in _INTERVAL_ENDS and isinstance(parent, dict):
        return parent.get("value", node), node, None
    return node, node, None


def _is_inconclusive_marker(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "inconclusive"


def _compare(op: str, bound: Any, threshold: Any) -> tuple[bool | None, str]:
    """``(passed, reason)``; passed is None when the comparison cannot be made."""
    if op in NUMERIC_OPS:
        number = _number(bound) if not isinstance(bound, str) else None
        if number is None:
            return None, f"value {bound!r} is not a number"
        return OPERATORS[op](number, threshold), ""
    if isinstance(threshold, float):
        number = _number(bound)
        if number is None:
            return OPERATORS[op](str(bound), _fmt_threshold(threshold)), ""
        return OPERATORS[op](number, threshold), ""
    shown = str(bound).lower() if isinstance(bound, bool) else str(bound)
    return OPERATORS[op](shown, threshold), ""


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _row(check: CheckSpec, suite: str | None, value: Any, bound: Any, status: str, reason: str,
         blocking: bool) -> dict[str, Any]:
    return {"check": check.text, "suite": suite, "metric": check.metric, "op": check.op,
            "threshold": check.value, "value": value, "bound": bound, "status": status, "reason": reason,
            "blocking": blocking}


def _evaluate_one(check: CheckSpec, key: str, suite: dict[str, Any]) -> tuple[Any, Any, str, str]:
    value, bound, problem = resolve_metric(suite, check.metric)
    if problem:
        return None, None, INCONCLUSIVE, problem
    if bound is None or value is None and check.metric.split(".")[-1] in _INTERVAL_ENDS:
        n = suite.get("n")
        return value, bound, INCONCLUSIVE, f"no data for {check.metric}" + (f" (n={n})" if n is not None else "")
    if _is_inconclusive_marker(bound) or _is_inconclusive_marker(value):
        return value, bound, INCONCLUSIVE, f"{check.metric} is inconclusive"
    passed, problem = _compare(check.op, bound, check.value)
    if passed is None:
        return value, bound, INCONCLUSIVE, problem
    shown = f"{_fmt(bound)} {check.op} {_fmt_threshold(check.value)}"
    if not passed:
        return value, bound, FAIL, f"{shown} is false"
    errors = _number(suite.get("errors")) or 0.0
    if errors > 0 and check.metric.split(".")[0] not in _ERROR_METRICS:
        count = int(errors) if errors.is_integer() else errors
        return value, bound, INCONCLUSIVE, (f"{shown} holds, but the suite has {count} infra error"
                                            f"{'s' if count != 1 else ''}; an infra error never counts as a pass")
    return value, bound, PASS, shown


def evaluate_gate(report: dict[str, Any], config: GateConfig, env: str) -> GateResult:
    """Apply environment ``env`` of ``config`` to ``report`` (a canonical JSON report dict)."""
    envcfg = config.environments.get(env)
    if envcfg is None:
        known = ", ".join(config.environments) or "(none)"
        raise GateConfigError(f"{config.source}: unknown environment {env!r}; known environments: {known}")
    suites = report.get("suites") or {}
    if not isinstance(suites, dict):
        suites = {}
    inconclusive_blocks = envcfg.on_inconclusive == "block"
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    for check in envcfg.checks:
        matched = [key for key in suites if isinstance(key, str) and _suite_matches(check.suite, key)]
        if not matched:
            reason = f"no suite in the report matches {check.suite!r}"
            if envcfg.on_missing == "skip":
                rows.append(_row(check, None, None, None, SKIPPED, reason, False))
            elif envcfg.on_missing == "warn":
                rows.append(_row(check, None, None, None, INCONCLUSIVE, reason + " (on_missing: warn)", False))
                warnings.append(f"{check.text}: {reason}")
            else:
                rows.append(_row(check, None, None, None, MISSING, reason + " (on_missing: block)", True))
            continue
        for key in matched:
            suite = suites[key] if isinstance(suites[key], dict) else {}
            value, bound, status, reason = _evaluate_one(check, key, suite)
            blocking = status == FAIL or (status == INCONCLUSIVE and inconclusive_blocks)
            rows.append(_row(check, key, value, bound, status, reason, blocking))
            if status == INCONCLUSIVE and not inconclusive_blocks:
                warnings.append(f"{key}: {check.text}: {reason}")
    decision = BLOCK if any(r["blocking"] for r in rows) else ALLOW
    return GateResult(env=env, decision=decision, checks=rows, warnings=warnings,
                      config_source=config.source, config_sha256=config.sha256)


# --------------------------------------------------------------------------- output


def format_gate_table(result: GateResult) -> str:
    """A plain-text table of the check rows, ending with ``PROMOTION: ALLOW (env)``."""
    header = ("status", "suite", "check", "value", "bound", "threshold", "reason")
    body = []
    for row in result.checks:
        status = row["status"] + ("*" if row.get("blocking") else "")
        body.append((status, row["suite"] or "-", row["check"], _fmt(row["value"]), _fmt(row["bound"]),
                     _fmt_threshold(row["threshold"]) if row["threshold"] is not None else "-", row["reason"]))
    widths = [max(len(header[i]), *(len(r[i]) for r in body)) if body else len(header[i])
              for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths)) + "  " + cells[-1]

    source = result.config_source or "?"
    lines = [f"gate: env {result.env}, config {source}"
             + (f" (sha256 {result.config_sha256[:12]})" if result.config_sha256 else ""),
             line(header)]
    lines.extend(line(r) for r in body)
    if not body:
        lines.append("(no checks)")
    if any(r.get("blocking") for r in result.checks):
        lines.append("* blocks promotion")
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    lines.append(f"PROMOTION: {result.decision} ({result.env})")
    return "\n".join(lines)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def gate_artifact(result: GateResult, report: dict[str, Any], report_sha256: str) -> dict[str, Any]:
    """The small ``gate-<env>.json`` artifact: inputs' hashes, model fingerprints, decision."""
    run = report.get("run") or {}
    suites = report.get("suites") or {}
    inputs = {}
    for name, suite in suites.items():
        source = suite.get("source") if isinstance(suite, dict) else None
        inputs[name] = source.get("sha256") if isinstance(source, dict) else None
    models = [{"alias": m.get("alias"), "spec": m.get("spec"), "fingerprint": m.get("fingerprint")}
              for m in run.get("models") or [] if isinstance(m, dict)]
    return {
        "schema_version": ARTIFACT_SCHEMA_VERSION,
        "env": result.env,
        "decision": result.decision,
        "created_at": _utc_now(),
        "report_sha256": report_sha256,
        "config": {"source": result.config_source, "sha256": result.config_sha256},
        "inputs": inputs,
        "models": models,
        "git_sha": run.get("git_sha"),
        "checks": [dict(c) for c in result.checks],
        "warnings": list(result.warnings),
    }


def write_gate_artifact(path: Path, artifact: dict[str, Any]) -> Path:
    """Write ``artifact`` as JSON atomically (temp file + ``os.replace``); return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(artifact, out, indent=1, ensure_ascii=False)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# --------------------------------------------------------------------------- command


class _ReportLoadError(Exception):
    pass


def _load_report_bytes(path: Path) -> tuple[dict[str, Any], bytes]:
    from pytest_llmops.report import SCHEMA_VERSION

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _ReportLoadError(f"{path}: cannot read report: {exc.strerror or exc}") from None
    try:
        report = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _ReportLoadError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(report, dict) or report.get("schema_version") != SCHEMA_VERSION \
            or not isinstance(report.get("suites"), dict):
        raise _ReportLoadError(f"{path}: not an llmops report with schema_version {SCHEMA_VERSION}")
    return report, data


def _gate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmops gate",
        description="Apply an environment's promotion gate to a JSON report. "
                    "Exit 0: allow; 1: block; 2: usage or configuration error.")
    parser.add_argument("report", type=Path, help="the JSON report (reports/llmops-report.json)")
    parser.add_argument("--env", required=True, help="environment in the gate file (dev, qa, prod, ...)")
    parser.add_argument("--config", type=Path, default=None,
                        help=f"gate file (default: ./{GATE_FILE}, else [tool.llmops] in ./{PYPROJECT})")
    parser.add_argument("--out", type=Path, default=None, help="write the gate artifact (JSON) here")
    return parser


def gate_main(argv: Sequence[str] | None = None) -> int:
    """``llmops gate REPORT.json --env ENV [--config PATH] [--out PATH]``: 0 allow, 1 block, 2 error."""
    parser = _gate_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse prints its usage message; --help exits 0
        return 0 if exc.code in (0, None) else 2
    try:
        report, data = _load_report_bytes(args.report)
    except _ReportLoadError as exc:
        print(f"llmops gate: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_gate_config(Path.cwd(), args.config)
        result = evaluate_gate(report, config, args.env)
    except GateConfigError as exc:
        print(f"llmops gate: {exc}", file=sys.stderr)
        return 2
    print(format_gate_table(result))
    if args.out is not None:
        artifact = gate_artifact(result, report, hashlib.sha256(data).hexdigest())
        try:
            write_gate_artifact(args.out, artifact)
        except OSError as exc:
            print(f"llmops gate: {args.out}: cannot write gate artifact: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0 if result.decision == ALLOW else 1
