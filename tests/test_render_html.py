"""HTML report: escaping, self-containment, charts, large reports."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from llmops_testutils import add_usage

from pytest_llmops.core.pricing import Price
from pytest_llmops.report.usage_text import fmt_tokens, fmt_usd
from pytest_llmops.suites.faces import with_faces
from pytest_llmops.report.html import TEMPLATE_DIR, TEMPLATE_NAME, render_html
from pytest_llmops.core.stats import rate_metric

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "@octocat",
    "![x](http://evil/x.png)",
    "[click](javascript:alert(1))",
    "```\nbreak\n```",
    "| a | b |",
    "<!-- hidden -->",
    "<details>",
    "\" onmouseover=\"alert(1)",
    "</pre></details></section><h1>owned</h1>",
]


def make_report(cases_per_suite: dict[str, list[str]], *, gate: dict[str, Any] | None = None,
                outputs: list[str] | None = None, extra_metrics: dict[str, dict[str, Any]] | None = None,
                model: str = "m1") -> dict[str, Any]:
    """``cases_per_suite``: suite name -> outcomes; outputs cycle through ``outputs``."""
    outputs = outputs or ["fine"]
    report: dict[str, Any] = {
        "schema_version": 1,
        "run": {"started_at": "2026-01-02T03:04:05+00:00", "git_sha": "0123456789abcdef", "plugin_version": "0.1.0",
                "models": [{"alias": model, "spec": f"echo:{model}", "fingerprint": "ab" * 32}],
                "env": {"python": "3.11", "torch": None, "device": "cpu", "gpu": None}},
        "suites": {}, "cases": []}
    k = 0
    for name, outcomes in cases_per_suite.items():
        p, f, e = (outcomes.count(o) for o in ("passed", "failed", "error"))
        metrics: dict[str, Any] = {"pass_rate": rate_metric(p, p + f), "error_rate": rate_metric(e, len(outcomes))}
        metrics.update((extra_metrics or {}).get(name, {}))
        report["suites"][name] = {"kind": name.split("/")[0], "model": model, "n": len(outcomes), "passed": p,
                                  "failed": f, "errors": e, "skipped": 0, "cached": 0, "metrics": metrics}
        for i, outcome in enumerate(outcomes):
            out = outputs[k % len(outputs)]
            k += 1
            case: dict[str, Any] = {
                "id": f"case-{i}", "suite": name, "model": model, "index": i, "outcome": outcome, "output": out,
                "input": [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"q {i} {out}"}],
                "cached": True, "timings": {"generate_s": 0.01},
                "checks": [{"name": "contains", "arg": [out], "passed": outcome == "passed", "score": 1.0,
                            "evidence": f"evidence for {out}"}]}
            if outcome == "error":
                case["checks"], case["output"], case["error"] = [], None, f"infra error: {out}"
            report["cases"].append(case)
    if gate is not None:
        report["gate"] = gate
    return report


GATE = {"env": "prod", "decision": "BLOCK", "warnings": ["<b>warn</b> @octocat"],
        "checks": [{"check": "functional/*: pass_rate.lb95 >= 0.8", "suite": "functional/qa", "metric": "pass_rate.lb95",
                    "op": ">=", "threshold": 0.8, "value": 0.5, "bound": 0.2, "status": "FAIL",
                    "reason": "<script>alert('gate')</script>", "blocking": True}]}

PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "main", "section", "div", "span", "h1", "h2",
             "h3", "small", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "b", "br", "code", "pre",
             "details", "summary", "svg", "g", "text", "rect", "line", "path", "circle"}


def parse(html: str) -> tuple[set[str], set[str]]:
    """The tag names and attribute names of the page, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser

    tags: set[str] = set()
    attributes: set[str] = set()

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.add(tag)
            attributes.update(name for name, _ in attrs)

        def handle_comment(self, data: str) -> None:
            tags.add("<!--comment-->")

    Collector(convert_charrefs=True).feed(html)
    return tags, attributes


ATTR_URL = re.compile(r"""(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:[a-z]+:|//)""", re.I)


def assert_self_contained(html: str) -> None:
    assert not ATTR_URL.search(html), ATTR_URL.search(html)
    lowered = html.lower()
    assert "<link" not in lowered
    assert "<script" not in lowered  # no scripts at all, inline or not
    assert "@import" not in lowered and "url(" not in lowered
    assert "<iframe" not in lowered and "<object" not in lowered and "<embed" not in lowered
    assert "<img" not in lowered
    for name in parse(html)[1]:
        assert name in {"lang", "charset", "name", "content", "http-equiv", "class", "id", "href", "role", "viewbox",
                        "width", "height", "preserveaspectratio", "font-family", "font-size", "font-weight", "x", "y",
                        "x1", "x2", "y1", "y2", "d", "fill", "fill-opacity", "stroke", "stroke-width", "text-anchor",
                        "cx", "cy", "r", "title"}, name
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))


