"""Tokens and cost, unit by unit: the price arithmetic against hand computations, the price table's
validation, the token counts providers report, the cache round trip, and the fold into suite
metrics and ``run.usage`` (order-independent, so shards merge to the single run's figures)."""

from __future__ import annotations

import random
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_llmops.core.pricing import Price, PriceTable, PriceTableError, parse_price_table, usage_fields
from pytest_llmops.gates.config import GateConfigError, load_gate_config
from pytest_llmops.gates.prices import load_price_table
from pytest_llmops.providers.base import Generation, GenerationRequest, estimate_tokens
from pytest_llmops.providers.openai_provider import token_counts
from pytest_llmops.report.usage import RunUsage, UsageFold, token_summary

# --------------------------------------------------------------------------- arithmetic


def test_cost_is_tokens_times_price_per_million() -> None:
    price = Price(input=0.15, output=0.60)
    # 1,000 prompt tokens at $0.15/M and 250 answer tokens at $0.60/M, by hand:
    assert price.cost(1000, 250) == pytest.approx(1000 * 0.15 / 1e6 + 250 * 0.60 / 1e6)
    assert price.cost(1000, 250) == pytest.approx(0.0003)
    assert price.cost(0, 0) == 0.0


def test_cached_input_tokens_are_billed_at_the_cached_price_when_there_is_one() -> None:
    with_cached = Price(input=2.50, output=10.0, cached_input=1.25)
    # 800 of 1,000 prompt tokens came from the provider's prompt cache.
    assert with_cached.cost(1000, 100, cached_input_tokens=800) == pytest.approx(
        (200 * 2.50 + 800 * 1.25 + 100 * 10.0) / 1e6)
    without = Price(input=2.50, output=10.0)
    assert without.cost(1000, 100, cached_input_tokens=800) == pytest.approx((1000 * 2.50 + 100 * 10.0) / 1e6)
    # A cached count larger than the prompt (a provider's bug) never makes input cost negative.
    assert with_cached.cost(10, 0, cached_input_tokens=50) == pytest.approx(10 * 1.25 / 1e6)


def test_price_lookup_prefers_the_exact_alias_then_the_first_matching_glob() -> None:
    table = parse_price_table({"gpt-4o*": {"input": 2.5, "output": 10}, "gpt-4o-mini": {"input": 0.15, "output": 0.6},
                               "*": {"input": 1, "output": 1}}, "llmops.yaml: prices")
    assert table.price_for("gpt-4o-mini") == Price(0.15, 0.6)
    assert table.price_for("gpt-4o-2024-08-06") == Price(2.5, 10.0)
    assert table.price_for("smollm2") == Price(1.0, 1.0)
    assert PriceTable((("a", Price(1, 1)),)).price_for("b") is None
    assert not PriceTable()


@pytest.mark.parametrize("raw, expected", [
    ({"m": {"input": -1, "output": 1}}, "llmops.yaml: prices.m.input: -1 is negative"),
    ({"m": {"input": "cheap", "output": 1}}, "llmops.yaml: prices.m.input: 'cheap' is not a number"),
    ({"m": {"input": True, "output": 1}}, "llmops.yaml: prices.m.input: True is not a number"),
    ({"m": {"input": 1, "output": float("nan")}}, "llmops.yaml: prices.m.output: nan is not a number"),
    ({"m": {"input": 1, "output": 1, "cached_input": -0.5}}, "prices.m.cached_input: -0.5 is negative"),
    ({"m": {"input": 1, "output": 1, "cache_read": 0.5}}, "llmops.yaml: prices.m: unknown key(s) 'cache_read'; "
                                                          "expected input, output, cached_input"),
    ({"m": {"input": 1}}, "llmops.yaml: prices.m: missing output"),
    ({"m": 0.5}, "llmops.yaml: prices.m: expected a mapping with keys input, output, cached_input"),
    ([1, 2], "llmops.yaml: prices: expected a mapping of model aliases"),
    ({}, "llmops.yaml: prices: expected a mapping of model aliases"),
])
def test_bad_price_tables_are_refused_naming_file_and_key(raw: Any, expected: str) -> None:
    with pytest.raises(PriceTableError) as info:
        parse_price_table(raw, "llmops.yaml: prices")
    assert expected in str(info.value)


# --------------------------------------------------------------------------- records


