"""Promotion gates: per-environment checks on a report's suite metrics.

A gate file (``llmops.yaml`` at the rootdir, or ``[tool.llmops]`` in ``pyproject.toml``)
names environments (dev, qa, prod, ...), each with checks such as
``qa/*: pass_rate.lb95 >= 0.8``. :func:`evaluate_gate` applies one environment's
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

from pytest_llmops.gates.config import (
    ALLOW, BLOCK, FAIL, GATE_FILE, INCONCLUSIVE, MISSING, PASS, SKIPPED, GateCheck, EnvConfig, GateConfig,
    GateConfigError, load_gate_config, parse_check, parse_gate_config,
)
from pytest_llmops.gates.evaluate import (
    GateResult, evaluate_gate, format_gate_table, gate_artifact, resolve_metric, write_gate_artifact,
)

__all__ = [
    "ALLOW", "BLOCK", "FAIL", "GATE_FILE", "INCONCLUSIVE", "MISSING", "PASS", "SKIPPED", "GateCheck", "EnvConfig",
    "GateConfig", "GateConfigError", "GateResult", "evaluate_gate", "format_gate_table", "gate_artifact",
    "load_gate_config", "parse_check", "parse_gate_config", "resolve_metric", "write_gate_artifact",
]
