"""Markdown eval diff: metric deltas, arrows, inconclusive intervals, flips, new/removed, gates."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from llmops_testutils import add_usage

from pytest_llmops.core.pricing import Price
from pytest_llmops.report.usage_text import fmt_usd
from pytest_llmops.suites.faces import with_faces
from pytest_llmops.report.diff import diff_reports, metric_change
from pytest_llmops.core.stats import rate_metric

from test_render_markdown import assert_markdown_is_inert


def metric(value: float, lo: float, hi: float, n: int = 100) -> dict[str, Any]:
    return {"value": value, "ci95": [lo, hi], "n": n}


def make(suites: dict[str, dict[str, Any]], cases: list[tuple[str, str, str, str]],
         gate: dict[str, Any] | None = None, sha: str = "a" * 40) -> dict[str, Any]:
    """``suites``: name -> metrics; ``cases``: (suite, id, outcome, output). A suite's kind is the
    first part of its name, and its report face that kind's (as ``llmops diff`` fills it in)."""
    report: dict[str, Any] = {"schema_version": 1,
                              "run": {"git_sha": sha, "started_at": "2026-01-01T00:00:00+00:00", "models": []},
                              "suites": {}, "cases": []}
    for name, metrics in suites.items():
        own = [c for c in cases if c[0] == name]
        p, f, e = (sum(1 for c in own if c[2] == o) for o in ("passed", "failed", "error"))
        report["suites"][name] = {"kind": name.split("/")[0], "model": "m1", "n": len(own), "passed": p, "failed": f,
                                  "errors": e, "metrics": metrics}
    for suite, case_id, outcome, output in cases:
        report["cases"].append({
            "suite": suite, "id": case_id, "model": "m1", "outcome": outcome, "output": output,
            "checks": [{"name": "contains", "passed": outcome == "passed", "evidence": f"looked at {output[:30]}"}]})
    if gate is not None:
        report["gate"] = gate
    return with_faces(report)


