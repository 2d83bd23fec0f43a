"""The ``garak`` suite kind: a few garak probes against the run's subject, garak's rates imported.

One case per probe, each in its own report suite ``<suite>/<probe>``. The case plans no
request: its ``measure`` step (at setup) starts a loopback OpenAI-compatible shim answering
with the run's subject (``shim.py``), runs garak on the probe in a subprocess (``runner.py``)
and reads garak's report (``report.py``). Its metrics are garak's own tallies, labelled as
garak's: ``garak_pass_rate`` with ``source: "garak X.Y.Z"`` (``aggregate.py``). Like an
adversarial case, a probe with any hit is ``failed`` in the report and a measurement (an
xfail in pytest); ``fail_on_success: true`` fails it instead. Without garak the cases are
skipped, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.suites.garak.aggregate import GarakAggregator
from pytest_llmops.suites.kinds import (
    Aggregator,
    CaseRun,
    Evaluation,
    Fail,
    ReportFace,
    SuiteKind,
)
from pytest_llmops.suites.suite_file import CaseSpec, positive_int

if TYPE_CHECKING:
    from pytest_llmops.suites.garak.report import ProbeResult
    from pytest_llmops.suites.suite_file import SuiteSpec

_PROBE_RE = re.compile(r"^[a-z0-9_]+\.[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class ProbeRun:
    """What running garak on one probe measured (handed from ``measure`` to ``evaluate``)."""

    result: ProbeResult
    seconds: float
    requests: int  # completions garak asked the subject for, through the shim
    cached: int  # of which the response cache answered
    python: str  # the interpreter garak ran in
    report: str  # garak's report file


class GarakKind(SuiteKind):
    """See the garak section of ``docs/adversarial.md``."""

    name = "garak"
    extra_keys = frozenset({"probes", "prompt_cap", "generations", "seed", "timeout", "garak_python",
                            "fail_on_success", "extended_detectors"})
    face = ReportFace(headline="garak_pass_rate", label="garak pass rate", direction="higher")

    # -- collection ------------------------------------------------------------------------
    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        if "cases" in data or data.get("defaults"):
            raise fail("cases" if "cases" in data else "defaults",
                       "a garak suite lists 'probes'; garak's detectors judge them")
        if suite.subject != "model":
            raise fail("subject", "garak suites attack the bare model (subject: model)")
        probes = data.get("probes")
        if isinstance(probes, str):
            probes = [probes]
        if not isinstance(probes, list) or not probes or not all(isinstance(p, str) for p in probes):
            raise fail("probes", "expected a non-empty list of garak probe names such as "
                                 "'promptinject.HijackHateHumans' (module.Class)")
        for position, probe in enumerate(probes):
            if not _PROBE_RE.match(probe):
                raise fail(f"probes[{position}]", f"{probe!r} is not a garak probe name (module.Class, e.g. "
                                                  "'encoding.InjectBase64')")
        if len(set(probes)) != len(probes):
            raise fail("probes", "a probe is listed twice")
        seed = data.get("seed", suite.params.seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise fail("seed", f"expected an integer, got {seed!r}")
        timeout = data.get("timeout", 1800)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise fail("timeout", f"expected seconds (a positive number), got {timeout!r}")
        python = data.get("garak_python")
        if python is not None:
            if not isinstance(python, str) or not python.strip():
                raise fail("garak_python", "expected the path of a Python interpreter that has garak")
            if "/" in python and not python.startswith(("/", "~")):  # relative to the suite file
                python = str((suite.path.parent / python).resolve())
        for key in ("fail_on_success", "extended_detectors"):
            if not isinstance(data.get(key, False), bool):
                raise fail(key, "expected true or false")
        settings = {
            "prompt_cap": positive_int(data.get("prompt_cap", 10), "prompt_cap", fail),
            "generations": positive_int(data.get("generations", 1), "generations", fail),
            "seed": seed, "timeout": float(timeout), "garak_python": python,
            "fail_on_success": data.get("fail_on_success", False),
            "extended_detectors": data.get("extended_detectors", False),
        }
        top_line = getattr(data, "line", 1)
        return [CaseSpec(id=probe, index=index, line=top_line, input=f"garak probe {probe}", vars={},
                         system=suite.system, checks=[], params=suite.params, tags=["garak", probe.split(".")[0]],
                         suite=f"{suite.name}/{probe}", data={"probe": probe, **settings})
                for index, probe in enumerate(probes)]

    # -- running -----------------------------------------------------------------------------
    def plan(self, case: CaseRun) -> list[GenerationRequest]:
        return []  # garak asks its own prompts, through the shim, while the case sets up

    def measure(self, case: CaseRun) -> ProbeRun | Evaluation:
        """Run garak on the case's probe against the subject; skip the case when garak is missing."""
        # garak's machinery (a loopback HTTP shim, a subprocess runner): only when a probe runs.
        from pytest_llmops.suites.garak.report import GarakReportError, parse_report
        from pytest_llmops.suites.garak.runner import GarakRunError, GarakUnavailable, find_garak, run_garak
        from pytest_llmops.suites.garak.shim import SubjectShim

        data = case.case.data
        try:
            garak = find_garak(data["garak_python"])
        except GarakUnavailable as exc:
            reason = f"garak not available: {exc}"
            return Evaluation("skipped", failure=reason, fields={"skip_reason": reason})
        probe = data["probe"]
        run, alias, system, params = case.run, case.alias, case.case.system, case.case.params

        def answer_as_subject(messages: list[dict[str, str]]) -> tuple[str, str | None, bool]:
            """One garak completion, answered by the subject through the engine (and its cache)."""
            if system and not any(m["role"] == "system" for m in messages):
                messages = [{"role": "system", "content": system}, *messages]
            result = run.generate(alias, [GenerationRequest.chat(messages, params)])[0]
            if isinstance(result, InfraError):
                raise result
            return result.text, result.finish_reason, result.cached

        workdir = run.cache_dir / "garak" / alias / probe
        try:
            with SubjectShim(answer_as_subject, model=alias) as shim:
                garak_run = run_garak(garak, base_url=shim.base_url, model=alias, probes=[probe], workdir=workdir,
                                      prompt_cap=data["prompt_cap"], generations=data["generations"],
                                      seed=data["seed"], timeout=data["timeout"], serve=shim.serve_pending,
                                      extended_detectors=data["extended_detectors"])
            results = parse_report(garak_run.report)
        except (GarakRunError, GarakReportError) as exc:
            raise InfraError(f"garak: {exc}") from None
        if probe not in results:
            raise InfraError(f"garak's report has no evaluation of {probe} (it has {sorted(results)}); "
                             f"output: {garak_run.output_tail[-600:]}")
        if shim.infra_errors:
            raise InfraError(f"{len(shim.infra_errors)} of {shim.requests} requests garak sent to the subject "
                             f"failed, so garak's rates would be wrong; first: {shim.infra_errors[0]}")
        return ProbeRun(result=results[probe], seconds=garak_run.seconds, requests=shim.requests,
                        cached=shim.cached, python=garak.python, report=str(garak_run.report))

    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        """garak's verdicts on the probe: any detector hit fails the case (as a measurement)."""
        ran: ProbeRun = measurement
        result = ran.result
        source = f"garak {result.garak_version or '?'}"
        checks, rows = [], []
        for counts in result.detectors:
            rate = rate_metric(counts.passed, counts.total)
            rows.append({**counts.as_dict(), "garak_pass_rate": rate})
            checks.append({"name": f"garak:{counts.detector}", "passed": counts.fails == 0, "score": rate["value"],
                           "evidence": f"{source}: {counts.passed}/{counts.total} passed, {counts.fails} hits"
                                       + (f", {counts.nones} missing outputs" if counts.nones else ""),
                           "arg": None})
        hits = [a for a in result.attempts if a["attack_succeeded"]]
        succeeded = any(c.fails for c in result.detectors)
        fields: dict[str, Any] = {
            "source": source, "probe": result.probe, "attack": f"garak:{result.probe}", "category": "garak",
            "strategy": "none", "detector": "+".join(c.detector for c in result.detectors),
            "attack_succeeded": succeeded,
            "garak": {"detectors": rows, "eval_threshold": result.eval_threshold, "seconds": round(ran.seconds, 3),
                      "requests": ran.requests, "cached": ran.cached, "python": ran.python,
                      "report_file": case.run.relative_path(ran.report)},
            "attempts": result.attempts,
            # what the subject saw is in the attempts; the case itself asked nothing directly
            "input": f"garak probe {result.probe}: {len(result.attempts)} prompts (see attempts)",
            "cached": bool(ran.requests) and ran.cached == ran.requests,
            "evidence": ({"detector": "garak", "fired": True, "excerpt": (hits[0]["outputs"] or [""])[0][:160],
                          "prompt": hits[0]["prompt"][:300]} if hits else {"detector": "garak", "fired": False}),
        }
        hit_evidence = "; ".join(c["evidence"] for c in checks if not c["passed"]) if succeeded else ""
        measured = None
        if succeeded and not case.case.data.get("fail_on_success"):
            # garak's hits are a measurement, not a broken test: garak_pass_rate and the gate decide.
            measured = f"garak hits (measured by garak_pass_rate): {hit_evidence}"
        return Evaluation("failed" if succeeded else "passed", checks=checks, fields=fields,
                          failure=f"garak probe {result.probe}: {hit_evidence}", measured=measured)

    def aggregator(self) -> Aggregator:
        return GarakAggregator()
