"""Repeated sampling on the embedded SmolLM2: batched sampling that stays reproducible per
request, and a functional suite run with repeats 5 at temperature 0.7, then fully cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmops.core.specs import parse_spec
from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.providers.hf import HFProvider
from pytest_llmops.providers.prefix_share import shared_prefill
from pytest_llmops.providers.sampling import sample_seed

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")

SAMPLED = GenerationParams(max_new_tokens=16, temperature=0.7, top_p=0.95, seed=3)
QUESTIONS = ["What is the capital of France?", "Name three colors.", "Say hello.",
             "Explain in one sentence what a compiler does."]


@pytest.fixture(scope="module")
def smollm2() -> HFProvider:
    provider = HFProvider(parse_spec("smollm2"))
    provider.load()
    return provider


def test_a_sampled_answer_is_the_same_alone_in_any_batch_and_as_transformers_samples_it(
        smollm2: HFProvider) -> None:
    requests = [GenerationRequest.prompt(q, params=SAMPLED, sample_index=i) for i, q in enumerate(QUESTIONS)]
    alone = [smollm2.generate_batch([r])[0].text for r in requests]
    batched = smollm2.generate_batch(requests)
    assert [g.text for g in batched] == alone and {g.batch_size for g in batched} == {4}
    assert [g.text for g in smollm2.generate_batch(requests[::-1])] == alone[::-1]
    # transformers' own sampling of one request after torch.manual_seed gives the same tokens.
    tok, request = smollm2.tokenizer, requests[1]
    torch.manual_seed(sample_seed(SAMPLED.seed, request.sample_index))
    encoded = tok([smollm2.render(request)], return_tensors="pt").to(smollm2.device)
    output = smollm2.model.generate(**encoded, max_new_tokens=16, do_sample=True, temperature=0.7, top_p=0.95,
                                    pad_token_id=tok.pad_token_id)
    assert tok.decode(output[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True) == alone[1]


def test_samples_of_one_prompt_share_its_prefill_and_answer_as_they_would_alone(smollm2: HFProvider) -> None:
    # Three questions, four samples each: the batch prefills each question once.
    requests = [GenerationRequest.prompt(q, params=SAMPLED, sample_index=i) for q in QUESTIONS[:3] for i in range(4)]
    encoded = smollm2.tokenizer([smollm2.render(r) for r in requests], return_tensors="pt", padding=True)
    cache = shared_prefill(smollm2.model, encoded)
    assert cache is not None and cache.get_seq_length() == encoded["input_ids"].shape[1] - 1
    distinct = smollm2.tokenizer([smollm2.render(r) for r in requests[::4]], return_tensors="pt", padding=True)
    assert shared_prefill(smollm2.model, distinct) is None  # nothing to share
    batched = [g.text for g in smollm2.generate_batch(requests)]
    alone = [smollm2.generate_batch([r])[0].text for r in requests]
    assert batched == alone
    assert len(set(batched)) > 3  # the samples differ: the shared cache did not make them one answer


def test_sample_indices_give_different_answers_and_greedy_rows_are_unchanged(smollm2: HFProvider) -> None:
    question = "Write a short sentence about the sea."
    samples = [GenerationRequest.prompt(question, params=SAMPLED, sample_index=i) for i in range(5)]
    texts = [g.text for g in smollm2.generate_batch(samples)]
    assert len(set(texts)) >= 4, texts
    greedy = GenerationRequest.prompt(question, params=GenerationParams(max_new_tokens=16))
    mixed = smollm2.generate_batch([samples[0], greedy, samples[1]])
    assert mixed[1].text == smollm2.generate_batch([greedy])[0].text
    assert [mixed[0].text, mixed[2].text] == texts[:2]


SUITE = """
repeats: 5
pass_if: majority
generation: {max_new_tokens: 16, temperature: 0.7}
cases:
  - id: capital-of-france
    input: What is the capital of France?
    checks: [{icontains: paris}]
  - id: colour-of-sky
    input: What colour is the sky on a clear day? Answer in one word.
    checks: [{icontains: blue}]
  - id: two-plus-two
    input: "What is 2+2? Answer with a number only."
    checks: [{contains: "4"}]
"""


def test_a_repeated_suite_reports_flakiness_with_intervals_then_is_fully_cached(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", sampled=SUITE)
    first = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    assert report["run"]["engine"]["smollm2"]["generated"] == 15  # 3 cases x 5 samples, generated once
    metrics = report["suites"]["sampled"]["metrics"]
    for name in ("pass_fraction", "pass_at_k", "pass_all_k", "flakiness"):
        low, high = metrics[name]["ci95"]
        assert 0.0 <= low <= metrics[name]["value"] <= high <= 1.0, name
    assert metrics["flakiness"]["n"] == 3 and metrics["flakiness"]["k"] == [5]
    flaky = sum(case["repeats"]["flaky"] for case in report["cases"])
    assert metrics["flakiness"]["flaky"] == flaky
    assert "flaky " in first.stdout.str()
    for case in report["cases"]:
        outputs = [s["output"] for s in case["samples"]]
        assert len(outputs) == 5 and case["output"] == outputs[0]
        assert case["repeats"]["passed"] == sum(s["outcome"] == "passed" for s in case["samples"])

    second = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    cached = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    assert cached["run"]["engine"]["smollm2"]["generated"] == 0
    assert cached["run"]["engine"]["smollm2"]["cache_hits"] == 15
    assert all(case["cached"] for case in cached["cases"])
    assert [c["samples"] for c in cached["cases"]] == [c["samples"] for c in report["cases"]]
    assert cached["suites"]["sampled"]["metrics"] == metrics
    assert second.ret == first.ret