def test_usage_fields_sum_every_generation_and_price_the_cached_ones_as_saved() -> None:
    price = Price(input=1.0, output=4.0)
    fresh = Generation("a", output_tokens=10, input_tokens=100)
    served = Generation("b", output_tokens=20, input_tokens=50, cached=True)
    fields = usage_fields([fresh.usage(), served.usage()], price)
    assert fields["input_tokens"] == 150 and fields["output_tokens"] == 30
    assert fields["tokens_estimated"] is False and fields["cached_input_tokens"] is None
    assert fields["cost"]["usd"] == pytest.approx((100 * 1.0 + 10 * 4.0) / 1e6)
    assert fields["cost"]["saved_usd"] == pytest.approx((50 * 1.0 + 20 * 4.0) / 1e6)
    assert fields["cost"]["estimated"] is False


def test_usage_fields_without_a_price_or_a_count_have_no_cost() -> None:
    known = Generation("a", output_tokens=3, input_tokens=7).usage()
    assert "cost" not in usage_fields([known], None)
    unknown = Generation("pipeline answer").usage()  # a RAG pipeline's answer: no tokens at all
    fields = usage_fields([known, unknown], Price(1, 1))
    assert fields["input_tokens"] is None and fields["output_tokens"] is None and "cost" not in fields
    assert usage_fields([], Price(1, 1))["input_tokens"] is None


def test_estimated_counts_mark_the_cost_estimated() -> None:
    guessed = Generation("x", output_tokens=2, input_tokens=5, tokens_estimated=True).usage()
    fields = usage_fields([guessed], Price(1, 1))
    assert fields["tokens_estimated"] is True and fields["cost"]["estimated"] is True


def test_generation_cache_round_trip_keeps_tokens_and_old_rows_still_load() -> None:
    gen = Generation("hi", output_tokens=2, input_tokens=9, cached_input_tokens=4, tokens_estimated=True)
    back = Generation.from_cache(gen.to_cache())
    assert (back.input_tokens, back.output_tokens, back.cached_input_tokens, back.tokens_estimated) == (9, 2, 4, True)
    assert back.cached is True
    old_row = {"text": "hi", "output_tokens": 2, "finish_reason": "stop", "seconds": 0.1, "batch_size": 1}
    old = Generation.from_cache(old_row)
    assert old.input_tokens is None and old.tokens_estimated is False and old.cached is True


# --------------------------------------------------------------------------- provider counts


def _usage(prompt: Any, completion: Any, cached: Any = None) -> Any:
    details = None if cached is None else types.SimpleNamespace(cached_tokens=cached)
    return types.SimpleNamespace(prompt_tokens=prompt, completion_tokens=completion, prompt_tokens_details=details)


def test_openai_counts_come_from_usage() -> None:
    request = GenerationRequest.prompt("What is 2+2?")
    counts = token_counts(_usage(31, 4, cached=16), request, "4")
    assert counts == {"input_tokens": 31, "output_tokens": 4, "cached_input_tokens": 16, "tokens_estimated": False}
    assert token_counts(_usage(31, 4), request, "4")["cached_input_tokens"] is None


def test_openai_counts_without_usage_are_estimated_from_the_text() -> None:
    request = GenerationRequest.prompt("What is two plus two, please?", system="Be brief.")
    counts = token_counts(None, request, "It is four.")
    # Four characters per token, rounded up, per message: 29 chars -> 8, 9 chars -> 3; 11 chars -> 3;
    # plus 3 chat-format tokens per message and 3 before the reply.
    assert counts == {"input_tokens": 8 + 3 + 2 * 3 + 3, "output_tokens": 3, "cached_input_tokens": None,
                      "tokens_estimated": True}
    assert (estimate_tokens(""), estimate_tokens("abcd"), estimate_tokens("abcde")) == (0, 1, 2)
    # One count missing is enough to mark the answer estimated.
    partial = token_counts(_usage(None, 4), request, "It is four.")
    assert partial["output_tokens"] == 4 and partial["tokens_estimated"] is True


# --------------------------------------------------------------------------- the fold


