"""Promotion gates: config loading and validation, check evaluation, table, artifact, command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.gates import (
    GateConfig,
    GateConfigError,
    evaluate_gate,
    format_gate_table,
    gate_artifact,
    load_gate_config,
    parse_check,
    write_gate_artifact,
)
from pytest_llmops.cli.gate import gate_main
from pytest_llmops.core.stats import rate_metric, wilson_interval

REPO_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


def functional_suite(passed: int, failed: int = 0, errors: int = 0, model: str = "m1",
                     kind: str = "functional", sha: str | None = None) -> dict[str, Any]:
    n = passed + failed + errors
    suite: dict[str, Any] = {
        "kind": kind, "model": model, "n": n, "passed": passed, "failed": failed, "errors": errors,
        "skipped": 0, "cached": 0,
        "metrics": {"pass_rate": rate_metric(passed, passed + failed), "error_rate": rate_metric(errors, n)},
    }
    if sha is not None:
        suite["source"] = {"path": "x.eval.yaml", "sha256": sha}
    return suite


def make_report(suites: dict[str, Any], models: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run": {"started_at": "2024-01-01T00:00:00Z", "git_sha": "abc123", "plugin_version": "0.1.0",
                "models": models if models is not None else
                [{"alias": "m1", "spec": "echo:m1", "fingerprint": "f" * 64}],
                "env": {"python": "3.11", "torch": None, "device": "cpu", "gpu": None}},
        "suites": suites,
        "cases": [],
    }


def config_from(tmp_path: Path, text: str, name: str = "llmops.yaml") -> GateConfig:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_gate_config(tmp_path, path)


def env_config(tmp_path: Path, *checks: str, env: str = "dev", extra: str = "") -> GateConfig:
    lines = ["environments:", f"  {env}:"]
    lines += [f"    {line}" for line in extra.splitlines() if line.strip()]
    lines.append("    checks:")
    lines += [f"      - {json.dumps(c)}" for c in checks]
    return config_from(tmp_path, "\n".join(lines) + "\n")


def gate(tmp_path: Path, report: dict[str, Any], *checks: str, env: str = "dev", extra: str = ""):
    return evaluate_gate(report, env_config(tmp_path, *checks, env=env, extra=extra), env)


def statuses(result) -> list[tuple[Any, str]]:
    return [(row["suite"], row["status"]) for row in result.checks]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text, op, value", [
    ("s: m <= 1", "<=", 1.0), ("s: m < 1", "<", 1.0), ("s: m >= 0.5", ">=", 0.5),
    ("s: m > -2", ">", -2.0), ("s: m == 3", "==", 3.0), ("s: m != 3", "!=", 3.0),
    ("s: decision != regressed", "!=", "regressed"), ("s: decision == 'no change'", "==", "no change"),
    ('s: decision == "5"', "==", "5"), ("s: m>=0.5", ">=", 0.5), ("s: m >= 1e-3", ">=", 0.001),
])
def test_parse_check_text(text: str, op: str, value: Any) -> None:
    check = parse_check(text)
    assert check.op == op
    assert check.value == value
    assert type(check.value) is type(value)
    assert check.suite == "s"
    assert check.text == text


def test_parse_check_long_form() -> None:
    check = parse_check({"suite": "adversarial/*", "metric": "attack_success_rate.ub95", "op": "<=", "value": 0.2})
    assert (check.suite, check.metric, check.op, check.value) == ("adversarial/*", "attack_success_rate.ub95", "<=", 0.2)
    assert check.text == "adversarial/*: attack_success_rate.ub95 <= 0.2"
    assert parse_check({"suite": "r/*", "metric": "decision", "op": "!=", "value": "regressed"}).value == "regressed"


@pytest.mark.parametrize("raw, expected", [
    ("s: m >> 0.8", "unknown operator '>>'; expected one of <=, <, >=, >, ==, !="),
    ("s: m => 0.8", "unknown operator '=>'"),
    ("s: m = 0.8", "unknown operator '='"),
    ("s: m >= high", "not a number; >= needs a number"),
    ("s: m < '0.5'", "not a number"),
    ("m >= 0.8", "no suite pattern"),
    ("s: m", "no operator"),
    ("s: m >=", "no value"),
    ("s: >= 1", "no metric"),
    ("s: d == two words", "quote it"),
    ({"suite": "s", "metric": "m", "op": ">>", "value": 1}, "unknown operator '>>'"),
    ({"suite": "s", "metric": "m", "op": ">=", "value": "x"}, "not a number"),
    ({"suite": "s", "metric": "m", "op": ">=", "value": True}, "not a number"),
    ({"suite": "s", "metric": "m", "op": ">="}, "missing key(s) value"),
    ({"suite": "s", "metric": "m", "op": ">=", "value": 1, "why": 2}, "unknown key(s) 'why'"),
    (42, "a check must be a string"),
])
def test_parse_check_errors(raw: Any, expected: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_check(raw)
    assert expected in str(info.value)


# --------------------------------------------------------------------------- config errors


def test_config_error_names_file_env_index_check_and_expectation(tmp_path: Path) -> None:
    text = """
