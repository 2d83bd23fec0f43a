"""The review page in a real browser: a run -> export -> 101 labels by keyboard in headless Chromium
-> the saved file -> import -> human_review per suite -> gates on coverage and the false-pass rate.

Driven by Playwright against the system's Chromium (Debian's package, as the HTML report test
uses); skipped when either is missing unless ``LLMOPS_REQUIRE_CHROMIUM=1`` (CI), which fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from llmops_testutils import LlmProject, simple_suite
from test_html_chromium import chromium

from pytest_llmops.cli import main as llmops

HOSTILE = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
           '</script><b id=injected>bold</b>')


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (it is in the dev extra)"
        if os.environ.get("LLMOPS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason + "; LLMOPS_REQUIRE_CHROMIUM=1 requires it")
        pytest.skip(reason)
    return sync_playwright


def _suite_text() -> str:
    text = simple_suite(100, name="functional/qa", failing_every=4)
    return text + f"  - id: hostile\n    input: {json.dumps(HOSTILE)}\n    checks:\n      - contains: 'echo'\n"


def _human_verdict(case_id: str, output: str) -> str:
    """The reviewer's rule in this test: wrong-number answers and markup fail; so does c01 (a pass the checks gave)."""
    if case_id == "hostile" or case_id == "c01":
        return "f"
    number = int(case_id[1:])
    return "f" if number % 4 == 0 else ("u" if number == 2 else "p")


def test_label_a_run_by_keyboard_then_import_and_gate(project: LlmProject, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    browser_path = chromium()
    sync_playwright = _playwright()
    project.suite("functional/qa", _suite_text())
    project.run("--llm-model=echo:m1").assert_outcomes(passed=76, failed=25)
    report = project.report_path()
    assert llmops(["review", "export", str(report), "--pass-share", "1.0"]) == 0
    page_file = report.with_name("llmops-review.html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        assert page.inner_text("#progress") == "case 1 of 101 \u00b7 0 labelled"
        page.keyboard.press("r")
        page.keyboard.type("alice")
        page.keyboard.press("Enter")
        seen = set()
        for _ in range(101):
            case_id = page.inner_text(".case-id")
            output = page.inner_text(".output pre")
            seen.add(case_id)
            if case_id == "hostile":
                assert output == f"echo: {HOSTILE}"  # shown as text, exactly
                assert page.evaluate("window.__pwned") is None
                assert page.locator("#case img").count() == 0 and page.locator("#injected").count() == 0
                page.keyboard.press("n")
                page.keyboard.type("markup in the answer")
                page.keyboard.press("Enter")
            page.keyboard.press(_human_verdict(case_id, output))
        assert len(seen) == 101
        assert page.inner_text("#progress").endswith("101 labelled")
        with page.expect_download() as download:
            page.keyboard.press("s")
        labels = tmp_path / "alice.jsonl"
        download.value.save_as(labels)
        # Progress survives a reload (the browser keeps it until the file is saved and beyond).
        page.reload()
        assert page.inner_text("#progress").endswith("101 labelled")
        assert page.evaluate("window.__pwned") is None
        browser.close()
    assert requests == [page_file.as_uri()] * 2  # the page itself, twice; nothing else, ever

    lines = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 101 and {line["reviewer"] for line in lines} == {"alice"}
    hostile = next(line for line in lines if line["case"] == "hostile")
    assert (hostile["label"], hostile["note"]) == ("fail", "markup in the answer")

    assert llmops(["review", "import", str(labels), "--report", str(report)]) == 0
    section = json.loads(report.read_text(encoding="utf-8"))["suites"]["functional/qa"]["human_review"]
    assert section["coverage"] == {"value": 1.0, "labelled": 101, "cases": 101}
    assert section["undecided_unsure"] == 1  # c02
    # Humans failed 27 answers (c00, c04, ... c96, c01, hostile); the checks passed 2 of them.
    assert section["false_pass_rate"]["n"] == 27 and section["false_pass_rate"]["value"] == pytest.approx(2 / 27)
    assert section["false_fail_rate"]["value"] == 0.0

    project.write("llmops.yaml", """
        environments:
          prod:
            checks:
              - "functional/*: human_review.coverage >= 0.1"
              - "*: human_review.false_pass_rate.ub95 <= 0.3"
          strict:
            checks:
              - "*: human_review.false_pass_rate.ub95 <= 0.1"
    """)
    monkeypatch.chdir(project.path)
    assert llmops(["gate", str(report), "--env", "prod"]) == 0
    assert llmops(["gate", str(report), "--env", "strict"]) == 1
    assert "PROMOTION: BLOCK (strict)" in capsys.readouterr().out