def _record(model: str, inp: int, out: int, usd: float | None = None, saved: float = 0.0,
            estimated: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {"model": model, "input_tokens": inp, "output_tokens": out, "tokens_estimated": estimated,
                              "cached_input_tokens": None}
    if usd is not None:
        record["cost"] = {"usd": usd, "saved_usd": saved, "estimated": estimated}
    return record


def test_token_summary_matches_numpy() -> None:
    values = [12, 7, 30, 7, 19, 3, 44]
    summary = token_summary(values)
    assert summary["total"] == sum(values) and summary["n"] == 7 and summary["max"] == 44
    assert summary["mean"] == pytest.approx(np.mean(values), abs=1e-4)
    assert summary["p50"] == pytest.approx(np.percentile(values, 50), abs=1e-4)
    assert summary["p95"] == pytest.approx(np.percentile(values, 95), abs=1e-4)


def test_suite_cost_metrics_from_records() -> None:
    fold = UsageFold()
    for record in (_record("m", 100, 10, usd=0.002), _record("m", 50, 5, usd=0.0, saved=0.001),
                   _record("m", 70, 7, usd=0.004, estimated=True), {"model": "m", "outcome": "error"}):
        fold.add(record)
    metrics = fold.metrics()
    assert metrics["input_tokens"]["total"] == 220 and metrics["input_tokens"]["n"] == 3
    assert metrics["output_tokens"]["estimated"] == 1
    cost = metrics["cost"]
    assert cost["total"] == pytest.approx(0.006) and cost["saved"] == pytest.approx(0.001)
    assert cost["per_case"] == pytest.approx((0.006 + 0.001) / 3)
    assert (cost["currency"], cost["n"], cost["estimated"]) == ("USD", 3, 1)


def test_a_suite_without_prices_has_tokens_but_no_cost() -> None:
    fold = UsageFold()
    fold.add(_record("m", 4, 2))
    assert set(fold.metrics()) == {"input_tokens", "output_tokens"}
    assert UsageFold().metrics() == {}


def test_run_usage_sums_per_model_and_does_not_depend_on_record_order() -> None:
    rng = random.Random(7)
    records = [_record(rng.choice(["a", "b"]), rng.randint(1, 500), rng.randint(1, 80),
                       usd=rng.random() / 1000, saved=rng.choice([0.0, rng.random() / 1000])) for _ in range(200)]
    first = RunUsage()
    for record in records:
        first.add(record)
    shuffled = records[:]
    rng.shuffle(shuffled)
    second = RunUsage()
    for record in shuffled:
        second.add(record)
    usage = first.as_dict()
    assert usage == second.as_dict()  # exact sums (math.fsum), not merely close
    assert usage is not None
    assert usage["input_tokens"] == sum(r["input_tokens"] for r in records)
    assert usage["cost"]["total"] == pytest.approx(sum(r["cost"]["usd"] for r in records))
    assert usage["by_model"]["a"]["output_tokens"] + usage["by_model"]["b"]["output_tokens"] == usage["output_tokens"]
    assert RunUsage().as_dict() is None


# --------------------------------------------------------------------------- the table's file


def test_price_table_from_llmops_yaml_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.llmops.prices]\nsmollm2 = {input = 0.1, output = 0.4}\n")
    table = load_price_table(tmp_path)
    assert table is not None and table.price_for("smollm2") == Price(0.1, 0.4)
    (tmp_path / "llmops.yaml").write_text("prices:\n  smollm2: {input: 1, output: 2, cached_input: 0.5}\n")
    assert load_price_table(tmp_path).price_for("smollm2") == Price(1.0, 2.0, 0.5)  # llmops.yaml first, as gates
    other = tmp_path / "gates.yaml"
    other.write_text("environments:\n  dev:\n    checks: ['*: pass_rate >= 0']\n")
    assert load_price_table(tmp_path, other) is None  # the named file has no prices


def test_no_file_or_no_table_means_no_prices(tmp_path: Path) -> None:
    assert load_price_table(tmp_path) is None
    (tmp_path / "llmops.yaml").write_text("environments:\n  dev:\n    checks: ['*: pass_rate >= 0']\n")
    assert load_price_table(tmp_path) is None


def test_a_bad_table_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "llmops.yaml").write_text("prices:\n  smollm2: {input: -0.1, output: 0.4}\n")
    with pytest.raises(GateConfigError, match=r"llmops\.yaml: prices\.smollm2\.input: -0\.1 is negative"):
        load_price_table(tmp_path)
    (tmp_path / "llmops.yaml").unlink()
    (tmp_path / "pyproject.toml").write_text("[tool.llmops.prices.smollm2]\ninput = 0.1\noutput = 0.4\nextra = 1\n")
    with pytest.raises(GateConfigError, match=r"pyproject\.toml \[tool\.llmops\]: prices\.smollm2: "
                                               r"unknown key\(s\) 'extra'"):
        load_price_table(tmp_path)


def test_the_gate_file_accepts_prices_and_validates_them(tmp_path: Path) -> None:
    body = "prices:\n  m: {input: 1, output: 2}\nenvironments:\n  dev:\n    checks: ['*: cost.total <= 2.50']\n"
    (tmp_path / "llmops.yaml").write_text(body)
    config = load_gate_config(tmp_path)
    assert config.prices is not None and config.prices.price_for("m") == Price(1.0, 2.0)
    (tmp_path / "llmops.yaml").write_text(body.replace("output: 2", "output: lots"))
    with pytest.raises(GateConfigError, match=r"llmops\.yaml: prices\.m\.output: 'lots' is not a number"):
        load_gate_config(tmp_path)