def test_hostile_outputs_are_escaped() -> None:
    outcomes = ["failed", "passed", "error"] * 4
    report = make_report({"functional/qa": outcomes, "adversarial/<b>x</b>": ["failed"] * len(HOSTILE)},
                         outputs=HOSTILE, gate=GATE)
    report["cases"][0]["id"] = "<img src=y onerror=alert(9)>"
    report["cases"][1]["checks"][0]["name"] = "\" onclick=\"alert(2)"
    report["run"]["models"][0]["alias"] = "<svg onload=alert(3)>"
    html = render_html(report)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x onerror=alert(1)>" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=y" not in html and "<svg onload" not in html
    assert "<!-- hidden -->" not in html and "&lt;!-- hidden --&gt;" in html
    assert "<h1>owned</h1>" not in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # suite name, in tables and chart labels
    assert "&lt;script&gt;alert(&#39;gate&#39;)&lt;/script&gt;" in html
    tags, attributes = parse(html)
    assert not [a for a in attributes if a.startswith("on")]  # no handler became an attribute
    assert tags <= PAGE_TAGS, tags - PAGE_TAGS  # only the page's own elements
    # the page's own <details> are the only ones: one per case shown, never the raw output
    assert html.count("<details") == len(report["cases"])
    assert html.count("<details>") == 0
    assert_self_contained(html)


def test_gate_banner_and_run_info() -> None:
    report = make_report({"functional/qa": ["passed", "failed"]}, gate=GATE)
    html = render_html(report)
    assert 'class="banner block"' in html and "Gate (prod): BLOCK" in html
    assert "1 of 1 checks blocking" in html
    assert html.index("Gate (prod): BLOCK") < html.index("<svg")  # the banner is at the top
    assert "0123456789ab" in html and "0123456789abcdef" not in html  # git sha shortened
    assert "abababababab" in html and "ab" * 32 not in html  # fingerprint shortened
    allow = dict(GATE, decision="ALLOW", checks=[dict(GATE["checks"][0], status="PASS", blocking=False)])
    html = render_html(make_report({"functional/qa": ["passed"]}, gate=allow))
    assert 'class="banner allow"' in html and "Gate (prod): ALLOW" in html


def test_tokens_and_cost_in_run_facts_suite_metrics_and_cases() -> None:
    report = make_report({"functional/qa": ["passed", "failed"]})
    # Inputs 10, 11 and outputs 3, 4 tokens at $1 / $5 per million; case-1 came from the response cache.
    add_usage(report, price=Price(input=1.0, output=5.0), cached=("case-1",))
    html = render_html(report)
    paid, saved = (10 * 1 + 3 * 5) / 1e6, (11 * 1 + 4 * 5) / 1e6
    assert (f"<span><b>usage</b>tokens 21 in / 7 out \u00b7 cost {fmt_usd(paid)} (saved {fmt_usd(saved)} "
            "by the response cache)</span>") in html
    # The suite's other metrics: p95 of two cases interpolates (10.95 and 3.95 tokens).
    assert f"tokens: in 21 (p95 {fmt_tokens(10.95)}) \u00b7 out 7 (p95 {fmt_tokens(3.95)})" in html
    assert f"cost: {fmt_usd(paid)}; {fmt_usd((paid + saved) / 2)} per case; saved {fmt_usd(saved)}" in html
    assert "<span><b>input_tokens</b>11</span>" in html  # a case's own facts
    assert f"<span><b>cost</b>$0 (saved {fmt_usd(saved)})</span>" in html
    assert f"<span><b>cost</b>{fmt_usd(paid)}</span>" in html
    plain = render_html(make_report({"functional/qa": ["passed"]}))
    assert "<b>usage</b>" not in plain and "<b>cost</b>" not in plain


def test_no_gate_is_neutral_with_counts() -> None:
    html = render_html(make_report({"functional/qa": ["passed", "failed", "error"], "functional/b": ["passed"]}))
    assert 'class="banner neutral"' in html and "No gate applied" in html
    assert "2 passed, 1 failed, 1 errors in 2 suites" in html


def test_suite_table_and_cases() -> None:
    html = render_html(make_report({"functional/qa": ["passed", "failed", "error"]}))
    assert "<td>functional</td>" in html and "0.50 [" in html  # pass rate 1/2 with its interval
    # failed and error cases come before passes
    order = re.findall(r'<details class="case (\w+)">', html)
    assert order == ["failed", "error", "passed"]
    assert "evidence for fine" in html and "infra error: fine" in html and "be brief" in html


