"""Gate files: parsing and validating environments and their checks."""


from __future__ import annotations

import hashlib
import json
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from pytest_llmops.core.pricing import PriceTable, PriceTableError, parse_price_table

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

TOP_LEVEL_KEYS = ("environments", "prices")  # prices: see core/pricing.py
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
class GateCheck:
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
    checks: list[GateCheck]
    description: str | None = None


@dataclass
class GateConfig:
    source: str
    sha256: str
    environments: dict[str, EnvConfig] = field(default_factory=dict)
    prices: PriceTable | None = None  # the ``prices:`` table, when the file has one


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


def parse_check(raw: Any, index: int = 0) -> GateCheck:
    """Parse one check (text or long form); raises ValueError with what was expected."""
    if isinstance(raw, str):
        return _parse_check_text(raw, index)
    if isinstance(raw, dict):
        return _parse_check_long(raw, index)
    raise ValueError(f"a check must be a string '<suite glob>: <metric> <op> <value>' or a mapping with "
                     f"keys {', '.join(LONG_CHECK_KEYS)}; got {type(raw).__name__}")


def _parse_check_text(text: str, index: int) -> GateCheck:
    form = "expected '<suite glob>: <metric> <op> <value>', e.g. 'qa/*: pass_rate.lb95 >= 0.8'"
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
    return GateCheck(text=text.strip(), suite=glob, metric=metric, op=op, value=value, index=index)


def _parse_check_long(raw: dict[str, Any], index: int) -> GateCheck:
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
    return GateCheck(text=text, suite=glob, metric=metric, op=op, value=value, index=index)


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
                              f"'qa/*: pass_rate.lb95 >= 0.8'; got {checks_raw!r}")
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
    prices = None
    if "prices" in data:
        try:
            prices = parse_price_table(data["prices"], f"{source}: prices")
        except PriceTableError as exc:
            raise GateConfigError(str(exc)) from None
    return GateConfig(source=source, sha256=sha256, environments=environments, prices=prices)


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


