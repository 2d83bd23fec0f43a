"""The regression suite on real models: A/A with SmolLM2, a corrupted SmolLM2 caught, and the
shipped quantization demonstration (hf float32 baseline vs llama.cpp Q4_1 candidate)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
from scipy.stats import binomtest

from pytest_llmops.integrations.llama_server import LlamaServerUnavailable
from pytest_llmops.suites.regression.paired import ALPHA_ONE_SIDED

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONFTEST = "from pytest_llmops.testing import register_test_providers as llmops_register_providers\n"


@pytest.fixture
def golden_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The shipped golden suite and dataset, in a fresh project that uses the repository's cache.

    The cache is content-addressed (model fingerprint and request), so a cached answer is the
    answer the model gives: sharing the cache the main job fills (as the quantization demo
    does) spares regenerating SmolLM2's 228 golden answers in every test. A test that needs
    fresh generations says ``--llm-cache=off``.
    """
    shutil.copytree(ROOT / "evalsuites" / "regression", pytester.path / "evalsuites" / "regression")
    shutil.copytree(ROOT / "fixtures" / "regression", pytester.path / "fixtures" / "regression")
    pytester.makeconftest(CONFTEST)
    pytester.makeini(f"[pytest]\nllm_cache_dir = {ROOT / '.llmops-cache'}\n")
    return pytester


def _suite(path: Path) -> dict:
    report = json.loads((path / "llmops-report.json").read_text())
    return report["suites"]["regression/golden_qa"]


def test_same_greedy_model_twice_is_non_inferior_with_zero_flips(golden_project: pytest.Pytester) -> None:
    update = golden_project.runpytest_subprocess("--llm-model=smollm2", "--llm-update-baseline", "evalsuites")
    assert update.ret == 0
    # The comparison regenerates every answer and its fluency (no cache): the same greedy model, run twice.
    compare = golden_project.runpytest_subprocess("--llm-model=smollm2", "--llm-baseline=reports/baseline",
                                                  "--llm-cache=off", "--llm-report-dir=cmp", "evalsuites")
    assert compare.ret == 0
    metrics = _suite(golden_project.path / "cmp")["metrics"]
    compared = [m for m in metrics.values() if isinstance(m, dict) and "delta" in m]
    assert len(compared) == 12  # eleven metrics and the candidate-vs-baseline agreement
    assert all(m["flips"]["improved"] == m["flips"]["regressed"] == 0 for m in compared), metrics
    # The agreement is an alarm ("regressed" or "no_alarm"); the metrics are non-inferiority tests.
    assert all(m["decision"] == "non_inferior" for name, m in metrics.items() if m in compared and
               name != "agreement"), metrics
    agreement = metrics["agreement"]
    assert agreement["decision"] == "no_alarm" and agreement["worse"] == agreement["better"] == 0
    assert agreement["same_output"]["value"] == 1.0
    assert metrics["decision"] == "non_inferior"


def test_word_order_garbled_in_30_percent_of_answers_is_a_regression(golden_project: pytest.Pytester) -> None:
    # Every word is kept: contains and token_f1 cannot see it; a reader (and fluency) can.
    # SmolLM2's answers are generated once (or come from the cache), for the baseline and for
    # the fault wrapper's inner model alike.
    result = golden_project.runpytest_subprocess("--llm-model=fault:scramble?rate=0.3&seed=1",
                                                 "--llm-baseline-model=smollm2", "evalsuites")
    assert result.ret == 1
    metrics = _suite(golden_project.path / "reports")["metrics"]
    assert metrics["decision"] == "regressed"
    assert metrics["contains"]["decision"] != "regressed"  # the bag-of-words metric is blind to it
    agreement = metrics["agreement"]
    assert agreement["decision"] == "regressed" and agreement["worse"] > 5 * max(1, agreement["better"])
    assert 0.55 < agreement["same_output"]["value"] < 0.85
    result.stdout.fnmatch_lines(["*REGRESSION regression/golden_qa*agreement regressed*changed for the worse*"])


def test_corrupting_30_percent_of_smollm2_answers_is_a_regression(golden_project: pytest.Pytester) -> None:
    result = golden_project.runpytest_subprocess("--llm-model=degrade:smollm2?rate=0.3&alias=degraded",
                                                 "--llm-baseline-model=smollm2", "evalsuites")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*REGRESSION regression/golden_qa*regressed: delta*"])
    metrics = _suite(golden_project.path / "reports")["metrics"]
    assert metrics["decision"] == "regressed"
    assert metrics["contains"]["decision"] == "regressed"
    assert metrics["contains"]["flips"]["regressed"] > 0 and metrics["contains"]["flips"]["improved"] == 0


def test_quantization_demo_answers_with_statistics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # The demo lives outside the installed package, under benchmarks/.
    spec = importlib.util.spec_from_file_location("quantization_demo", ROOT / "benchmarks" / "quantization_demo.py")
    assert spec is not None and spec.loader is not None
    quantization_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quantization_demo)

    monkeypatch.chdir(ROOT)
    try:
        status = quantization_demo.main([str(ROOT / "evalsuites" / "regression"), "--report-dir", str(tmp_path),
                                         "-p", "no:cacheprovider"])
    except LlamaServerUnavailable as exc:
        if os.environ.get("LLMOPS_REQUIRE_SERVER") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    out = capsys.readouterr().out
    metrics = _suite(tmp_path)["metrics"]
    # Which answers Q4_1 changes depends on the llama.cpp build and the CPU's kernels: one
    # machine measured 33 worse / 13 better (regressed), another 28 / 17 (inconclusive); see
    # docs/regression.md. So the test checks what holds on every machine: the quantized
    # kernels change answers, the alarm's p-value is the exact sign test on them (computed
    # here by scipy), and the decision and the exit status follow from that p-value.
    agreement = metrics["agreement"]
    worse, better = agreement["worse"], agreement["better"]
    assert worse + better >= 10, agreement
    expected_p = binomtest(worse, worse + better, 0.5, alternative="greater").pvalue
    assert agreement["p_inferiority"] == pytest.approx(expected_p, rel=1e-4)
    assert agreement["p_inferiority_holm"] >= agreement["p_inferiority"]
    alarm = agreement["p_inferiority_holm"] < ALPHA_ONE_SIDED
    assert agreement["decision"] == ("regressed" if alarm else "no_alarm"), agreement
    if alarm:
        assert metrics["decision"] == "regressed"
    assert status == (1 if metrics["decision"] == "regressed" else 0), metrics["decision"]
    assert "Did quantization regress this model?" in out and "McNemar p" in out
    models = {m["alias"]: m for m in json.loads((tmp_path / "llmops-report.json").read_text())["run"]["models"]}
    assert models["smollm2-q4_1"]["spec"].startswith("openai:smollm2@http://127.0.0.1:")
    assert models["baseline"]["role"] == "baseline" and models["baseline"]["spec"] == "smollm2"