def test_charts_present_when_the_data_exists() -> None:
    rnd = random.Random(0)
    extra = {
        "adversarial/injection": {"attack_success_rate": {**rate_metric(3, 20), "by_category": {
            "jailbreak": rate_metric(2, 10), "<b>leak</b>": rate_metric(1, 10)}}},
        "latency/chat": {"ttft_ms": {"value": 110.0, "p95": 190.0, "samples": [rnd.gauss(110, 20) for _ in range(500)]}},
        "regression/sum": {"similarity": {"value": 0.9, "ci95": [0.85, 0.93],
                                          "delta": {"value": -0.04, "ci95": [-0.07, -0.01]}}},
    }
    report = make_report({"functional/qa": ["passed"] * 5, "adversarial/injection": ["passed", "failed"],
                          "latency/chat": ["passed"], "regression/sum": ["passed"]}, extra_metrics=extra)
    history = [{"started_at": f"2026-01-0{d}T00:00:00+00:00", "git_sha": str(d) * 7, "models": ["m1"], "gate": None,
                "suites": {"functional/qa": {"pass_rate": 0.5 + d / 20, "n": 5, "errors": 0}}} for d in range(1, 6)]
    html = render_html(with_faces(report), history)
    assert html.count("<svg") == 5
    for title in ("Key metric per suite", "Attack success per category", "ttft_ms: cumulative distribution",
                  "Deltas vs. baseline", "Pass rate per suite over the last 6 runs"):
        assert title in html, title
    assert "adversarial/injection \u00b7 jailbreak" in html and "&lt;b&gt;leak&lt;/b&gt;" in html
    # Each suite leads with its own kind's headline: the attack success rate, not the pass rate.
    assert "adversarial/injection \u00b7 attack success: 0.150" in html
    assert "functional/qa \u00b7 pass rate: 1.000" in html
    assert_self_contained(html)
    # without the optional data only the key-metric chart is drawn
    plain = render_html(with_faces(make_report({"functional/qa": ["passed"]})))
    assert plain.count("<svg") == 1 and "Key metric per suite (95% interval)" in plain


def test_history_point_for_the_current_run_is_not_duplicated() -> None:
    report = make_report({"functional/qa": ["passed"]})
    same = {"started_at": report["run"]["started_at"], "git_sha": report["run"]["git_sha"], "models": ["m1"],
            "gate": None, "suites": {"functional/qa": {"pass_rate": 1.0, "n": 1, "errors": 0}}}
    html = render_html(report, [same])
    assert "over the last 1 runs" in html


def test_large_report_is_paginated_and_fast() -> None:
    rnd = random.Random(1)
    outcomes = ["failed" if rnd.random() < 0.01 else "passed" for _ in range(10_000)]
    report = make_report({"functional/big": outcomes, "functional/small": ["passed"] * 3},
                         outputs=[f"output {i} " + "x" * 200 for i in range(50)])
    start = time.perf_counter()
    html = render_html(report)
    seconds = time.perf_counter() - start
    print(f"\nrender_html: 10,003 cases in {seconds:.3f} s, {len(html) / 1e6:.2f} MB")
    assert "showing 200 of 10000 cases; the full list is in llmops-report.json" in html
    assert html.count("<details") == 203
    big = html[html.index('id="suite-0"'):html.index('id="suite-1"')]
    shown = re.findall(r'<details class="case (\w+)">', big)
    failures = outcomes.count("failed")
    assert 50 < failures < 200
    assert shown == ["failed"] * failures + ["passed"] * (200 - failures)
    assert len(html) < 3_000_000


def test_total_cap_prefers_failures_of_every_suite() -> None:
    suites = {f"functional/s{i}": ["passed"] * 50 + ["failed"] for i in range(10)}
    html = render_html(make_report(suites), max_cases_per_suite=20, max_cases_total=30)
    assert html.count("<details") == 30
    assert html.count('<details class="case failed">') == 10
    assert html.count("showing") == 10


def test_huge_output_is_clipped() -> None:
    report = make_report({"functional/qa": ["failed"]}, outputs=["y" * 100_000])
    html = render_html(report)
    assert "more characters in llmops-report.json" in html
    assert len(html) < 100_000


def test_template_is_packaged_next_to_the_module() -> None:
    assert (TEMPLATE_DIR / TEMPLATE_NAME).is_file()


def test_renderers_do_not_import_jinja2_until_used(tmp_path: Path) -> None:
    code = ("import json, sys\n"
            "import pytest_llmops.report.html, pytest_llmops.report.markdown, pytest_llmops.report.diff\n"
            "import pytest_llmops.report.history, pytest_llmops.report.charts\n"
            "before = 'jinja2' in sys.modules\n"
            "pytest_llmops.report.html.render_html({'suites': {}, 'cases': []})\n"
            "print(json.dumps([before, 'jinja2' in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout) == [False, True]


def test_real_report_shape_renders(tmp_path: Path) -> None:
    """A report written by the plugin's own builder renders (python-test records included)."""
    from pytest_llmops.report.json_report import ReportBuilder

    builder = ReportBuilder(tmp_path)
    builder.add({"id": "capital", "suite": "functional/qa", "model": "m1", "kind": "functional", "outcome": "failed",
                 "output": "<b>Lyon</b>", "checks": [{"name": "icontains", "passed": False, "evidence": "no match",
                                                       "arg": ["paris"], "score": 0.0}], "input": "Capital?"})
    builder.add({"id": "test_x", "suite": "tests/test_a", "model": "m1", "subject": "python", "outcome": "error",
                 "input": None, "output": None, "checks": [], "error": "InfraError: boom", "generations": []})
    path = builder.write(tmp_path / "llmops-report.json", {"started_at": "2026-01-01T00:00:00+00:00", "models": []})
    builder.close()
    html = render_html(json.loads(path.read_text()))
    assert "&lt;b&gt;Lyon&lt;/b&gt;" in html and "InfraError: boom" in html and "no output" in html
