"""The drift kind's one pass over a log, without the embedder: counts, samples, slices, refolding."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from drift_logs import REFUSAL

from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.drift.aggregate import DriftAggregator, summarize_slices
from pytest_llmops.suites.drift.measure import run_drift
from pytest_llmops.suites.drift.spec import parse_drift
from pytest_llmops.suites.drift.stream import scan


def _fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors per text (no model): enough for counts and sampling."""
    rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=8) for t in texts]
    v = np.array(rows, dtype=np.float32).reshape(len(texts), 8)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _line(i: int, segment: str, refused: bool, expect_json: bool = False, answer: str | None = None) -> str:
    return json.dumps({"timestamp": f"2026-10-{1 + i // 100:02d}T{i % 24:02d}:00:00Z",
                       "messages": [{"role": "user", "content": f"question {i}"}],
                       "answer": answer if answer is not None else (REFUSAL if refused else "A fine answer."),
                       "metadata": {"segment": segment}, **({"expect_json": True} if expect_json else {})})


def _run(tmp_path: Path, lines: list[str], **extra: object) -> dict:
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    registry = default_registry()
    data = {"log": "log.jsonl", "reference": {"to": "2026-10-06"}, "current": {"from": "2026-10-06"},
            "checks": [{"refusal": False}], "slices": ["metadata.segment"], "permutations": 99, "topics": 2, **extra}
    spec = parse_drift(data, tmp_path / "suite.eval.yaml", registry, lambda f, why: ValueError(f"{f}: {why}"))
    return run_drift(spec, registry.checks, {}, embed=_fake_embed)


def test_counts_slices_and_json_validity_are_exact(tmp_path: Path) -> None:
    lines = []
    tally = {"refused": {"reference": 0, "current": 0}, "passed": {"free": 0, "pro": 0},
             "json": {"reference": [0, 0], "current": [0, 0]}}
    for i in range(1000):  # lines 0..499 reference (Oct 1-5), 500..999 current (Oct 6-10)
        window = "current" if i >= 500 else "reference"
        segment = "free" if i % 2 else "pro"
        # current window: free users refused on every 4th of their lines; elsewhere 1 line in 20
        refused = (i % 8 == 1) if window == "current" and segment == "free" else (i % 40 in (0, 1))
        expect_json = i % 10 == 3
        broken_json = expect_json and i % 20 == 3
        answer = None if refused or not expect_json else ("not json" if broken_json else '{"ok": true}')
        lines.append(_line(i, segment, refused, expect_json, answer))
        tally["refused"][window] += refused
        if expect_json:
            tally["json"][window][1] += 1
            tally["json"][window][0] += not (broken_json or refused)
        if window == "current":
            tally["passed"][segment] += not (refused or (expect_json and (broken_json or refused)))
    out = _run(tmp_path, lines)
    drift = out["drift"]
    assert drift["windows"]["reference"]["n"] == 500 and drift["windows"]["current"]["n"] == 500
    refusal = drift["output"]["refusal_rate"]
    assert (refusal["reference"]["k"], refusal["current"]["k"]) == (tally["refused"]["reference"],
                                                                    tally["refused"]["current"])
    counts = out["slice_counts"]["metadata.segment"]
    assert counts["current"] == {"free": [tally["passed"]["free"], 250], "pro": [tally["passed"]["pro"], 250]}
    assert tally["passed"]["free"] < tally["passed"]["pro"] - 40  # the planted gap is in the counts
    json_rate = drift["output"]["json_valid_rate"]
    for window in ("reference", "current"):
        assert [json_rate[window]["k"], json_rate[window]["n"]] == tally["json"][window]
    summary = summarize_slices(out["slice_counts"])["segment"]
    assert summary["field"] == "metadata.segment" and summary["window"] == "current"
    assert summary["groups"]["pro"]["n"] == 250
    assert len(out["failures"]) == 20 and all(f["window"] == "current" for f in out["failures"])


def test_the_reservoir_sample_is_capped_and_spread_over_the_window(tmp_path: Path) -> None:
    out = _run(tmp_path, [_line(i, "pro", False) for i in range(1000)], sample=50)
    shift = out["drift"]["input_shift"]
    assert shift["n_reference"] == shift["n_current"] == 50
    assert out["drift"]["windows"]["current"]["sampled"] == 50 and out["drift"]["sample_cap"] == 50
    # Algorithm R keeps every line of the window equally likely, not the first 50 lines.
    registry = default_registry()
    spec = parse_drift({"log": "log.jsonl", "reference": {"to": "2026-10-06"}, "current": {"from": "2026-10-06"},
                        "sample": 50}, tmp_path / "suite.eval.yaml", registry, lambda f, why: ValueError(why))
    scanner, _ = scan(spec, registry.checks, {})
    lines = sorted(line for line, _, _ in scanner.stats["current"].sample)
    assert len(lines) == 50 and all(501 <= n <= 1000 for n in lines)  # file lines are 1-based
    assert lines[-1] > 900 and 650 < sum(lines) / 50 < 850  # spread over the window (mean 750.5)


def test_the_aggregator_refolds_the_record(tmp_path: Path) -> None:
    out = _run(tmp_path, [_line(i, "free" if i % 3 else "pro", i % 7 == 0) for i in range(1000)])
    record = {"outcome": "passed", "drift": out["drift"], "slice_counts": out["slice_counts"]}
    first, second = DriftAggregator(), DriftAggregator()
    first.add(record)
    second.add(json.loads(json.dumps(record)))  # as read back from a report
    assert first.metrics() == second.metrics()
    assert first.metrics()["input_shift"] == out["drift"]["input_shift"]
    assert set(first.metrics()["slices"]["segment"]["groups"]) == {"free", "pro"}
    assert DriftAggregator().metrics() == {}


@pytest.mark.parametrize("window, expected", [
    ({"from": "2026-10-05", "to": "2026-10-01"}, "current.to: must be after 'from'"),
    ({"last": "1d", "from": "2026-10-01"}, "'last' cannot be combined"),
    ({"to": "2026-10-06"}, "the same range as 'reference'"),
])
def test_window_mistakes(tmp_path: Path, window: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        _run(tmp_path, [_line(0, "pro", False)], current=window)
