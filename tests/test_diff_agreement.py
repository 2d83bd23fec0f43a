"""The candidate-vs-baseline agreement line (``metrics["agreement"]``): its text from full,
partial and broken blocks, and where it shows: ``llmops diff``, the PR comment, the Markdown
and HTML reports and ``llmops show``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pytest_llmops.cli.show import summary_table
from pytest_llmops.integrations.github import build_comment_body
from pytest_llmops.report.agreement import agreement_line, markdown_agreement_items, percent
from pytest_llmops.report.diff import diff_reports
from pytest_llmops.report.html import render_html
from pytest_llmops.report.markdown import render_markdown

from test_diff_pairing import BASE_QA, HEAD_QA, report_on
from test_render_markdown import assert_markdown_is_inert

FULL = {"n": 220, "same_output": {"value": 0.93, "lb95": 0.89, "ub95": 0.96, "n": 220}, "semantic": {"mean": 0.97},
        "worse": 12, "better": 3, "ties": 1, "net_change": {"value": -0.041, "ci95": [-0.07, -0.015]},
        "tolerance": 0.02, "decision": "regressed", "worse_cases": ["id1"], "better_cases": ["id2"], "gate": True}
FULL_LINE = ("candidate vs baseline: 93% same output, semantic agreement 0.97, 12 changed for the worse / "
             "3 for the better (net -4.1% [-7.0%, -1.5%]) \u2192 regressed")


def test_a_full_block() -> None:
    assert agreement_line(FULL) == FULL_LINE


@pytest.mark.parametrize("block, line", [
    ({"same_output": {"value": 0.5}}, "candidate vs baseline: 50% same output"),
    ({"same_output": 0.25, "decision": "non_inferior"}, "candidate vs baseline: 25% same output \u2192 non_inferior"),
    ({"decision": "inconclusive"}, "candidate vs baseline: inconclusive"),
    ({"worse": 4}, "candidate vs baseline: 4 changed for the worse"),
    ({"better": 2, "net_change": {"value": 0.01}}, "candidate vs baseline: 2 changed for the better (net +1.0%)"),
    ({"net_change": {"value": -0.2, "ci95": [-0.3, "x"]}}, "candidate vs baseline: net -20.0%"),  # broken interval
    ({"semantic": {"mean": 0.912}, "worse": 0, "better": 0},
     "candidate vs baseline: semantic agreement 0.91, 0 changed for the worse / 0 for the better"),
    ({"same_output": {"value": 0.998}, "decision": "regressed", "gate": False},
     "candidate vs baseline: 99.8% same output \u2192 regressed (not gated)"),
])
def test_a_partial_block_shows_what_it_has(block: dict[str, Any], line: str) -> None:
    assert agreement_line(block) == line


@pytest.mark.parametrize("block", [None, {}, [], "regressed", {"n": 220, "tolerance": 0.02},
                                   {"same_output": {"value": None}, "worse": "many", "semantic": 0.9,
                                    "net_change": {"value": float("nan")}, "decision": None, "better": True}])
def test_nothing_to_show_gives_no_line(block: Any) -> None:
    assert agreement_line(block) is None


def test_the_change_of_the_same_output_rate_since_the_base() -> None:
    base = {**FULL, "same_output": {"value": 0.95}}
    assert agreement_line(FULL, base) == FULL_LINE + "; same output 95% in base (-2.0 pts)"
    assert agreement_line(FULL, {"decision": "regressed"}) == FULL_LINE  # the base has no rate
    assert agreement_line({"decision": "regressed"}, base) == "candidate vs baseline: regressed"


def test_percent_never_rounds_to_all_or_none() -> None:
    assert [percent(x) for x in (0.0, 0.001, 0.5, 0.9949, 0.999, 1.0)] == ["0%", "0.1%", "50%", "99%", "99.9%",
                                                                            "100%"]


def test_decision_text_is_neutralized() -> None:
    hostile = {"decision": "<img src=x onerror=alert(1)> @octocat [x](http://evil)\nnext"}
    (item,) = markdown_agreement_items({"<b>s</b>": {"metrics": {"agreement": hostile}}})
    assert_markdown_is_inert(item)
    assert "\n" not in item and "&lt;b&gt;s&lt;/b&gt;" in item
    assert "\n" not in agreement_line(hostile)  # plain text: one line too


def with_agreement(report: dict[str, Any], suite: str, block: dict[str, Any]) -> dict[str, Any]:
    report = copy.deepcopy(report)
    report["suites"][suite]["metrics"]["agreement"] = block
    return report


@pytest.fixture
def pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """Base and head, one model each; the head's regression suite has a full block, the base's
    an older one (97% same output); the other suite has none."""
    base = report_on({"m": {"regression/qa": BASE_QA, "functional/other": BASE_QA}}, sha="b" * 40)
    head = report_on({"m": {"regression/qa": HEAD_QA, "functional/other": HEAD_QA}}, sha="c" * 40)
    return (with_agreement(base, "regression/qa", {**FULL, "same_output": {"value": 0.97}}),
            with_agreement(head, "regression/qa", FULL))


def agreement_items(markdown: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index("### Candidate vs baseline agreement")
    items = []
    for line in lines[start + 1:]:
        if line.startswith("### "):
            break
        if line.startswith("- "):
            items.append(line)
    return items


def test_llmops_diff_shows_the_line_and_the_change(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    text = diff_reports(*pair)
    assert agreement_items(text) == [f"- **regression/qa**: {FULL_LINE}; same output 97% in base (-4.0 pts)"]
    assert text.index("### Metrics") < text.index("### Candidate vs baseline") < text.index("### Regressions")
    # a head without a block: no section, whatever the base had
    base, head = pair
    del head["suites"]["regression/qa"]["metrics"]["agreement"]
    assert "Candidate vs baseline" not in diff_reports(base, head)


def test_llmops_diff_pairs_the_block_across_a_model_swap() -> None:
    base = with_agreement(report_on({"a": {"regression/qa": BASE_QA}}), "regression/qa", {"same_output": 0.9})
    head = with_agreement(report_on({"b": {"regression/qa": HEAD_QA}}), "regression/qa", {"same_output": 0.8})
    assert agreement_items(diff_reports(base, head)) == [
        "- **regression/qa**: candidate vs baseline: 80% same output; same output 90% in base (-10.0 pts)"]


def test_the_pr_comment_has_the_line(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = pair
    with_base = build_comment_body(head, base, None, None, "pointer")
    assert f"- **regression/qa**: {FULL_LINE}; same output 97% in base (-4.0 pts)" in with_base
    without_base = build_comment_body(head, None, None, None, "pointer")  # the head's report instead of a diff
    assert f"- **regression/qa**: {FULL_LINE}\n" in without_base


def test_markdown_html_and_show_have_the_line(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    head = pair[1]
    markdown = render_markdown(head)
    assert agreement_items(markdown) == [f"- **regression/qa**: {FULL_LINE}"]
    assert FULL_LINE in render_html(head)
    shown = summary_table(head).splitlines()
    at = next(i for i, line in enumerate(shown) if line.startswith("  regression/qa "))
    assert shown[at + 1] == "    " + FULL_LINE
    assert sum(1 for line in shown if "candidate vs baseline" in line) == 1  # not under functional/other


def test_a_truncated_report_counts_the_lines_it_left_out(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    head = pair[1]
    for number in range(40):
        head["suites"][f"regression/s{number:02d}"] = copy.deepcopy(head["suites"]["regression/qa"])
    text = render_markdown(head, limit=9000)
    shown = len(agreement_items(text))
    assert len(text) <= 9000 and 0 < shown < 41  # cut between whole lines
    assert f"{41 - shown:,} more agreement lines" in text.splitlines()[-1]
