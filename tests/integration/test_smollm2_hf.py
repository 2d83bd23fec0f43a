"""The embedded SmolLM2 through the hf provider: real weights, real generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")

SUITE = """
kind: functional
generation:
  max_new_tokens: 24
cases:
  - id: capital-of-france
    input: What is the capital of France?
    checks:
      - icontains: paris
  - id: arithmetic
    input: "What is 2+2? Answer with a number only."
    checks:
      - contains: "4"
  - id: json-name
    input: "Write a JSON object with a key 'name' set to 'Alice'."
    generation: {max_new_tokens: 20}
    checks:
      - is-json: {schema: {type: object, required: [name], properties: {name: {const: Alice}}}}
"""


@pytest.fixture(scope="module")
def smollm2() -> HFProvider:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    return provider


def test_batched_greedy_equals_one_by_one(smollm2: HFProvider) -> None:
    prompts = ["What is the capital of France?", "Name three colors.", "Say hello.",
               "Explain in one sentence what a compiler does."]
    params = GenerationParams(max_new_tokens=16)
    requests = [GenerationRequest.prompt(p, params=params) for p in prompts]
    batched = smollm2.generate_batch(requests)
    single = [smollm2.generate_batch([r])[0] for r in requests]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.text.strip() for g in batched)
    assert {g.batch_size for g in batched} == {4}


def test_model_reports_cpu_and_fingerprint(smollm2: HFProvider) -> None:
    info = smollm2.describe()
    # device=auto: CUDA where there is one (then the dtype is the GPU's choice), else fp32 on the CPU.
    if torch.cuda.is_available():
        assert info["device"].startswith("cuda") and info["gpu"]
    else:
        assert info["device"] == "cpu" and info["dtype"] == "float32" and info["gpu"] is None
    again = HFProvider(parse_spec("smollm2")).fingerprint()
    assert again == smollm2.fingerprint() and len(again) == 64
    templateless = HFProvider(parse_spec("hf:" + str(smollm2.source[0]) + "?chat_template=off"))
    assert templateless.fingerprint() != smollm2.fingerprint()


def test_converted_model_loads_from_cache_folder(smollm2: HFProvider) -> None:
    from pytest_llmops.providers.model_store import converted_gguf_folder

    folder = converted_gguf_folder(smollm2.source[0])
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    local = HFProvider(parse_spec(f"hf:{folder}?alias=converted"))
    request = GenerationRequest.prompt("What is the capital of France?", params=GenerationParams(max_new_tokens=12))
    assert local.generate_batch([request])[0].text == smollm2.generate_batch([request])[0].text


def test_suite_on_smollm2_then_cached(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", demo=SUITE)
    first = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=3)
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    assert report["run"]["env"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert report["run"]["models"][0]["alias"] == "smollm2"
    assert report["run"]["engine"]["smollm2"]["generated"] == 3
    assert not any(case["cached"] for case in report["cases"])
    second = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    second.assert_outcomes(passed=3)
    cached = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    assert cached["run"]["engine"]["smollm2"]["generated"] == 0
    assert all(case["cached"] for case in cached["cases"])
    assert [c["output"] for c in cached["cases"]] == [c["output"] for c in report["cases"]]


def test_python_test_with_llm_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_py="""
        def test_capital(llm):
            answers = llm.generate_many(["What is the capital of France?", "What is 2+2?"], max_new_tokens=16)
            assert "paris" in answers[0].lower()
            assert "4" in answers[1]
    """)
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    (case,) = report["cases"]
    assert case["suite"] == "test_py" and case["outcome"] == "passed"
    assert len(case["generations"]) == 2