environments:
  dev:
    checks: ["functional/*: pass_rate.lb95 >= 0.3"]
  prod:
    checks:
      - "functional/*: errors == 0"
      - "functional/*: pass_rate.lb95 >= 0.8"
      - "functional/*: pass_rate.lb95 >> 0.8"
"""
    with pytest.raises(GateConfigError) as info:
        config_from(tmp_path, text)
    message = str(info.value)
    assert "llmops.yaml: environments.prod.checks[2]: 'functional/*: pass_rate.lb95 >> 0.8': " \
           "unknown operator '>>'; expected one of <=, <, >=, >, ==, !=" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("body, expected", [
    ("environments:\n  dev:\n    checks: ['s: m >= x']\n", "environments.dev.checks[0]: 's: m >= x': threshold"),
    ("environments:\n  dev:\n    checkz: ['s: m >= 1']\n", "environments.dev: unknown key(s) 'checkz'"),
    ("environments:\n  dev:\n    on_inconclusive: maybe\n    checks: ['s: m >= 1']\n",
     "environments.dev.on_inconclusive: 'maybe'; expected one of warn, block"),
    ("environments:\n  qa:\n    on_missing: ignore\n    checks: ['s: m >= 1']\n",
     "environments.qa.on_missing: 'ignore'; expected one of skip, warn, block"),
    ("environments:\n  dev:\n", "environments.dev: environment is empty"),
    ("environments:\n  dev: {}\n", "environments.dev: environment is empty"),
    ("environments:\n  dev:\n    checks: []\n", "environments.dev.checks: expected a non-empty list"),
    ("environments:\n  dev:\n    on_missing: warn\n", "environments.dev.checks: expected a non-empty list"),
    ("environments:\n  dev: [1, 2]\n", "environments.dev: expected a mapping"),
    ("environments: {}\n", "environments: expected a mapping of environment names"),
    ("gates:\n  dev: {}\n", "unknown key(s) 'gates'; expected environments"),
    ("- just a list\n", "expected a mapping with 'environments'"),
    ("", "file is empty"),
    ("environments: [unclosed\n", "not valid YAML"),
    ("environments:\n  dev:\n    checks:\n      - {suite: 's', metric: m, op: '>=', value: 1, extra: 1}\n",
     "environments.dev.checks[0]: "),
])
def test_config_errors(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(GateConfigError) as info:
        config_from(tmp_path, body)
    message = str(info.value)
    assert "llmops.yaml" in message
    assert expected in message


def test_long_form_check_error_names_keys(tmp_path: Path) -> None:
    body = "environments:\n  dev:\n    checks:\n      - {suite: 's', metric: m, op: '>=', value: 1, extra: 1}\n"
    with pytest.raises(GateConfigError, match=r"environments\.dev\.checks\[0\]: .*unknown key\(s\) 'extra'"):
        config_from(tmp_path, body)


def test_unknown_env_lists_known_envs(tmp_path: Path) -> None:
    config = env_config(tmp_path, "s: m >= 1", env="dev")
    with pytest.raises(GateConfigError) as info:
        evaluate_gate(make_report({}), config, "staging")
    assert "unknown environment 'staging'" in str(info.value)
    assert "known environments: dev" in str(info.value)
    assert "llmops.yaml" in str(info.value)


# --------------------------------------------------------------------------- loading


def test_load_prefers_llmops_yaml_in_rootdir(tmp_path: Path) -> None:
    data = "environments:\n  dev:\n    checks: ['functional/*: pass_rate.lb95 >= 0.3']\n"
    (tmp_path / "llmops.yaml").write_text(data)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.llmops.environments.other]\nchecks = ["x: m >= 1"]\n')
    config = load_gate_config(tmp_path)
    assert config.source.endswith("llmops.yaml")
    assert config.sha256 == hashlib.sha256(data.encode()).hexdigest()
    assert list(config.environments) == ["dev"]
    dev = config.environments["dev"]
    assert dev.checks[0].metric == "pass_rate.lb95"
    assert dev.checks[0].value == 0.3


def test_load_from_pyproject_tool_llmops(tmp_path: Path) -> None:
    toml = """
[project]
name = "x"

[tool.llmops.environments.dev]
on_inconclusive = "block"
checks = ["functional/*: pass_rate.lb95 >= 0.6",
          {suite = "adversarial/*", metric = "attack_success_rate.ub95", op = "<=", value = 0.2}]