def table_rows(markdown: str, heading: str) -> list[str]:
    """The body rows of the table under the heading that starts with ``heading``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("### "):
            break
        if line.startswith("|") and not line.startswith("| ---") and not line.startswith("| suite |"):
            rows.append(line)
    return rows


BASE_SUITES = {
    "functional/qa": {"pass_rate": metric(0.95, 0.90, 0.98), "error_rate": metric(0.0, 0.0, 0.04)},
    "adversarial/inj": {"pass_rate": metric(0.80, 0.70, 0.88), "attack_success_rate": metric(0.30, 0.22, 0.40)},
    "latency/chat": {"pass_rate": metric(1.0, 0.9, 1.0), "ttft_ms": metric(100.0, 90.0, 110.0)},
    "functional/gone": {"pass_rate": metric(1.0, 0.5, 1.0)},
}
HEAD_SUITES = {
    "functional/qa": {"pass_rate": metric(0.60, 0.50, 0.70), "error_rate": metric(0.0, 0.0, 0.04)},  # worse
    "adversarial/inj": {"pass_rate": metric(0.84, 0.75, 0.90), "attack_success_rate": metric(0.10, 0.05, 0.17)},
    "latency/chat": {"pass_rate": metric(1.0, 0.9, 1.0), "ttft_ms": metric(105.0, 95.0, 115.0)},
    "functional/new": {"pass_rate": metric(1.0, 0.5, 1.0)},
}
BASE_CASES = [("functional/qa", "flip-bad", "passed", "Paris"), ("functional/qa", "flip-good", "failed", "Lyon"),
              ("functional/qa", "stable", "passed", "ok"), ("functional/qa", "removed-case", "passed", "x"),
              ("functional/qa", "to-error", "passed", "x"), ("functional/gone", "g1", "passed", "x")]
HEAD_CASES = [("functional/qa", "flip-bad", "failed", "Marseille"), ("functional/qa", "flip-good", "passed", "Paris"),
              ("functional/qa", "stable", "passed", "ok"), ("functional/qa", "added-case", "failed", "y"),
              ("functional/qa", "to-error", "error", "x"), ("functional/new", "n1", "passed", "x")]


@pytest.fixture
def diff() -> str:
    base = make(BASE_SUITES, BASE_CASES, gate={"env": "prod", "decision": "ALLOW", "checks": []}, sha="b" * 40)
    head = make(HEAD_SUITES, HEAD_CASES, gate={"env": "prod", "decision": "BLOCK", "checks": []}, sha="c" * 40)
    return diff_reports(base, head)


def test_metric_deltas_arrows_and_intervals(diff: str) -> None:
    rows = table_rows(diff, "### Metrics")
    by_key = {tuple(cell.strip() for cell in row.split(" | ")[:2]): row for row in rows}
    qa = by_key[("| functional/qa", "pass\\_rate")]
    assert "0.950 \\[0.900, 0.980\\]" in qa and "0.600 \\[0.500, 0.700\\]" in qa  # both intervals
    assert "\u2b07\ufe0f worse" in qa and "inconclusive" not in qa and "-0.35" in qa
    asr = by_key[("| adversarial/inj", "attack\\_success\\_rate")]
    assert "\u2b06\ufe0f better" in asr and "inconclusive" not in asr  # lower is better, intervals apart
    inj = by_key[("| adversarial/inj", "pass\\_rate")]
    assert "\u2b06\ufe0f better (inconclusive)" in inj  # 0.80 -> 0.84, intervals overlap
    ttft = by_key[("| latency/chat", "ttft\\_ms")]
    assert "\u2b07\ufe0f worse (inconclusive)" in ttft  # *_ms: lower is better
    assert "\u27a1\ufe0f unchanged" in by_key[("| latency/chat", "pass\\_rate")]
    assert "\u27a1\ufe0f unchanged" in by_key[("| functional/qa", "error\\_rate")]
    # significant changes are listed first: worse, then better
    assert rows.index(qa) == 0 and rows.index(asr) == 1
    assert not any("functional/gone" in row or "functional/new" in row for row in rows)


def test_flips_regressions_first(diff: str) -> None:
    regressions = table_rows(diff, "### Regressions: passed \u2192 failed (1)")
    improvements = table_rows(diff, "### Improvements: failed \u2192 passed (1)")
    others = table_rows(diff, "### Other outcome changes (1)")
    assert len(regressions) == 1 and "flip-bad" in regressions[0] and "`Marseille`" in regressions[0]
    assert "passed \u2192 failed" in regressions[0] and "looked at Marseille" in regressions[0]
    assert len(improvements) == 1 and "flip-good" in improvements[0]
    assert len(others) == 1 and "to-error" in others[0] and "passed \u2192 error" in others[0]
    assert diff.index("### Regressions") < diff.index("### Improvements") < diff.index("### Other outcome changes")
    assert "1 regressed case, 1 improved case, 1 other outcome change" in diff


def test_new_and_removed(diff: str) -> None:
    assert [r.split(" | ")[0] for r in table_rows(diff, "### New suites (1)")] == ["| functional/new"]
    assert [r.split(" | ")[0] for r in table_rows(diff, "### Removed suites (1)")] == ["| functional/gone"]
    new_cases = table_rows(diff, "### New cases (1)")
    removed_cases = table_rows(diff, "### Removed cases (1)")
    # cases of new or removed suites are covered by the suite rows
    assert len(new_cases) == 1 and "added-case" in new_cases[0]
    assert len(removed_cases) == 1 and "removed-case" in removed_cases[0]


def test_gate_change_line(diff: str) -> None:
    assert "**Gate (prod): ALLOW \u2192 BLOCK**" in diff
    base = make({}, [], gate=None)
    head = make({}, [], gate={"env": "staging", "decision": "ALLOW", "checks": []})
    assert "**Gate (staging): none \u2192 ALLOW**" in diff_reports(base, head)
    both = diff_reports(make({}, [], gate={"env": "prod", "decision": "BLOCK"}),
                        make({}, [], gate={"env": "prod", "decision": "BLOCK"}))
    assert "**Gate (prod): BLOCK \u2192 BLOCK** (unchanged)" in both
    assert "Gate" not in diff_reports(make({}, []), make({}, []))


def test_identical_reports() -> None:
    report = make(BASE_SUITES, BASE_CASES)
    text = diff_reports(report, copy.deepcopy(report))
    assert "0 regressed cases, 0 improved cases, 0 other outcome changes" in text
    assert "\u2b06" not in text and "\u2b07" not in text
    assert "### Regressions" not in text and "_Truncated" not in text


def test_metric_change_rules() -> None:
    up = metric_change("pass_rate", metric(0.5, 0.4, 0.6), metric(0.9, 0.8, 0.95))
    assert up == {"delta": pytest.approx(0.4), "direction": "better", "inconclusive": False, "no_interval": False}
    assert metric_change("error_rate", metric(0.1, 0.05, 0.2), metric(0.15, 0.1, 0.25))["direction"] == "worse"
    # Which metrics are better when smaller comes from the suite's report face.
    assert metric_change("policy_violation_rate", metric(0.2, 0, 1), metric(0.1, 0, 1),
                         {"face": {"lower_is_better": ["violation_rate"]}})["direction"] == "better"
    assert metric_change("total_ms", metric(10, 9, 11), metric(5, 4, 6), {"face": {"lower_is_better": ["_ms"]}}
                         )["direction"] == "better"
    assert metric_change("total_ms", metric(10, 9, 11), metric(5, 4, 6))["direction"] == "worse"  # no face
    touching = metric_change("pass_rate", metric(0.5, 0.4, 0.6), metric(0.7, 0.6, 0.8))
    assert touching["inconclusive"] is True  # shared endpoint: the intervals overlap
    no_ci = metric_change("score", {"value": 1.0}, {"value": 2.0})
    assert no_ci["direction"] == "better" and no_ci["no_interval"] is True and no_ci["inconclusive"] is False
    assert metric_change("pass_rate", {"value": None, "ci95": [0, 1]}, metric(1, 0, 1)) is None


def test_multi_model_cases_match_by_suite_model_and_id() -> None:
    base = make({"s": {"pass_rate": rate_metric(2, 2)}}, [])
    head = make({"s": {"pass_rate": rate_metric(1, 2)}}, [])
    base["cases"] = [{"suite": "s", "id": "a", "model": "m1", "outcome": "passed", "output": ""},
                     {"suite": "s", "id": "a", "model": "m2", "outcome": "passed", "output": ""}]
    head["cases"] = [{"suite": "s", "id": "a", "model": "m1", "outcome": "passed", "output": ""},
                     {"suite": "s", "id": "a", "model": "m2", "outcome": "failed", "output": ""}]
    rows = table_rows(diff_reports(base, head), "### Regressions")
    assert len(rows) == 1 and "| m2 |" in rows[0]


HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "@octocat", "![x](http://evil/x.png)",
           "[click](javascript:alert(1))", "```\nbreak out\n```", "| a | b |", "<!-- hidden -->", "<details>"]


def test_hostile_text_is_neutralized() -> None:
    base_cases = [("hostile/<b>s</b>", f"@octocat-{i}", "passed", "fine") for i in range(len(HOSTILE))]
    head_cases = [("hostile/<b>s</b>", f"@octocat-{i}", "failed", text) for i, text in enumerate(HOSTILE)]
    head_cases.append(("hostile/<b>s</b>", "[new](http://evil)", "failed", "<script>x</script>"))
    suites = {"hostile/<b>s</b>": {"pass_rate": metric(1.0, 0.7, 1.0)}}
    head_suites = {"hostile/<b>s</b>": {"pass_rate": metric(0.0, 0.0, 0.3)}, "![img](http://evil/y.png)": {}}
    text = diff_reports(make(suites, base_cases, gate={"env": "<i>x</i>", "decision": "ALLOW"}),
                        make(head_suites, head_cases, gate={"env": "<i>x</i>", "decision": "@octocat"}))
    assert_markdown_is_inert(text)
    assert "&lt;b&gt;s&lt;/b&gt;" in text and "&lt;i&gt;x&lt;/i&gt;" in text


def test_limit_with_truncation_note() -> None:
    base_cases = [("functional/big", f"case-{i:05d}", "passed", "x" * 100) for i in range(5000)]
    head_cases = [("functional/big", f"case-{i:05d}", "failed", "<b>" * 40) for i in range(5000)]
    suites = {"functional/big": {"pass_rate": metric(1.0, 0.99, 1.0)}}
    base, head = make(suites, base_cases), make(suites, head_cases)
    for limit in (65000, 8000):
        text = diff_reports(base, head, limit=limit)
        assert len(text) <= limit
        shown = len(table_rows(text, "### Regressions"))
        assert 0 < shown < 5000
        note = text.rstrip().splitlines()[-1]
        assert note == (f"_Truncated: {5000 - shown:,} more regressions not shown (limit {limit:,} characters); "
                        "see the full reports._")
        assert all(line.endswith("|") for line in text.splitlines() if line.startswith("|"))
        assert re.search(r"5,000 regressed cases", text)
    assert len(diff_reports(base, head)) <= 65000


def _priced(cases: list[tuple[str, str, str, str]], price: Price, cached: tuple[str, ...] = (),
            extra_out: int = 0) -> dict[str, Any]:
    """A report whose cases have tokens (input: 10 + len(output), output: len(output) + extra_out)."""
    suites = {name: {"pass_rate": metric(1.0, 0.5, 1.0)} for name in dict.fromkeys(c[0] for c in cases)}
    return add_usage(make(suites, cases), price=price, cached=cached,
                     tokens=lambda case: (10 + len(case["output"]), len(case["output"]) + extra_out))


def usage_rows(markdown: str) -> list[str]:
    return [row for row in table_rows(markdown, "### Cost and tokens") if not row.startswith("| scope |")]


CASES = [("functional/qa", "a", "passed", "Paris"), ("functional/qa", "b", "passed", "Lyon"),
         ("safety/x", "c", "passed", "no")]


def test_cost_and_token_changes() -> None:
    price = Price(input=1.0, output=10.0)
    base = _priced(CASES, price, cached=("a", "b", "c"))  # the base ran from the cache: it paid nothing
    head = _priced([c if c[0] != "functional/qa" else c[:3] + (c[3] + " France",) for c in CASES], price)
    text = diff_reports(base, head)
    rows = usage_rows(text)
    base_list = (10 + 5 + 5 * 10) + (10 + 4 + 4 * 10) + (10 + 2 + 2 * 10)  # input + output x $10, per million
    head_list = (10 + 12 + 12 * 10) + (10 + 11 + 11 * 10) + (10 + 2 + 2 * 10)
    assert rows[0] == (f"| run | cost paid | $0 | {fmt_usd(head_list / 1e6)} | +{fmt_usd(head_list / 1e6)} | "
                       "\u2b07\ufe0f worse |")
    assert rows[1] == (f"| run | cost at list prices | {fmt_usd(base_list / 1e6)} | {fmt_usd(head_list / 1e6)} | "
                       f"+{fmt_usd((head_list - base_list) / 1e6)} | \u2b07\ufe0f worse |")
    assert rows[2] == "| run | input tokens | 41 | 55 | +14 | \u2b07\ufe0f worse |"
    assert rows[3] == "| run | output tokens | 11 | 25 | +14 | \u2b07\ufe0f worse |"
    assert "| functional/qa | output tokens per case | 4.5 | 11.5 | +7 | \u2b07\ufe0f worse |" in rows
    assert not any(row.startswith("| safety/x |") for row in rows)  # unchanged suites are not listed
    assert_markdown_is_inert(text)
    # Backwards: fewer tokens are better.
    back = usage_rows(diff_reports(head, base))
    assert "| run | output tokens | 25 | 11 | -14 | \u2b06\ufe0f better |" in back


def test_no_cost_section_for_reports_without_usage() -> None:
    report = make(BASE_SUITES, BASE_CASES)
    assert "### Cost and tokens" not in diff_reports(report, copy.deepcopy(report))
    priced = _priced(CASES, Price(1.0, 1.0))
    rows = usage_rows(diff_reports(priced, copy.deepcopy(priced)))
    assert len(rows) == 4 and all(row.endswith("\u27a1\ufe0f unchanged |") for row in rows)
