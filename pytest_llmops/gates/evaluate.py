"""Applying an environment's checks to a report: decisions, the table, the artifact."""


from __future__ import annotations

import datetime as _dt
import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


from pytest_llmops.core.atomic import write_atomic
from pytest_llmops.gates.config import (
    ALLOW, ARTIFACT_SCHEMA_VERSION, BLOCK, FAIL, INCONCLUSIVE, MISSING, NUMERIC_OPS, OPERATORS, PASS, SKIPPED,
    GateCheck, GateConfig, GateConfigError, _ERROR_METRICS, _INTERVAL_ENDS, _MODEL_SUFFIX_RE, _fmt_threshold,
    _number,
)

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


def _row(check: GateCheck, suite: str | None, value: Any, bound: Any, status: str, reason: str,
         blocking: bool) -> dict[str, Any]:
    return {"check": check.text, "suite": suite, "metric": check.metric, "op": check.op,
            "threshold": check.value, "value": value, "bound": bound, "status": status, "reason": reason,
            "blocking": blocking}


def _completeness_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A blocking row when the run that wrote ``report`` did not finish: a gate never ALLOWs
    a report with cases missing (an interrupt, a crashed worker, ``-x``), whatever its checks say."""
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    if run.get("complete", True) is not False:
        return []
    reasons = [str(r) for r in run.get("incomplete") or []] or ["the report says it is incomplete"]
    return [{"check": "report complete", "suite": None, "metric": "run.complete", "op": "==", "threshold": True,
             "value": False, "bound": None, "status": FAIL, "reason": "; ".join(reasons), "blocking": True}]


def _evaluate_one(check: GateCheck, key: str, suite: dict[str, Any]) -> tuple[Any, Any, str, str]:
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
    rows[:0] = _completeness_rows(report)
    decision = BLOCK if any(r["blocking"] for r in rows) else ALLOW
    return GateResult(env=env, decision=decision, checks=rows, warnings=warnings,
                      config_source=config.source, config_sha256=config.sha256)


# --------------------------------------------------------------------------- output


def format_gate_table(result: GateResult, every_row: bool = False) -> str:
    """A plain-text table of the check rows, ending with ``PROMOTION: ALLOW (env)``.

    What blocks comes first, then what did not pass without blocking (inconclusive, missing,
    skipped), then what passed, so the reasons are on the first screen. A check that passed
    on several suites is one line ("PASS  39 suites") unless ``every_row``; the JSON report
    and the gate artifact always have every row.
    """
    header = ("status", "suite", "check", "value", "bound", "threshold", "reason")

    def cells(row: dict[str, Any]) -> tuple[str, ...]:
        status = row["status"] + ("*" if row.get("blocking") else "")
        return (status, row["suite"] or "-", row["check"], _fmt(row["value"]), _fmt(row["bound"]),
                _fmt_threshold(row["threshold"]) if row["threshold"] is not None else "-", row["reason"])

    blocking = [r for r in result.checks if r.get("blocking")]
    other = [r for r in result.checks if not r.get("blocking") and r["status"] != PASS]
    passed = [r for r in result.checks if not r.get("blocking") and r["status"] == PASS]
    body = [cells(r) for r in blocking + other]
    if every_row:
        body.extend(cells(r) for r in passed)
    else:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in passed:
            groups.setdefault(row["check"], []).append(row)
        for check, rows in groups.items():
            if len(rows) == 1:
                body.append(cells(rows[0]))
            else:
                body.append((PASS, f"{len(rows)} suites", check, "-", "-",
                             _fmt_threshold(rows[0]["threshold"]) if rows[0]["threshold"] is not None else "-",
                             "passes on every suite it matched (--every-row lists them)"))
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
    return write_atomic(Path(path), json.dumps(artifact, indent=1, ensure_ascii=False) + "\n")