[tool.llmops.environments.prod]
checks = ["regression/*: decision != regressed"]
"""
    (tmp_path / "pyproject.toml").write_text(toml)
    config = load_gate_config(tmp_path)
    assert "pyproject.toml" in config.source and "[tool.llmops]" in config.source
    assert config.sha256 == hashlib.sha256(toml.encode()).hexdigest()
    dev, prod = config.environments["dev"], config.environments["prod"]
    assert dev.on_inconclusive == "block"
    assert dev.on_missing == "skip"
    assert [c.op for c in dev.checks] == [">=", "<="]
    assert (prod.on_inconclusive, prod.on_missing) == ("block", "block")


def test_pyproject_error_names_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.llmops.environments.qa]\nchecks = ["s: m ~ 1"]\n')
    with pytest.raises(GateConfigError) as info:
        load_gate_config(tmp_path)
    message = str(info.value)
    assert "pyproject.toml [tool.llmops]: environments.qa.checks[0]: 's: m ~ 1': no operator" in message


def test_explicit_toml_path(tmp_path: Path) -> None:
    path = tmp_path / "gates.toml"
    path.write_text('[environments.dev]\nchecks = ["s: m >= 1"]\n')
    config = load_gate_config(tmp_path / "elsewhere", path)
    assert list(config.environments) == ["dev"]


def test_nothing_found_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(GateConfigError) as info:
        load_gate_config(tmp_path)
    message = str(info.value)
    assert "llmops.yaml" in message and "[tool.llmops]" in message and "pyproject.toml" in message


def test_explicit_path_missing(tmp_path: Path) -> None:
    with pytest.raises(GateConfigError, match="nope.yaml: gate config file not found"):
        load_gate_config(tmp_path, tmp_path / "nope.yaml")


def test_env_defaults_prod_blocks_others_warn(tmp_path: Path) -> None:
    config = config_from(tmp_path, """
environments:
  dev: {checks: ["s: m >= 1"]}
  qa: {checks: ["s: m >= 1"]}
  prod: {checks: ["s: m >= 1"]}
