"""Tokens and cost on the embedded SmolLM2 (hf provider): the report's tokens are the model's own
tokenizer's counts, its cost matches a hand computation from them, a cost gate decides on it,
and a second (cached) run costs nothing and shows what it saved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.cli import main as llmops
from pytest_llmops.providers.model_store import converted_gguf_folder, smollm2_gguf_path

from .cost_suite import MAX_NEW_TOKENS, SUITE

pytestmark = pytest.mark.slow
pytest.importorskip("torch")

PRICE_IN, PRICE_OUT = 150.0, 600.0  # USD per million tokens: large enough that a few tokens show
GATES = f"""
prices:
  smollm2: {{input: {PRICE_IN}, output: {PRICE_OUT}}}
environments:
  dev:
    checks:
      - "*: cost.total <= 2.50"
      - "functional/*: output_tokens.p95 <= 200"
  tight:
    checks:
      - "*: cost.total <= 0.000001"
"""


def count_with_the_models_tokenizer(cases: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """``id -> (input, output)`` tokens, counted here with SmolLM2's own tokenizer (transformers)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(converted_gguf_folder(smollm2_gguf_path())))
    counts = {}
    for case in cases:
        prompt = tok.apply_chat_template(case["input"], tokenize=False, add_generation_prompt=True)
        tokens_in = len(tok(prompt)["input_ids"])
        # An answer cut at the budget is exactly MAX_NEW_TOKENS tokens; one that stopped is its
        # text's tokens (the end-of-turn token is not part of the output).
        tokens_out = MAX_NEW_TOKENS if case["finish_reason"] == "length" else \
            len(tok(case["output"], add_special_tokens=False)["input_ids"])
        counts[case["id"]] = (tokens_in, tokens_out)
    return counts


def test_cost_from_the_tokenizer_matches_a_hand_computation_and_gates(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", cost=SUITE)
    (pytester.path / "llmops.yaml").write_text(GATES, encoding="utf-8")
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "--llm-gate-env=tight", "-p", "no:cacheprovider")
    assert result.ret == 1  # every case passed (checked below); the tight cost gate blocks
    report_path = Path(pytester.path, "reports", "llmops-report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    cases = report["cases"]
    assert {c["outcome"] for c in cases} == {"passed"} and len(cases) == 2
    counts = count_with_the_models_tokenizer(cases)
    total = 0.0
    for case in cases:
        tokens_in, tokens_out = counts[case["id"]]
        assert (case["input_tokens"], case["output_tokens"]) == (tokens_in, tokens_out), case["id"]
        assert case["tokens_estimated"] is False and case["cached"] is False
        hand = tokens_in * PRICE_IN / 1e6 + tokens_out * PRICE_OUT / 1e6
        assert case["cost"]["usd"] == pytest.approx(hand, rel=1e-9) and case["cost"]["saved_usd"] == 0.0
        total += hand
    cost = report["suites"]["functional/cost"]["metrics"]["cost"]
    assert cost["total"] == pytest.approx(total, rel=1e-9)
    assert report["run"]["usage"]["cost"]["total"] == pytest.approx(total, rel=1e-9)
    assert report["run"]["usage"]["input_tokens"] == sum(c[0] for c in counts.values())
    (row,) = report["gate"]["checks"]
    assert row["status"] == "FAIL" and row["value"] == pytest.approx(total, rel=1e-9) and total > 0.000001
    # The same report under the dev budget ($2.50, 200 answer tokens at p95) is allowed.
    assert llmops(["gate", str(report_path), "--env", "dev", "--config", str(pytester.path / "llmops.yaml"),
                   "--out", str(pytester.path / "gate-dev.json")]) == 0
    result.stdout.fnmatch_lines([f"usage: tokens {sum(c[0] for c in counts.values())} in / "
                                 f"{sum(c[1] for c in counts.values())} out*cost $*"])

    # Again, from the response cache: nothing paid, the same amount saved, and the dev gate allows.
    again = pytester.runpytest_subprocess("--llm-model=smollm2", "--llm-gate-env=dev", "-p", "no:cacheprovider")
    assert again.ret == 0
    cached = json.loads(report_path.read_text(encoding="utf-8"))
    assert all(c["cached"] and c["cost"]["usd"] == 0.0 for c in cached["cases"])
    saved = cached["suites"]["functional/cost"]["metrics"]["cost"]
    assert saved["total"] == 0.0 and saved["saved"] == pytest.approx(total, rel=1e-9)
    assert [c["input_tokens"] for c in cached["cases"]] == [c["input_tokens"] for c in cases]
