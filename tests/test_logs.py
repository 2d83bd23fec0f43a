"""The JSON Lines reader of logged interactions: good lines, per-line errors, streaming."""

from __future__ import annotations

import json
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pytest_llmops.logs import Interaction, LogLineError, read_interactions, user_text

GOOD = {"id": "a1", "timestamp": "2026-11-01T09:30:00Z",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                     {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Refund?"}],
        "answer": "Yes.", "model": "m-1", "metadata": {"segment": "free", "seats": 3, "trial": True},
        "contexts": ["Refunds take 5 days."], "expect_json": False, "latency_ms": 120}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_good_line_reads_every_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", [json.dumps(GOOD), "", "   ",
                                         json.dumps({"timestamp": "2026-11-01T10:00:00+02:00",
                                                     "messages": [{"role": "user", "content": "Q"}], "answer": ""})])
    first, second = list(read_interactions(path))
    assert isinstance(first, Interaction) and isinstance(second, Interaction)
    assert first.line == 1 and first.id == "a1" and first.model == "m-1"
    assert first.timestamp == datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    assert first.messages[0] == ("system", "Be brief.") and len(first.messages) == 4
    assert user_text(first) == "Refund?"  # the last user message
    assert dict(first.metadata) == {"segment": "free", "seats": 3, "trial": True}
    assert first.contexts == ("Refunds take 5 days.",) and first.expect_json is False
    # blank lines are skipped but still counted: the second interaction is line 4; its id defaults to that
    assert second.line == 4 and second.id == "4" and second.expect_json is None and second.contexts == ()
    assert second.timestamp.utcoffset().total_seconds() == 7200
    with pytest.raises(TypeError):
        first.metadata["segment"] = "pro"  # type: ignore[index]  # read-only


@pytest.mark.parametrize("change, expected", [
    ({"timestamp": "2026-10-01"}, "field 'timestamp': expected ISO 8601 with a timezone (e.g. 2026-11-01T09:30:00Z), "
                                  "got '2026-10-01'"),
    ({"timestamp": "yesterday"}, "field 'timestamp': expected ISO 8601"),
    ({"timestamp": 1730000000}, "field 'timestamp': expected ISO 8601 with a timezone (e.g. 2026-11-01T09:30:00Z), "
                                "got 1730000000"),
    ({"timestamp": None}, "field 'timestamp': expected ISO 8601"),
    ({"messages": []}, "field 'messages': expected a list of {role, content} objects"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, "field 'messages': expected at least one user message"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "field 'messages[0].role': expected one of system, user, "
                                                      "assistant, got 'bot'"),
    ({"messages": [{"role": "user", "content": 3}]}, "field 'messages[0].content': expected a string, got 3"),
    ({"messages": ["hi"]}, "field 'messages[0]': expected an object"),
    ({"answer": None}, "field 'answer': expected a string"),
    ({"metadata": {"tags": ["a"]}}, "field 'metadata.tags': expected a string, number or bool, got [\"a\"]"),
    ({"metadata": "free"}, "field 'metadata': expected an object"),
    ({"contexts": "passage"}, "field 'contexts': expected a list of strings"),
    ({"expect_json": "yes"}, "field 'expect_json': expected true or false, got 'yes'"),
    ({"id": 1.5}, "field 'id': expected a string or an integer"),
    ({"model": 4}, "field 'model': expected a string"),
])
def test_a_bad_field_names_file_line_field_and_expectation(tmp_path: Path, change: dict, expected: str) -> None:
    bad = {**GOOD, **change}
    path = _write(tmp_path / "traffic.jsonl", [json.dumps(GOOD)] * 16 + [json.dumps(bad), json.dumps(GOOD)])
    items = list(read_interactions(path))
    assert len(items) == 18
    errors = [i for i in items if isinstance(i, LogLineError)]
    assert len(errors) == 1  # one bad line never stops the others
    assert errors[0].line == 17 and isinstance(items[17], Interaction)
    assert str(errors[0]).startswith(f"{path}:17: {expected}")


@pytest.mark.parametrize("raw, expected", [
    (b'{"timestamp": ', "not valid JSON: Expecting value at column 15"),
    (b"[1, 2]", "expected a JSON object per line, got list [1, 2]"),
    (b'{"messages": [{"role": "user", "content": "x"}], "answer": "y"}', "field 'timestamp': required, missing"),
    (b'{"timestamp": "2026-11-01T09:30:00Z", "answer": "y"}', "field 'messages': required, missing"),
    (b'{"answer": "\xff\xfe"}', "not UTF-8 text (byte 12)"),
])
def test_unreadable_lines(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(raw + b"\n" + json.dumps(GOOD).encode() + b"\n")
    first, second = list(read_interactions(path))
    assert isinstance(first, LogLineError) and first.line == 1 and first.message == expected
    assert isinstance(second, Interaction) and second.line == 2


def test_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        next(read_interactions(tmp_path / "nothere.jsonl"))


def _peak_while_reading(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_interactions(path))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat_in_the_number_of_lines(tmp_path: Path) -> None:
    line = json.dumps(GOOD)
    small = _write(tmp_path / "small.jsonl", [line] * 500)
    large = _write(tmp_path / "large.jsonl", [line] * 20000)  # 40x the lines, about 8 MB
    n_small, peak_small = _peak_while_reading(small)
    n_large, peak_large = _peak_while_reading(large)
    assert (n_small, n_large) == (500, 20000)
    # Reading the whole file at once would hold its 8 MB; streaming holds one line at a time.
    assert peak_large < peak_small + 200_000, (peak_small, peak_large)
    assert peak_large < 1_000_000
