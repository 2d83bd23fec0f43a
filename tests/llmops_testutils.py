"""Helpers for the fast test-suite: pytester projects wired to the in-process echo provider."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

ECHO_CONFTEST = "from pytest_llmops.testing import register_echo_provider as llmops_register_providers\n"
REPORT_NAME = "llmops-report.json"

# Unrelated third-party plugins that import heavy packages on every run (hypothesis imports
# itself in its terminal summary). pytester restores sys.modules after each in-process run,
# so they would be re-imported (and assertion-rewritten) every time. Blocking them keeps the
# suite fast; "-p no:NAME" is harmless where the plugin is not installed.
QUIET_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:anyio")


class LlmProject:
    """A pytester directory with the echo provider registered and helpers around it."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path: Path = pytester.path
        pytester.makeconftest(ECHO_CONFTEST)

    def write(self, relpath: str, text: str) -> Path:
        """Write a (dedented) file under the project, creating parent folders."""
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return target

    def suite(self, name: str, text: str) -> Path:
        """Write ``NAME.eval.yaml`` (``name`` may contain folders)."""
        return self.write(f"{name}.eval.yaml", text)

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest(*QUIET_PLUGINS, *args)

    def run_subprocess(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*QUIET_PLUGINS, *args)

    def report_path(self, directory: str = "reports") -> Path:
        return self.path / directory / REPORT_NAME

    def report(self, directory: str = "reports") -> dict[str, Any]:
        path = self.report_path(directory)
        assert path.is_file(), f"no report at {path}"
        return json.loads(path.read_text(encoding="utf-8"))

    def cases(self, directory: str = "reports") -> dict[str, dict[str, Any]]:
        """The report's cases by ``id[model]``."""
        return {f"{c['id']}[{c['model']}]": c for c in self.report(directory)["cases"]}


def simple_suite(n: int, name: str = "big", failing_every: int = 0, infra: tuple[int, ...] = ()) -> str:
    """A suite of ``n`` cases ``c00..``; every ``failing_every``-th case fails, ``infra`` ids are infra errors."""
    lines = [f"suite: {name}", "cases:"]
    for i in range(n):
        text = f"INFRA_FAIL {i}" if i in infra else f"question number {i}"
        expected = "zzz-not-there" if failing_every and i % failing_every == 0 else f"number {i}"
        lines += [f"  - id: c{i:02d}", f"    input: {text}", "    checks:", f"      - contains: '{expected}'"]
    return "\n".join(lines) + "\n"


def echo_log_lines(path: Path) -> list[str]:
    """Lines the echo provider logged (one per generated request); empty if the log does not exist."""
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8").splitlines()


def without_keys(value: Any, keys: set[str] | tuple[str, ...]) -> Any:
    """``value`` (nested dicts and lists, as read from a report) with every dict entry named in
    ``keys`` left out at any depth: for comparing two runs whose wall-clock fields differ."""
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


def add_usage(report: dict[str, Any], price: Any = None, cached: tuple[str, ...] = (),
              tokens: Any = None) -> dict[str, Any]:
    """``report`` with token counts (and, with a ``core.pricing.Price``, costs) on every case, folded
    into its suites' metrics and ``run.usage`` by the real fold (report/usage.py).

    ``tokens(case) -> (input, output)`` gives each case's counts (default: 10 + index, 3 + index);
    cases whose id is in ``cached`` were served from the response cache.
    """
    from pytest_llmops.core.pricing import usage_fields
    from pytest_llmops.report.usage import RunUsage, UsageFold

    count = tokens or (lambda case: (10 + int(case.get("index") or 0), 3 + int(case.get("index") or 0)))
    folds: dict[str, UsageFold] = {}
    run = RunUsage()
    for case in report.get("cases") or []:
        tokens_in, tokens_out = count(case)
        part = {"input_tokens": tokens_in, "output_tokens": tokens_out, "cached": case.get("id") in cached}
        case.update(usage_fields([part], price))
        name = case["suite"] if case["suite"] in report["suites"] else f"{case['suite']}[{case['model']}]"
        folds.setdefault(name, UsageFold()).add(case)
        run.add(case)
    for name, fold in folds.items():
        report["suites"][name]["metrics"].update(fold.metrics())
    report.setdefault("run", {})["usage"] = run.as_dict()
    return report
