"""Markdown report: structure, the character limit, and hostile model outputs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from llmops_testutils import add_usage

from pytest_llmops.core.pricing import Price
from pytest_llmops.report.markdown import render_markdown
from pytest_llmops.report.usage_text import fmt_usd
from pytest_llmops.report.safe_text import ZWSP, md_code, md_fence, md_text
from pytest_llmops.core.stats import rate_metric

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "@octocat please look",
    "![x](http://evil/x.png)",
    "[click](javascript:alert(1))",
    "```\n</code> escaped ``` fence\n```",
    "`` `a` ``` b ```` c",
    "| a | b |",
    "<!-- hidden -->",
    "<details><summary>open me</summary>",
    "visit https://evil.example/x and www.evil.example",
    "back\\slash \\| pipe",
    "line one\nline two\r\n- list item",
]


def suite_entry(kind: str, model: str, outcomes: list[str]) -> dict[str, Any]:
    passed, failed, errors = (outcomes.count(o) for o in ("passed", "failed", "error"))
    return {"kind": kind, "model": model, "n": len(outcomes), "passed": passed, "failed": failed, "errors": errors,
            "skipped": 0, "cached": 0,
            "metrics": {"pass_rate": rate_metric(passed, passed + failed), "error_rate": rate_metric(errors, len(outcomes))}}


def make_report(suites: dict[str, list[tuple[str, str, str]]], gate: dict[str, Any] | None = None,
                model: str = "m1") -> dict[str, Any]:
    """``suites``: name -> [(case id, outcome, output)]."""
    report: dict[str, Any] = {
        "schema_version": 1,
        "run": {"started_at": "2026-01-02T03:04:05+00:00", "git_sha": "0123456789abcdef0123", "plugin_version": "0.1.0",
                "models": [{"alias": model, "spec": f"echo:{model}", "fingerprint": "f" * 64}],
                "env": {"python": "3.11", "torch": None, "device": "cpu", "gpu": None}},
        "suites": {}, "cases": []}
    for name, cases in suites.items():
        report["suites"][name] = suite_entry("functional", model, [o for _, o, _ in cases])
        for index, (case_id, outcome, output) in enumerate(cases):
            case: dict[str, Any] = {
                "id": case_id, "suite": name, "model": model, "index": index, "outcome": outcome, "output": output,
                "input": [{"role": "user", "content": f"question {case_id}"}], "cached": False,
                "checks": [{"name": "contains", "arg": ["x"], "passed": outcome == "passed", "score": float(outcome == "passed"),
                            "evidence": "found" if outcome == "passed" else f"not found in {output[:40]!r}"}]}
            if outcome == "error":
                case["checks"] = []
                case["output"] = None
                case["error"] = f"infra error: {output}"
            report["cases"].append(case)
    if gate is not None:
        report["gate"] = gate
    return report


BLOCK_GATE = {
    "env": "prod", "decision": "BLOCK", "warnings": ["few samples for @octocat <b>"],
    "checks": [
        {"check": "functional/*: pass_rate.lb95 >= 0.8", "suite": "functional/qa", "metric": "pass_rate.lb95",
         "op": ">=", "threshold": 0.8, "value": 0.5, "bound": 0.31, "status": "FAIL", "reason": "0.31 >= 0.8 is false",
         "blocking": True},
        {"check": "*: errors == 0", "suite": "functional/qa", "metric": "errors", "op": "==", "threshold": 0,
         "value": 0, "bound": 0, "status": "PASS", "reason": "0 == 0", "blocking": False},
    ],
}


# -- a small CommonMark reader for the assertions ------------------------------------------------

def split_code_spans(line: str) -> tuple[str, list[str]]:
    """``line`` with inline code spans replaced by ``\\x00``, and the spans' contents (CommonMark rules)."""
    out, spans, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            out.append(line[i:i + 2])
            i += 2
            continue
        if ch == "`":
            j = i
            while j < len(line) and line[j] == "`":
                j += 1
            run = j - i
            k = j
            close = -1
            while k < len(line):
                if line[k] == "`":
                    m = k
                    while m < len(line) and line[m] == "`":
                        m += 1
                    if m - k == run:
                        close = k
                        break
                    k = m
                else:
                    k += 1
            if close < 0:
                out.append(line[i:j])
                i = j
                continue
            content = line[j:close]
            if len(content) >= 2 and content[0] == " " and content[-1] == " " and content.strip(" "):
                content = content[1:-1]
            spans.append(content)
            out.append("\x00")
            i = close + run
            continue
        out.append(ch)
        i += 1
    return "".join(out), spans


def prose_of(markdown: str) -> str:
    """Everything outside code spans (the report has no fenced blocks)."""
    return "\n".join(split_code_spans(line)[0] for line in markdown.splitlines())


UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def assert_markdown_is_inert(markdown: str) -> None:
    prose = prose_of(markdown)
    assert "<" not in prose, "raw HTML outside code"
    assert not re.search(r"(?<!\\)!\\?\[|(?<!\\)!(?=\[)", prose), "an image outside code"
    assert not re.search(r"(?<!\\)\]\(", prose), "a link outside code"
    assert "http://" not in prose and "https://" not in prose, "an autolink outside code"
    assert not re.search(r"(?<![\w\\])www\.", prose), "a www autolink outside code"
    assert "@octocat" not in markdown, "a mention"
    # Tables keep their shape: each row has as many unescaped pipes as its header.
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("| ---"):
            width = len(UNESCAPED_PIPE.findall(split_code_spans(line)[0]))
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                assert len(UNESCAPED_PIPE.findall(split_code_spans(lines[j])[0])) == width, lines[j]
                j += 1


# -- structure -------------------------------------------------------------------------------------

def test_structure_with_a_gate() -> None:
    report = make_report({"functional/qa": [("a", "passed", "ok"), ("b", "failed", "nope"), ("c", "error", "timeout")],
                          "functional/other": [("d", "passed", "fine")]}, gate=BLOCK_GATE)
    md = render_markdown(report)
    lines = md.splitlines()
    assert lines[0] == "## LLM eval report"
    assert "Gate (prod): **BLOCK**" in md and "1 of 2 checks blocking" in md
    assert "| status | check | suite | metric | condition | value | bound | reason |" in md
    # the blocking check comes first
    assert md.index("FAIL") < md.index("PASS")
    assert "| suite | kind | model | n | pass | fail | err | pass rate [95% CI] |" in md
    assert "| functional/qa | functional | m1 | 3 | 1 | 1 | 1 |" in md
    assert "Failed and error cases (1 failed, 1 errors)" in md
    failed_rows = [line for line in lines if line.startswith("| functional/qa | b |")]
    assert len(failed_rows) == 1 and "`nope`" in failed_rows[0] and "contains:" in failed_rows[0]
    error_rows = [line for line in lines if line.startswith("| functional/qa | c |")]
    assert len(error_rows) == 1 and "infra error: timeout" in error_rows[0]
    assert not any(line.startswith("| functional/other | d |") for line in lines)  # passes are not listed
    assert "`0123456789ab`" in md and "`ffffffffffff`" in md  # git sha and fingerprint, shortened
    assert "_Truncated" not in md
    assert_markdown_is_inert(md)


def test_no_gate_is_a_neutral_line() -> None:
    md = render_markdown(make_report({"s": [("a", "passed", "ok"), ("b", "passed", "ok")]}))
    assert "No gate applied" in md and "2 passed, 0 failed, 0 errors in 1 suites" in md
    assert "No failed or error cases." in md


def test_empty_report() -> None:
    md = render_markdown({"schema_version": 1, "run": {}, "suites": {}, "cases": []})
    assert md.startswith("## LLM eval report") and "No gate applied" in md


def test_tokens_and_cost_line_and_table() -> None:
    report = make_report({"functional/qa": [("a", "passed", "ok"), ("b", "passed", "ok"), ("c", "passed", "ok")],
                          "functional/<b>x|y</b>": [("d", "passed", "ok")]})
    # Inputs 10, 11, 12 and outputs 3, 4, 5 tokens (by index) at $2 / $8 per million; case "c" was cached.
    add_usage(report, price=Price(input=2.0, output=8.0), cached=("c",))
    md = render_markdown(report)
    paid = (10 * 2 + 3 * 8 + 11 * 2 + 4 * 8 + 10 * 2 + 3 * 8) / 1e6  # a, b, and d (index 0 of its suite)
    saved = (12 * 2 + 5 * 8) / 1e6
    assert f"Usage: tokens {10 + 11 + 12 + 10} in / {3 + 4 + 5 + 3} out \u00b7 cost {fmt_usd(paid)} " \
           f"(saved {fmt_usd(saved)} by the response cache)" in md
    assert "| suite | model | input tokens (p95) | output tokens (p95) | cost | saved by cache | per case |" in md
    qa_paid, qa_saved = (10 * 2 + 3 * 8 + 11 * 2 + 4 * 8) / 1e6, saved
    row = [line for line in md.splitlines() if line.startswith("| functional/qa | m1 | 33 ")]
    assert row == [f"| functional/qa | m1 | 33 (11.9) | 12 (4.9) | {fmt_usd(qa_paid)} | {fmt_usd(qa_saved)} | "
                   f"{fmt_usd((qa_paid + qa_saved) / 3)} |"]
    assert "<b>" not in md  # the hostile suite name is neutralized in this table too
    assert_markdown_is_inert(md)


def test_no_usage_section_without_token_counts() -> None:
    md = render_markdown(make_report({"s": [("a", "passed", "ok")]}))
    assert "Usage:" not in md and "### Tokens and cost" not in md


# -- limit -------------------------------------------------------------------------------------------

