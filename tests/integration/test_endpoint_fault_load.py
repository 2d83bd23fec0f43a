"""The functional suites through an endpoint that fails 30% of requests with HTTP 500 and answers
10% with a malformed body: at most one of the 52 cases ends as ``error``, and every other case
was judged on an answer the real server gave (nothing broken is judged).
``benchmarks/endpoint_faults.py`` measures the same over many seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.integrations.fault_proxy import FaultyProxy, seeded_faults

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LOAD = {500: 0.3, "malformed": 0.1}


def _run(spec: str, report_dir: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "evalsuites/functional", f"--llm-model={spec}",
                           "--llm-cache=off", f"--llm-report-dir={report_dir}", "-p", "no:cacheprovider", "-q",
                           *args], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=900)
    report = json.loads((report_dir / "llmops-report.json").read_text(encoding="utf-8"))
    return proc.returncode, proc.stdout + proc.stderr, report


def _served_texts(proxy: FaultyProxy) -> set[str]:
    """The content of every answer the real server gave through the proxy."""
    return {json.loads(payload)["choices"][0]["message"]["content"] for payload in (proxy.answers or {}).values()}


def test_under_30_percent_500s_and_10_percent_malformed_bodies_at_most_one_case_errs(llama_server,
                                                                                      tmp_path: Path) -> None:
    with FaultyProxy(llama_server.base_url, chooser=seeded_faults(seed=15, rates=LOAD),
                     remember_answers=True) as proxy:
        _, out, report = _run(f"openai:smollm2@{proxy.base_url}", tmp_path / "faulty")
    injected = Counter(proxy.seen)
    assert injected[500] >= 10 and injected["malformed"] >= 3, injected  # the load was really applied
    assert "Traceback" not in out
    assert len(report["cases"]) == 52  # no case lost
    errored = [(case["suite"], case["id"]) for case in report["cases"] if case["outcome"] == "error"]
    assert len(errored) <= 1, errored
    # Nothing misjudged: every answer judged is one the real server gave (a case's outcome is a
    # function of its answer), never a broken body's.
    served = _served_texts(proxy)
    broken = [(case["suite"], case["id"]) for case in report["cases"]
              if case["outcome"] != "error" and case["output"] not in served]
    assert broken == []


def test_errors_that_remain_block_every_gate(llama_server, tmp_path: Path) -> None:
    with FaultyProxy(llama_server.base_url, chooser=seeded_faults(seed=1, rates={503: 1.0})) as proxy:
        code, out, report = _run(f"openai:smollm2@{proxy.base_url}?max_retries=0", tmp_path / "down",
                                 "--llm-gate-env=dev")
    assert {case["outcome"] for case in report["cases"]} == {"error"}
    assert code != 0 and report["gate"]["decision"] == "BLOCK", out
    assert all(case["output"] in (None, "") for case in report["cases"])  # no broken answer was recorded
