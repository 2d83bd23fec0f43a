"""The HTML report in a real browser: headless Chromium renders it offline to a screenshot.

Skipped when Chromium is not installed, unless ``LLMOPS_REQUIRE_CHROMIUM=1`` (CI sets it,
after installing Chromium), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.report.html import render_html
from pytest_llmops.core.stats import rate_metric

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
WIDTH, HEIGHT = 1280, 2000


def chromium() -> str:
    for candidate in CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = f"chromium not installed (looked for {', '.join(CANDIDATES)} and on PATH)"
    if os.environ.get("LLMOPS_REQUIRE_CHROMIUM") == "1":
        pytest.fail(reason + "; LLMOPS_REQUIRE_CHROMIUM=1 requires it")
    pytest.skip(reason)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def gated_report() -> dict[str, Any]:
    suites: dict[str, Any] = {}
    cases = []
    for name, passed, failed in (("functional/qa", 15, 3), ("functional/json", 12, 0),
                                 ("adversarial/injection", 18, 2)):
        metrics: dict[str, Any] = {"pass_rate": rate_metric(passed, passed + failed),
                                   "error_rate": rate_metric(0, passed + failed)}
        if name.startswith("adversarial"):
            metrics["attack_success_rate"] = rate_metric(failed, passed + failed)
        suites[name] = {"kind": name.split("/")[0], "model": "m1", "n": passed + failed, "passed": passed,
                        "failed": failed, "errors": 0, "skipped": 0, "metrics": metrics}
        for i in range(passed + failed):
            ok = i >= failed
            cases.append({"id": f"case-{i}", "suite": name, "model": "m1", "outcome": "passed" if ok else "failed",
                          "output": "fine" if ok else "<script>alert(1)</script>", "input": f"question {i}",
                          "checks": [{"name": "contains", "passed": ok, "evidence": "ok" if ok else "not found"}]})
    return {
        "schema_version": 1,
        "run": {"started_at": "2026-01-02T03:04:05+00:00", "git_sha": "0123456789abcdef",
                "models": [{"alias": "m1", "spec": "echo:m1", "fingerprint": "ab" * 32}], "env": {"device": "cpu"}},
        "suites": suites, "cases": cases,
        "gate": {"env": "prod", "decision": "BLOCK", "warnings": [],
                 "checks": [{"check": "functional/*: pass_rate.lb95 >= 0.8", "suite": "functional/qa",
                             "metric": "pass_rate.lb95", "op": ">=", "threshold": 0.8, "value": 0.83, "bound": 0.61,
                             "status": "FAIL", "reason": "0.61 >= 0.8 is false", "blocking": True}]},
    }


def test_chromium_renders_the_report_offline(tmp_path: Path) -> None:
    browser = chromium()
    html_path = tmp_path / "llmops-report.html"
    html_path.write_text(render_html(gated_report()), encoding="utf-8")
    png = tmp_path / "report.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WIDTH},{HEIGHT}",
               f"--screenshot={png}", html_path.as_uri()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish the screenshot within 120 s")
    assert png.is_file(), f"no screenshot (exit {result.returncode}):\n{result.stderr[-2000:]}"
    data = png.read_bytes()
    assert len(data) > 10_000, f"screenshot is only {len(data)} bytes"
    width, height = png_size(data)
    assert width == WIDTH
    assert height > 0


class _Dom(HTMLParser):
    """Tags and text of the DOM Chromium built (after parsing and any script)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_chromium_builds_the_report_dom_with_hostile_output_as_text(tmp_path: Path) -> None:
    browser = chromium()
    html_path = tmp_path / "llmops-report.html"
    html_path.write_text(render_html(gated_report()), encoding="utf-8")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html_path.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    dom = _Dom()
    dom.feed(result.stdout)
    text = " ".join(" ".join(dom.text).split())
    assert "script" not in dom.tags  # a model's output never becomes markup
    assert "<script>alert(1)</script>" in text  # it is shown as the text it was
    for suite in ("functional/qa", "functional/json", "adversarial/injection"):
        assert suite in text
    assert "BLOCK" in text and "functional/*: pass_rate.lb95 >= 0.8" in text
    assert "svg" in dom.tags and "table" in dom.tags