""")
    envs = config.environments
    assert (envs["dev"].on_inconclusive, envs["dev"].on_missing) == ("warn", "skip")
    assert (envs["qa"].on_inconclusive, envs["qa"].on_missing) == ("warn", "skip")
    assert (envs["prod"].on_inconclusive, envs["prod"].on_missing) == ("block", "block")


def test_prod_defaults_block_on_inconclusive_and_missing(tmp_path: Path) -> None:
    report = make_report({"functional/a": functional_suite(20, errors=1)})
    dev = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.5", "latency/*: ttft_ms.p95.ub95 <= 300")
    assert dev.decision == "ALLOW"
    assert statuses(dev) == [("functional/a", "INCONCLUSIVE"), (None, "SKIPPED")]
    prod = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.5", "latency/*: ttft_ms.p95.ub95 <= 300",
                env="prod")
    assert prod.decision == "BLOCK"
    assert statuses(prod) == [("functional/a", "INCONCLUSIVE"), (None, "MISSING")]


# --------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize("op, threshold, passes", [
    ("<=", 5, True), ("<=", 4.9, False), ("<", 5.1, True), ("<", 5, False),
    (">=", 5, True), (">=", 5.1, False), (">", 4.9, True), (">", 5, False),
    ("==", 5, True), ("==", 4, False), ("!=", 4, True), ("!=", 5, False),
])
def test_each_operator(tmp_path: Path, op: str, threshold: float, passes: bool) -> None:
    suite = functional_suite(3)
    suite["metrics"]["score"] = {"value": 5.0}
    result = gate(tmp_path, make_report({"functional/a": suite}), f"functional/*: score {op} {threshold}")
    [row] = result.checks
    assert row["status"] == ("PASS" if passes else "FAIL")
    assert row["bound"] == 5.0 and row["value"] == 5.0
    assert row["op"] == op and row["threshold"] == float(threshold)
    assert result.decision == ("ALLOW" if passes else "BLOCK")


def test_lb95_and_ub95_use_the_interval(tmp_path: Path) -> None:
    suite = functional_suite(2)  # 2/2: value 1.0, ci95 [0.342, 1.0]
    report = make_report({"functional/a": suite})
    low = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3")
    [row] = low.checks
    assert row["status"] == "PASS"
    assert row["value"] == 1.0
    assert row["bound"] == pytest.approx(0.342380, abs=1e-6)
    strict = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.6")
    assert strict.checks[0]["status"] == "FAIL" and strict.decision == "BLOCK"
    # The point value alone would pass: the gate does not use it when lb95 is asked for.
    assert gate(tmp_path, report, "functional/*: pass_rate >= 0.6").checks[0]["status"] == "PASS"
    adversarial = {"kind": "adversarial", "n": 40, "errors": 0,
                   "metrics": {"attack_success_rate": {"value": 0.0, "ci95": [0.0, 0.0876], "n": 40}}}
    result = gate(tmp_path, make_report({"adversarial/jailbreak": adversarial}),
                  "adversarial/*: attack_success_rate.ub95 <= 0.05",
                  "adversarial/*: attack_success_rate.ub95 <= 0.1")
    assert [r["status"] for r in result.checks] == ["FAIL", "PASS"]
    assert result.checks[0]["bound"] == 0.0876 and result.checks[0]["value"] == 0.0


def test_repeat_metrics_gate_on_their_interval_ends(tmp_path: Path) -> None:
    """Flakiness and the pass fraction (suites run with repeats) gate like any rate: by the
    conservative end of their 95% interval; a suite without repeats has no such metric."""
    from pytest_llmops.suites.repeats_metrics import pass_fraction_metric

    flaky = functional_suite(8, 2)
    flaky["metrics"].update(flakiness={**rate_metric(1, 10), "flaky": 1, "k": [5]},
                            pass_fraction=pass_fraction_metric([1.0] * 8 + [0.6, 0.4], 50))
    report = make_report({"functional/a": flaky, "functional/b": functional_suite(10)})
    result = gate(tmp_path, report, "functional/a: flakiness.ub95 <= 0.3", "functional/a: flakiness.ub95 <= 0.5",
                  "functional/a: flakiness <= 0.3", "functional/a: pass_fraction.lb95 >= 0.6")
    assert [r["status"] for r in result.checks] == ["FAIL", "PASS", "PASS", "PASS"]
    assert result.checks[0]["value"] == 0.1 and result.checks[0]["bound"] == round(wilson_interval(1, 10)[1], 6)
    assert result.checks[3]["bound"] == flaky["metrics"]["pass_fraction"]["ci95"][0]
    missing = gate(tmp_path, report, "functional/b: flakiness.ub95 <= 0.3")
    assert missing.checks[0]["status"] != "PASS"


def test_literal_nested_latency_path(tmp_path: Path) -> None:
    latency = {"kind": "latency", "n": 50, "errors": 0,
               "metrics": {"ttft_ms": {"p50": {"value": 80.0, "lb95": 70.0, "ub95": 95.0},
                                       "p95": {"value": 240.0, "lb95": 200.0, "ub95": 290.0}}}}
    report = make_report({"latency/chat": latency})
    result = gate(tmp_path, report, "latency/*: ttft_ms.p95.ub95 <= 300", "latency/*: ttft_ms.p95.ub95 <= 250",
                  "latency/*: ttft_ms.p95 <= 250", "latency/*: ttft_ms.p50.lb95 >= 75")
    assert [(r["status"], r["value"], r["bound"]) for r in result.checks] == [
        ("PASS", 240.0, 290.0), ("FAIL", 240.0, 290.0), ("PASS", 240.0, 240.0), ("FAIL", 80.0, 70.0)]


def _priced_suite(tokens_out: list[int], usd_each: float, model: str = "m1") -> dict[str, Any]:
    """A functional suite whose token and cost metrics are folded from records, as a run folds them."""
    from pytest_llmops.report.usage import UsageFold

    fold = UsageFold()
    for out in tokens_out:
        fold.add({"input_tokens": 20, "output_tokens": out, "cost": {"usd": usd_each, "saved_usd": 0.0}})
    suite = functional_suite(len(tokens_out), model=model)
    suite["metrics"].update(fold.metrics())
    return suite


def test_cost_and_token_budgets(tmp_path: Path) -> None:
    cheap = _priced_suite([10, 40, 12, 250], usd_each=0.25)  # $1.00 in all; p95 of the answers: 218.5 tokens
    dear = _priced_suite([10, 11], usd_each=1.5)  # $3.00
    report = make_report({"functional/a": cheap, "safety/b": dear})
    result = gate(tmp_path, report, "*: cost.total <= 2.50", "functional/*: output_tokens.p95 <= 200",
                  "functional/*: output_tokens.p95 <= 250", "*: cost.per_case <= 1")
    rows = [(r["check"], r["suite"], r["status"], r["value"]) for r in result.checks]
    assert ("*: cost.total <= 2.50", "functional/a", "PASS", 1.0) in rows
    assert ("*: cost.total <= 2.50", "safety/b", "FAIL", 3.0) in rows
    assert ("functional/*: output_tokens.p95 <= 200", "functional/a", "FAIL", 218.5) in rows
    assert ("functional/*: output_tokens.p95 <= 250", "functional/a", "PASS", 218.5) in rows
    assert ("*: cost.per_case <= 1", "safety/b", "FAIL", 1.5) in rows
    assert result.decision == "BLOCK"
    # A suite run without prices has no cost: the check cannot pass it (missing, per on_missing).
    unpriced = make_report({"functional/a": functional_suite(3)})
    [row] = gate(tmp_path, unpriced, "*: cost.total <= 2.50").checks
    assert row["status"] != "PASS"


def test_literal_lb95_key_wins_over_ci95(tmp_path: Path) -> None:
    suite = functional_suite(3)
    suite["metrics"]["odd"] = {"value": 0.5, "ci95": [0.1, 0.9], "lb95": 0.4}
    result = gate(tmp_path, make_report({"functional/a": suite}), "functional/*: odd.lb95 >= 0.3",
                  "functional/*: odd.ub95 <= 0.95")
    assert [(r["status"], r["bound"]) for r in result.checks] == [("PASS", 0.4), ("PASS", 0.9)]


def test_suite_level_fields_and_decision_strings(tmp_path: Path) -> None:
    regressed = {"kind": "regression", "n": 30, "errors": 0, "decision": "regressed"}
    unchanged = {"kind": "regression", "n": 30, "errors": 0, "metrics": {"decision": {"value": "no_change"}}}
    report = make_report({"regression/a": regressed, "regression/b": unchanged,
                          "functional/f": functional_suite(4)})
    result = gate(tmp_path, report, "regression/*: decision != regressed", "functional/*: n >= 4",
                  "regression/*: decision == 'no_change'")
    assert statuses(result) == [("regression/a", "FAIL"), ("regression/b", "PASS"), ("functional/f", "PASS"),
                                ("regression/a", "FAIL"), ("regression/b", "PASS")]
    assert result.checks[0]["value"] == "regressed"
    assert result.decision == "BLOCK"


def test_inconclusive_decision_value(tmp_path: Path) -> None:
    report = make_report({"regression/a": {"kind": "regression", "n": 3, "errors": 0, "decision": "inconclusive"}})
    dev = gate(tmp_path, report, "regression/*: decision != regressed")
    assert statuses(dev) == [("regression/a", "INCONCLUSIVE")]
    assert dev.decision == "ALLOW"
    assert dev.warnings and "inconclusive" in dev.warnings[0]
    prod = gate(tmp_path, report, "regression/*: decision != regressed", env="prod")
    assert prod.decision == "BLOCK"


def test_missing_metric_and_none_value_are_inconclusive(tmp_path: Path) -> None:
    empty = functional_suite(0)  # n=0: pass_rate value None, ci95 [0, 1]
    report = make_report({"functional/a": functional_suite(5), "functional/empty": empty})
    result = gate(tmp_path, report, "functional/*: nosuch.lb95 >= 0.1", "functional/*: pass_rate.lb95 >= 0.3",
                  "functional/*: pass_rate >= 0.3")
    assert statuses(result) == [
        ("functional/a", "INCONCLUSIVE"), ("functional/empty", "INCONCLUSIVE"),
        ("functional/a", "PASS"), ("functional/empty", "INCONCLUSIVE"),
        ("functional/a", "PASS"), ("functional/empty", "INCONCLUSIVE")]
    assert "nosuch" in result.checks[0]["reason"]
    assert "no data" in result.checks[3]["reason"]
    assert result.decision == "ALLOW"  # dev: inconclusive warns
    assert len(result.warnings) == 4
    nulled = functional_suite(3)
    nulled["metrics"]["score"] = None
    none_result = gate(tmp_path, make_report({"functional/a": nulled}), "functional/*: score <= 1")
    assert none_result.checks[0]["status"] == "INCONCLUSIVE"


def test_non_numeric_value_for_numeric_op_is_inconclusive(tmp_path: Path) -> None:
    suite = functional_suite(3)
    suite["metrics"]["label"] = {"value": "high"}
    result = gate(tmp_path, make_report({"functional/a": suite}), "functional/*: label >= 1")
    assert result.checks[0]["status"] == "INCONCLUSIVE"
    assert "not a number" in result.checks[0]["reason"]


def test_infra_errors_never_pass(tmp_path: Path) -> None:
    report = make_report({"functional/a": functional_suite(17, errors=2),
                          "functional/b": functional_suite(1, failed=9, errors=2)})
    result = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.5")
    assert statuses(result) == [("functional/a", "INCONCLUSIVE"), ("functional/b", "FAIL")]
    assert "2 infra errors" in result.checks[0]["reason"]
    assert result.decision == "BLOCK"  # the FAIL stays a FAIL
    only_errors = gate(tmp_path, make_report({"functional/a": functional_suite(17, errors=1)}),
                       "functional/*: pass_rate.lb95 >= 0.5")
    assert only_errors.decision == "ALLOW"  # dev: inconclusive warns
    assert "1 infra error;" in only_errors.checks[0]["reason"]
    blocked = gate(tmp_path, make_report({"functional/a": functional_suite(17, errors=1)}),
                   "functional/*: pass_rate.lb95 >= 0.5", extra="on_inconclusive: block")
    assert blocked.decision == "BLOCK"
    all_errors = gate(tmp_path, make_report({"functional/a": functional_suite(0, errors=4)}),
                      "functional/*: pass_rate.lb95 >= 0.5")
    assert all_errors.checks[0]["status"] == "INCONCLUSIVE"


def test_checks_on_errors_judge_errors_themselves(tmp_path: Path) -> None:
    report = make_report({"functional/a": functional_suite(10, errors=1)})
    result = gate(tmp_path, report, "functional/*: errors == 0", "functional/*: errors <= 2",
                  "functional/*: error_rate.ub95 <= 0.9")
    assert [r["status"] for r in result.checks] == ["FAIL", "PASS", "PASS"]


def test_on_inconclusive_warn_vs_block(tmp_path: Path) -> None:
    report = make_report({"functional/a": functional_suite(5, errors=1)})
    warn = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3", extra="on_inconclusive: warn", env="prod")
    assert warn.decision == "ALLOW"
    assert warn.checks[0]["blocking"] is False
    assert len(warn.warnings) == 1 and "functional/a" in warn.warnings[0]
    block = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3", extra="on_inconclusive: block")
    assert block.decision == "BLOCK"
    assert block.checks[0]["blocking"] is True
    assert block.warnings == []


@pytest.mark.parametrize("on_missing, status, decision, warned", [
    ("skip", "SKIPPED", "ALLOW", False), ("warn", "INCONCLUSIVE", "ALLOW", True), ("block", "MISSING", "BLOCK", False),
])
def test_on_missing(tmp_path: Path, on_missing: str, status: str, decision: str, warned: bool) -> None:
    report = make_report({"functional/a": functional_suite(5)})
    # on_inconclusive: block must not turn a missing-with-warn into a block.
    result = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3", "adversarial/*: attack_success_rate.ub95 <= 0.05",
                  extra=f"on_missing: {on_missing}\non_inconclusive: block")
    assert statuses(result) == [("functional/a", "PASS"), (None, status)]
    assert result.decision == decision
    assert bool(result.warnings) is warned
    missing_row = result.checks[1]
    assert missing_row["value"] is None and missing_row["bound"] is None
    assert "adversarial/*" in missing_row["reason"]


def test_glob_matches_model_suffixed_keys_and_several_suites(tmp_path: Path) -> None:
    report = make_report({
        "functional/qa[smollm2]": functional_suite(5, model="smollm2"),
        "functional/qa[big]": functional_suite(2, failed=3, model="big"),
        "functional/json[smollm2]": functional_suite(5, model="smollm2"),
        "adversarial/x[smollm2]": functional_suite(5, kind="adversarial"),
    })
    result = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3", "functional/qa: n >= 1",
                  "functional/qa[big]: n >= 1", "*[smollm2]: n >= 1", "functional/j*n: n >= 1")
    assert statuses(result) == [
        ("functional/qa[smollm2]", "PASS"), ("functional/qa[big]", "FAIL"), ("functional/json[smollm2]", "PASS"),
        ("functional/qa[smollm2]", "PASS"), ("functional/qa[big]", "PASS"),
        ("functional/qa[big]", "PASS"),
        ("functional/qa[smollm2]", "PASS"), ("functional/json[smollm2]", "PASS"), ("adversarial/x[smollm2]", "PASS"),
        ("functional/json[smollm2]", "PASS"),
    ]
    assert result.decision == "BLOCK"


def test_row_shape_and_to_dict(tmp_path: Path) -> None:
    config = env_config(tmp_path, "functional/*: pass_rate.lb95 >= 0.3")
    result = evaluate_gate(make_report({"functional/a": functional_suite(5)}), config, "dev")
    [row] = result.checks
    for key in ("check", "suite", "metric", "op", "threshold", "value", "bound", "status", "reason"):
        assert key in row, key
    assert row["check"] == "functional/*: pass_rate.lb95 >= 0.3"
    data = result.to_dict()
    assert set(data) == {"env", "decision", "checks", "warnings", "config"}
    assert data["config"] == {"source": config.source, "sha256": config.sha256}
    assert data["env"] == "dev" and data["decision"] == "ALLOW"
    json.dumps(data)  # JSON-able


# --------------------------------------------------------------------------- table and artifact


def test_table_ends_with_promotion_line(tmp_path: Path) -> None:
    report = make_report({"functional/a": functional_suite(5), "functional/b": functional_suite(1, failed=4)})
    allow = gate(tmp_path, report, "functional/a: pass_rate.lb95 >= 0.3")
    table = format_gate_table(allow)
    assert table.splitlines()[-1] == "PROMOTION: ALLOW (dev)"
    header = next(line for line in table.splitlines() if line.startswith("status"))
    for column in ("status", "suite", "check", "value", "bound", "threshold", "reason"):
        assert column in header
    assert "functional/a" in table and "0.5655" in table
    block = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3", env="prod")
    text = format_gate_table(block)
    assert text.splitlines()[-1] == "PROMOTION: BLOCK (prod)"
    assert "FAIL" in text


def test_table_lists_warnings_before_the_final_line(tmp_path: Path) -> None:
    report = make_report({"functional/a": functional_suite(5, errors=1)})
    result = gate(tmp_path, report, "functional/*: pass_rate.lb95 >= 0.3", "latency/*: ttft_ms.p95.ub95 <= 300",
                  extra="on_missing: warn")
    lines = format_gate_table(result).splitlines()
    assert lines[-1] == "PROMOTION: ALLOW (dev)"
    assert sum(line.startswith("warning:") for line in lines) == 2


def test_artifact_contents_and_atomic_write(tmp_path: Path) -> None:
    models = [{"alias": "a", "spec": "hf:/m/a", "fingerprint": "1" * 64, "extra": "dropped"},
              {"alias": "b", "spec": "openai:b@http://x", "fingerprint": "2" * 64}]
    report = make_report({"functional/a[a]": functional_suite(5, sha="aa" * 32),
                          "functional/a[b]": functional_suite(5, sha="aa" * 32),
                          "tests/test_x.py[a]": functional_suite(1)}, models=models)
    config = env_config(tmp_path, "functional/*: pass_rate.lb95 >= 0.3")
    result = evaluate_gate(report, config, "dev")
    artifact = gate_artifact(result, report, "ff" * 32)
    assert artifact["schema_version"] == 1
    assert artifact["env"] == "dev" and artifact["decision"] == "ALLOW"
    assert artifact["created_at"].startswith("20") and artifact["created_at"].endswith("Z")
    assert artifact["report_sha256"] == "ff" * 32
    assert artifact["config"] == {"source": config.source, "sha256": config.sha256}
    assert artifact["inputs"] == {"functional/a[a]": "aa" * 32, "functional/a[b]": "aa" * 32,
                                  "tests/test_x.py[a]": None}
    assert artifact["models"] == [{"alias": "a", "spec": "hf:/m/a", "fingerprint": "1" * 64},
                                  {"alias": "b", "spec": "openai:b@http://x", "fingerprint": "2" * 64}]
    assert artifact["git_sha"] == "abc123"
    assert artifact["checks"] == result.checks
    out = write_gate_artifact(tmp_path / "reports" / "gate-dev.json", artifact)
    assert out == tmp_path / "reports" / "gate-dev.json"
    assert json.loads(out.read_text()) == artifact
    assert sorted(p.name for p in out.parent.iterdir()) == ["gate-dev.json"]  # no temp file left


# --------------------------------------------------------------------------- command


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "llmops.yaml").write_text("""
environments:
  dev:
    checks: ["functional/*: pass_rate.lb95 >= 0.3"]
  prod:
    checks: ["functional/*: pass_rate.lb95 >= 0.8"]
