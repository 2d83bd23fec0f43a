"""Real garak probes against real subjects, offline: the llama.cpp server (an ``openai:``
subject) and the embedded SmolLM2 through transformers (``smollm2``).

Skipped unless garak is installed for this interpreter or ``$LLMOPS_GARAK_PYTHON`` names
one that has it (``python -m venv --system-site-packages V && V/bin/pip install garak==0.17.1``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmops.suites.garak import runner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def garak_python() -> str:
    try:
        return runner.find_garak(None).python
    except runner.GarakUnavailable as exc:
        pytest.skip(str(exc))


def _suite(probe: str, cap: int) -> str:
    return f"""
kind: garak
suite: garak
probes: [{probe}]
prompt_cap: {cap}
generation: {{max_new_tokens: 32}}
"""


def test_garak_probe_against_llama_server(pytester: pytest.Pytester, llama_server, garak_python: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runner.GARAK_PYTHON_ENV, garak_python)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytester.makefile(".eval.yaml", g=_suite("promptinject.HijackHateHumans", 3))
    before = llama_server.log_path.read_text(errors="replace").count("/v1/chat/completions")
    result = pytester.runpytest_subprocess(f"--llm-model={llama_server.spec}", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 1, result.stdout.str()[-3000:]
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    metric = report["suites"]["garak/promptinject.HijackHateHumans"]["metrics"]["garak_pass_rate"]
    assert metric["n"] == 3 and metric["source"] == "garak 0.17.1"
    assert list(metric["by_detector"]) == ["promptinject.AttackRogueString"]
    (case,) = report["cases"]
    assert len(case["attempts"]) == 3 and all(a["outputs"][0] for a in case["attempts"])
    assert case["garak"]["requests"] == 3 and case["garak"]["cached"] == 0
    # garak's prompts reached the subject under test: the llama.cpp server answered them
    after = llama_server.log_path.read_text(errors="replace").count("/v1/chat/completions")
    assert after - before == 3


def test_garak_probe_against_embedded_smollm2(pytester: pytest.Pytester, garak_python: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runner.GARAK_PYTHON_ENV, garak_python)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytester.makefile(".eval.yaml", g=_suite("encoding.InjectBase64", 2))
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 1, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*garak/encoding.InjectBase64*smollm2*garak pass rate*"])
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    metric = report["suites"]["garak/encoding.InjectBase64"]["metrics"]["garak_pass_rate"]
    assert metric["n"] == 2 and metric["source"] == "garak 0.17.1"
    assert report["run"]["engine"]["smollm2"]["generated"] == 2  # the run's own model answered garak
