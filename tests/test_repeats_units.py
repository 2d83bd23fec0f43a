"""Repeats without a run: pass_if rules, the pass fraction's interval (its coverage checked by
simulation), the aggregator's fold, and the hf provider's per-row seeded sampler on raw logits."""

from __future__ import annotations

import random

import pytest

from pytest_llmops.core.stats import wilson_interval
from pytest_llmops.report.faces import flakiness_text, lower_is_better
from pytest_llmops.suites.repeats import check_rule, consistent_rule, needed, sample_requests
from pytest_llmops.suites.repeats_metrics import RepeatsAggregator, effective_n, pass_fraction_metric
from pytest_llmops.providers.base import GenerationParams, GenerationRequest


class Problem(Exception):
    pass


def fail(field: str, why: str) -> Problem:
    return Problem(f"{field}: {why}")


@pytest.mark.parametrize("rule, k, expected", [
    ("all", 5, 5), ("majority", 5, 3), ("majority", 4, 3), ("majority", 1, 1), ("3/5", 5, 3), ("1/1", 1, 1),
])
def test_samples_needed_by_each_rule(rule: str, k: int, expected: int) -> None:
    assert needed(rule, k) == expected


def test_rule_syntax_and_consistency() -> None:
    assert check_rule(" 3 / 5 ", "pass_if", fail) == "3/5"
    for bad in ("most", 3, None, "3/", "a/5"):
        with pytest.raises(Problem, match="expected all, majority"):
            check_rule(bad, "pass_if", fail)
    assert consistent_rule("3/5", 5, "", "pass_if", fail) == "3/5"
    with pytest.raises(Problem, match="counts 5 samples but this case takes 4"):
        consistent_rule("3/5", 4, "", "pass_if", fail)
    with pytest.raises(Problem, match="m must be between 1 and 5"):
        consistent_rule("0/5", 5, "", "pass_if", fail)


def test_sample_requests_differ_only_by_sample_index() -> None:
    request = GenerationRequest.prompt("hi", params=GenerationParams(temperature=0.7))
    samples = sample_requests(request, 3)
    assert [r.sample_index for r in samples] == [0, 1, 2]
    assert samples[0] is request and {r.messages for r in samples} == {request.messages}
    assert len({r.content_key() for r in samples}) == 3  # three cache entries
    assert sample_requests(request, 1) == [request]


def test_effective_n_lies_between_the_cases_and_the_samples() -> None:
    # Every case at the same fraction: no spread, the cases are the units.
    assert effective_n([1.0] * 10, 50) == 10
    assert effective_n([0.6] * 10, 50) == 10
    # Cases that all pass or all fail (samples agree within a case): n_eff is about the cases.
    assert effective_n([1.0] * 5 + [0.0] * 5, 50) == 10
    # Spread about as binomial sampling alone would give: n_eff near the 50 samples.
    rng = random.Random(3)
    fractions = [sum(rng.random() < 0.5 for _ in range(5)) / 5 for _ in range(200)]
    assert 500 < effective_n(fractions, 1000) <= 1000


def test_pass_fraction_interval_matches_wilson_at_the_bounds() -> None:
    metric = pass_fraction_metric([1.0] * 10, 50)
    assert metric["value"] == 1.0
    assert metric["ci95"] == [round(x, 6) for x in wilson_interval(10, 10)]  # not the zero width of a bootstrap
    assert pass_fraction_metric([], 0)["value"] is None


def _coverage(n: int, k: int, a: float, b: float, trials: int, seed: int, pooled: bool = False) -> float:
    """How often the interval holds the true mean pass probability a/(a+b) (case p ~ Beta(a, b))."""
    rng = random.Random(seed)
    true, hits = a / (a + b), 0
    for _ in range(trials):
        fractions = []
        for _ in range(n):
            p = rng.betavariate(a, b)
            fractions.append(sum(rng.random() < p for _ in range(k)) / k)
        if pooled:  # every sample as an independent trial: what the clustering breaks
            low, high = wilson_interval(round(sum(fractions) * k), n * k)
        else:
            low, high = pass_fraction_metric(fractions, n * k)["ci95"]
        hits += low <= true <= high
    return hits / trials


@pytest.mark.parametrize("a, b", [(0.3, 0.3), (4.0, 1.0), (50.0, 50.0)])
def test_pass_fraction_interval_covers_about_95_percent(a: float, b: float) -> None:
    # Strongly clustered (a case mostly always or never passes), skewed, and nearly independent.
    assert _coverage(30, 5, a, b, trials=600, seed=11) >= 0.92