""")
    (tmp_path / "report.json").write_text(json.dumps(make_report({"functional/a": functional_suite(5)})))
    return tmp_path


def test_gate_main_allow_writes_artifact(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gate_main(["report.json", "--env", "dev", "--out", "reports/gate-dev.json"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "PROMOTION: ALLOW (dev)"
    artifact = json.loads((workdir / "reports" / "gate-dev.json").read_text())
    assert artifact["decision"] == "ALLOW"
    assert artifact["report_sha256"] == hashlib.sha256((workdir / "report.json").read_bytes()).hexdigest()
    assert artifact["config"]["sha256"] == hashlib.sha256((workdir / "llmops.yaml").read_bytes()).hexdigest()


def test_gate_main_block(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gate_main(["report.json", "--env", "prod"]) == 1
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "PROMOTION: BLOCK (prod)"
    assert not (workdir / "reports").exists()  # no --out, no artifact


def test_gate_main_explicit_config(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("cfg") / "strict.yaml"
    other.write_text("environments:\n  dev:\n    checks: ['functional/*: pass_rate.lb95 >= 0.9']\n")
    assert gate_main(["report.json", "--env", "dev", "--config", str(other)]) == 1


@pytest.mark.parametrize("argv, expected", [
    (["missing.json", "--env", "dev"], "missing.json"),
    (["bad.json", "--env", "dev"], "bad.json: not valid JSON"),
    (["notreport.json", "--env", "dev"], "notreport.json: not an llmops report"),
    (["report.json", "--env", "staging"], "unknown environment 'staging'"),
    (["report.json", "--env", "dev", "--config", "nope.yaml"], "nope.yaml"),
    (["report.json", "--env", "dev", "--config", "broken.yaml"], "environments.dev.checks[0]"),
    (["report.json"], "--env"),
    (["report.json", "--env", "dev", "--bogus"], "unrecognized arguments"),
    ([], "usage"),
])
def test_gate_main_usage_errors(workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                expected: str) -> None:
    (workdir / "bad.json").write_text("{not json")
    (workdir / "notreport.json").write_text('{"hello": 1}')
    (workdir / "broken.yaml").write_text("environments:\n  dev:\n    checks: ['functional/*: n ~ 1']\n")
    assert gate_main(argv) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert "PROMOTION" not in captured.out


def test_gate_main_without_any_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps(make_report({})))
    assert gate_main(["report.json", "--env", "dev"]) == 2
    assert "llmops.yaml" in capsys.readouterr().err


def test_gate_main_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate_main(["--help"]) == 0
    assert "llmops gate" in capsys.readouterr().out


# --------------------------------------------------------------------------- the shipped gate file


SHIPPED_SUITES = {"functional/factual_qa": 17, "functional/instruction_following": 16,
                  "functional/json_output": 5, "functional/rag_example": 5, "functional/support_prompt": 2}


def shipped_report() -> dict[str, Any]:
    return make_report({name: functional_suite(n, model="smollm2") for name, n in SHIPPED_SUITES.items()},
                       models=[{"alias": "smollm2", "spec": "smollm2", "fingerprint": "e" * 64}])


def test_shipped_gate_file_loads() -> None:
    config = load_gate_config(REPO_ROOT)
    assert config.source.endswith("llmops.yaml")
    assert set(config.environments) == {"dev", "qa", "prod"}
    prod = config.environments["prod"]
    assert (prod.on_inconclusive, prod.on_missing) == ("block", "block")
    for env in config.environments.values():
        kinds = {c.suite.split("/")[0] for c in env.checks}
        assert {"functional", "adversarial", "metamorphic", "regression", "latency"} <= kinds


def test_shipped_dev_allows_the_shipped_suites() -> None:
    config = load_gate_config(REPO_ROOT)
    result = evaluate_gate(shipped_report(), config, "dev")
    assert result.decision == "ALLOW", format_gate_table(result)
    assert result.warnings == []
    by_status: dict[str, int] = {}
    for row in result.checks:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    assert by_status == {"PASS": 10, "SKIPPED": 4}  # errors + pass rate per suite; other kinds absent


def test_shipped_dev_blocks_a_real_failure_and_prod_blocks_missing_kinds() -> None:
    config = load_gate_config(REPO_ROOT)
    report = shipped_report()
    report["suites"]["functional/factual_qa"] = functional_suite(3, failed=14, model="smollm2")
    assert evaluate_gate(report, config, "dev").decision == "BLOCK"
    prod = evaluate_gate(shipped_report(), config, "prod")
    assert prod.decision == "BLOCK"
    assert {r["suite"] for r in prod.checks if r["status"] == "MISSING"} == {None}
    assert sum(r["status"] == "MISSING" for r in prod.checks) == 4


def test_shipped_dev_errors_block() -> None:
    config = load_gate_config(REPO_ROOT)
    report = shipped_report()
    report["suites"]["functional/json_output"] = functional_suite(4, errors=1, model="smollm2")
    result = evaluate_gate(report, config, "dev")
    assert result.decision == "BLOCK"
    failing = [r for r in result.checks if r["status"] == "FAIL"]
    assert [(r["suite"], r["metric"]) for r in failing] == [("functional/json_output", "errors")]


def test_the_table_leads_with_what_blocks_and_folds_checks_passing_everywhere(tmp_path: Path) -> None:
    suites = {f"functional/s{i:02d}": functional_suite(5) for i in range(12)}
    suites["functional/bad"] = functional_suite(1, failed=4)
    report = make_report(suites)
    result = gate(tmp_path, report, "*: errors == 0", "functional/*: pass_rate.lb95 >= 0.3", env="prod")
    assert result.decision == "BLOCK" and len(result.checks) == 26
    lines = format_gate_table(result).splitlines()
    assert lines[2].startswith("FAIL*") and "functional/bad" in lines[2]  # right under the header
    folded = [line for line in lines if "13 suites" in line or "12 suites" in line]
    assert len(folded) == 2 and all(line.startswith("PASS") for line in folded)
    assert len(lines) == 2 + 1 + 2 + 2  # title, header, the failing row, two folded passes, footnote, verdict
    every = format_gate_table(result, every_row=True).splitlines()
    assert every[2].startswith("FAIL*") and sum(line.startswith("PASS") for line in every) == 25
