"""The shipped example log ``fixtures/logs/traffic.jsonl``: reproducible, and its planted properties hold.

The properties are measured from the log lines themselves (the project's refusal and JSON
detectors, words in the user messages), not read back from the generator's settings, so a
change to the generator that loses a planted effect fails here.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.checks.builtin import detect_refusal, extract_json
from pytest_llmops.core.stats import wilson_interval

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
LOG = FOLDER / "traffic.jsonl"
LABELS = FOLDER / "traffic_labels.json"
REFUND_WORDS = re.compile(r"\b(refund|chargeback|money back|dispute)", re.IGNORECASE)


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_traffic", FOLDER / "make_traffic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lines() -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in LOG.read_text(encoding="utf-8").splitlines() if raw.strip()]


def _window(line: dict[str, Any]) -> str:
    stamp = _dt.datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    return "reference" if stamp < _dt.datetime(2026, 10, 15, tzinfo=_dt.timezone.utc) else "current"


def _failed(line: dict[str, Any]) -> bool:
    if line.get("expect_json"):
        try:
            extract_json(line["answer"])
        except ValueError:
            return True
        return False
    return detect_refusal(line["answer"]) is not None


def test_regenerating_gives_the_same_bytes() -> None:
    log, labels = _generator().render(*_generator().generate())
    assert log.encode("utf-8") == LOG.read_bytes()
    assert labels.encode("utf-8") == LABELS.read_bytes()


def test_schema_size_and_time_span(lines: list[dict[str, Any]]) -> None:
    assert 2500 <= len(lines) <= 3500
    assert LOG.stat().st_size < 2_000_000
    assert len({line["id"] for line in lines}) == len(lines)
    for line in lines:
        assert set(line) <= {"id", "timestamp", "messages", "answer", "model", "metadata", "contexts", "expect_json"}
        assert re.fullmatch(r"2026-10-(0[1-9]|1\d|2[0-8])T\d\d:\d\d:\d\dZ", line["timestamp"])
        assert any(m["role"] == "user" and m["content"] for m in line["messages"])
        assert isinstance(line["answer"], str) and line["answer"]
        assert all(isinstance(v, (str, int, float, bool)) for v in line["metadata"].values())
        assert all(isinstance(c, str) for c in line.get("contexts", []))
    windows = Counter(_window(line) for line in lines)
    assert min(windows.values()) > 0.4 * len(lines)
    # The truth is not in the log: no line names its topic or grounding label.
    assert not any("topic" in line["metadata"] or "unsupported" in line["metadata"] for line in lines)


def test_topic_shift_is_planted(lines: list[dict[str, Any]]) -> None:
    counts = {w: [0, 0] for w in ("reference", "current")}
    for line in lines:
        user = [m["content"] for m in line["messages"] if m["role"] == "user"][-1]
        counts[_window(line)][0] += bool(REFUND_WORDS.search(user))
        counts[_window(line)][1] += 1
    ref_hi = wilson_interval(*counts["reference"])[1]
    cur_lo, cur_hi = wilson_interval(*counts["current"])
    assert ref_hi < 0.06 and 0.24 < cur_lo and cur_hi < 0.38, counts


def test_segment_gap_is_planted(lines: list[dict[str, Any]]) -> None:
    counts: dict[tuple[str, str], list[int]] = {}
    for line in lines:
        key = (_window(line), line["metadata"]["segment"])
        counts.setdefault(key, [0, 0])
        counts[key][0] += _failed(line)
        counts[key][1] += 1
    rate = {k: v[0] / v[1] for k, v in counts.items()}
    assert 0.19 < rate[("current", "free")] < 0.31, rate
    assert rate[("current", "pro")] < 0.09 and rate[("reference", "free")] < 0.09, rate
    free_lo = wilson_interval(*counts[("current", "free")])[0]
    pro_hi = wilson_interval(*counts[("current", "pro")])[1]
    assert free_lo > pro_hi  # the gap is there with room to spare


def test_labels_agree_with_the_lines(lines: list[dict[str, Any]]) -> None:
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    truth = {t["id"]: t for t in labels["lines"]}
    assert set(truth) == {line["id"] for line in lines}
    for line in lines:
        t = truth[line["id"]]
        assert t["window"] == _window(line) and t["segment"] == line["metadata"]["segment"]
        assert (t["failure"] is not None) == _failed(line), line["id"]
        assert (t["unsupported"] is not None) == ("contexts" in line and t["failure"] is None)
    shares = {}
    for window in ("reference", "current"):
        rag = [t["unsupported"] for t in truth.values() if t["window"] == window and t["unsupported"] is not None]
        shares[window] = (sum(rag), len(rag))
        assert len(rag) > 200
    assert 0.05 < shares["reference"][0] / shares["reference"][1] < 0.16, shares
    assert 0.18 < shares["current"][0] / shares["current"][1] < 0.32, shares