def test_pooling_clustered_samples_would_undercover() -> None:
    assert _coverage(30, 5, 0.3, 0.3, trials=600, seed=11, pooled=True) < 0.8


def _records() -> list[dict]:
    def case(i: int, k: int, passed: int, outcome: str) -> dict:
        record = {"id": f"c{i}", "outcome": outcome}
        if k > 1:
            record["repeats"] = {"k": k, "passed": passed, "pass_fraction": passed / k, "rule": "all",
                                 "flaky": 0 < passed < k}
        return record
    return [case(0, 5, 3, "failed"), case(1, 5, 5, "passed"), case(2, 3, 0, "failed"), case(3, 1, 1, "passed"),
            case(4, 1, 0, "failed"), {"id": "e", "outcome": "error"}, {"id": "s", "outcome": "skipped"}]


def test_aggregator_counts_and_does_not_depend_on_record_order() -> None:
    metrics = []
    for seed in range(4):
        records = _records()
        random.Random(seed).shuffle(records)
        aggregator = RepeatsAggregator()
        for record in records:
            aggregator.add(record)
        metrics.append(aggregator.metrics())
    assert all(m == metrics[0] for m in metrics)
    m = metrics[0]
    assert m["pass_fraction"]["value"] == pytest.approx((0.6 + 1 + 0 + 1 + 0) / 5)
    assert (m["pass_fraction"]["n"], m["pass_fraction"]["n_samples"]) == (5, 15)
    assert (m["pass_at_k"]["value"], m["pass_all_k"]["value"]) == (3 / 5, 2 / 5)
    assert (m["flakiness"]["flaky"], m["flakiness"]["n"], m["flakiness"]["k"]) == (1, 3, [3, 5])


def test_no_repeat_metrics_without_a_repeated_case() -> None:
    aggregator = RepeatsAggregator()
    aggregator.add({"id": "a", "outcome": "passed"})
    assert aggregator.metrics() == {}


def test_flakiness_reads_lower_is_better_and_has_a_line() -> None:
    assert lower_is_better("flakiness", {"face": {"lower_is_better": ["error_rate"]}})
    assert not lower_is_better("pass_fraction", {})
    assert flakiness_text({"flakiness": {"value": 0.25, "ci95": [0.1, 0.5], "n": 8, "flaky": 2, "k": [3, 5]}}) \
        == "flaky 2/8 0.25 [0.10, 0.50], k=3/5"
    assert flakiness_text({"pass_rate": {"value": 1.0, "ci95": [0.5, 1.0]}}) == ""


# --------------------------------------------------------------------------- the hf sampler
def test_seeded_sampler_rows_do_not_depend_on_their_batch() -> None:
    torch = pytest.importorskip("torch")
    from pytest_llmops.providers.sampling import SeededSampler

    gen = torch.Generator().manual_seed(0)
    vocab, steps = 300, 12
    logits = [torch.randn(steps, vocab, generator=gen) * 3 for _ in range(3)]

    def draws(rows: list[int], seeds: list[int]) -> list[list[int]]:
        sampler = SeededSampler(seeds, temperature=0.8, top_p=0.9)
        out: list[list[int]] = [[] for _ in rows]
        for step in range(steps):
            scores = torch.stack([logits[row][step] for row in rows])
            masked = sampler(torch.zeros((len(rows), 5 + step), dtype=torch.long), scores.clone())
            for position, token in enumerate(masked.argmax(dim=-1).tolist()):
                assert masked[position].isfinite().sum() == 1  # only the drawn token is left
                out[position].append(token)
        return out

    alone = draws([1], [7])[0]
    assert draws([0, 1, 2], [5, 7, 9])[1] == alone
    assert draws([2, 1], [9, 7])[1] == alone
    assert draws([1], [8])[0] != alone  # another sample index, another seed: another draw
    with pytest.raises(ValueError, match="greedy"):
        SeededSampler([1], temperature=0.0, top_p=1.0)


def test_only_kinds_that_declare_it_take_repeats() -> None:
    from pytest_llmops.suites.builtins import default_registry
    from pytest_llmops.suites.kinds import SuiteKind

    kinds = default_registry().kinds
    assert {name for name, kind in kinds.items() if kind.supports_repeats} == {"functional"}

    class Inherits(SuiteKind):
        name = "inherits"

    class Declares(SuiteKind):
        name = "declares"
        supports_repeats = True

    assert not Inherits.supports_repeats and Declares.supports_repeats