def many_failures(count: int) -> dict[str, Any]:
    cases = [(f"case-{i:05d}", "failed" if i % 4 else "passed", HOSTILE[i % len(HOSTILE)] * 3) for i in range(count)]
    return make_report({"functional/big": cases}, gate=BLOCK_GATE)


@pytest.mark.parametrize("limit", [65000, 20000, 3000, 1500])
def test_truncated_at_row_boundaries_within_the_limit(limit: int) -> None:
    report = many_failures(4000)
    md = render_markdown(report, limit=limit)
    assert len(md) <= limit
    assert md.rstrip().endswith("see the HTML report._")
    note = md.rstrip().splitlines()[-1]
    shown = sum(1 for line in md.splitlines() if line.startswith("| functional/big | case-"))
    expected = f"_Truncated: {3000 - shown:,} more failed cases not shown (limit {limit:,} characters); see the HTML report._"
    assert note == expected
    # every row is whole: the last table row before the note ends with its closing pipe
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert rows and all(line.endswith("|") for line in rows)
    assert_markdown_is_inert(md)


def test_default_limit_is_65000() -> None:
    md = render_markdown(many_failures(6000))
    assert 60000 < len(md) <= 65000
    assert "(limit 65,000 characters)" in md


def test_no_note_when_it_fits() -> None:
    report = many_failures(40)
    md = render_markdown(report)
    assert "_Truncated" not in md
    assert sum(1 for line in md.splitlines() if line.startswith("| functional/big | case-")) == 30


def test_many_suites_are_truncated_too() -> None:
    report = make_report({f"suite/{i:04d}": [("a", "passed", "ok")] for i in range(2000)})
    md = render_markdown(report, limit=10000)
    assert len(md) <= 10000
    assert re.search(r"_Truncated: [\d,]+ more suites not shown \(limit 10,000 characters\)", md)


# -- hostile text ------------------------------------------------------------------------------------

def test_hostile_outputs_are_neutralized() -> None:
    cases = [(f"case-{i}", "failed", text) for i, text in enumerate(HOSTILE)]
    cases.append(("<img src=x onerror=alert(2)>", "failed", "id is hostile"))
    cases.append(("@octocat", "error", "<script>alert(3)</script> @octocat"))
    report = make_report({"hostile/<b>suite</b>|x": cases}, gate={
        "env": "<i>prod</i>", "decision": "BLOCK", "warnings": ["see ![x](http://evil/x.png) @octocat"],
        "checks": [{"check": "[click](javascript:alert(1))", "suite": "| a | b |", "metric": "m", "op": "<=",
                    "threshold": 1, "value": 2, "bound": 2, "status": "FAIL", "reason": "<!-- hidden --> @octocat",
                    "blocking": True}]})
    md = render_markdown(report)
    assert_markdown_is_inert(md)
    assert "&lt;b&gt;suite&lt;/b&gt;\\|x" in md  # suite name: entities and an escaped pipe
    assert "@" + ZWSP + "octocat" in md
    # Each hostile output is shown in one table-safe code span (tested on its own below).
    for text in HOSTILE:
        assert md_code(text, 160, table=True) in md, text


def test_md_text_escapes() -> None:
    assert md_text("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert md_text("@octocat") == "@\u200boctocat"
    assert md_text("![x](http://evil/x.png)") == "\\!\\[x\\]\\(http\\:\u200b//evil/x.png\\)"
    assert md_text("| a | b |") == "\\| a \\| b \\|"
    assert md_text("a\nb") == "a\u23ceb"
    assert md_text("A & B") == "A &amp; B"
    assert md_text("- item", line_start=True) == "\\- item"
    assert md_text("x" * 50, limit=10) == "x" * 9 + "\u2026"


def test_md_code_cannot_be_closed_from_inside() -> None:
    for text in ("plain", "a ` b", "``x``", "```", "`start", "end`", "a ```` b ``` c", "`"):
        span = md_code(text)
        line, spans = split_code_spans("before " + span + " after")
        assert line == "before \x00 after", (text, span)
        assert spans == [text], (text, span)


def test_md_code_in_a_table_escapes_pipes() -> None:
    assert md_code("a | b", table=True) == "`a \\| b`"
    # a backslash before a pipe cannot un-escape it
    assert md_code("a\\|b", table=True) == "`a\\\u200b\\|b`"
    assert md_code("", table=True) == " "


def test_md_fence_is_longer_than_any_backtick_run() -> None:
    text = "before\n```\ninside\n````\nafter"
    block = md_fence(text)
    lines = block.splitlines()
    fence = lines[0].removesuffix("text")
    assert set(fence) == {"`"} and len(fence) == 5
    assert lines[-1] == fence
    assert all(not line.startswith(fence) for line in lines[1:-1])
    assert "\n".join(lines[1:-1]) == text
    assert md_fence("@octocat").count("@\u200boctocat") == 1
