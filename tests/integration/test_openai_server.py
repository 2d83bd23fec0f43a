"""The openai provider against a real OpenAI-compatible server (llama.cpp) on loopback."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest, InfraError
from pytest_llmops.providers.openai_provider import OpenAIProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow

SUITE = """
kind: functional
generation:
  max_new_tokens: 24
cases:
  - id: arithmetic
    input: "What is 2+2? Answer with a number only."
    checks:
      - contains: "4"
  - id: sky
    input: What color is the sky on a clear day?
    checks:
      - icontains: blue
"""


def test_suite_against_server(pytester: pytest.Pytester, llama_server, monkeypatch) -> None:
    monkeypatch.setenv("LLMOPS_TEST_KEY", "sk-secret-never-in-reports")
    pytester.makefile(".eval.yaml", demo=SUITE)
    spec = f"openai:smollm2@{llama_server.base_url}?api_key_env=LLMOPS_TEST_KEY"
    result = pytester.runpytest_subprocess(f"--llm-model={spec}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    text = Path(pytester.path, "reports", "llmops-report.json").read_text()
    assert "sk-secret-never-in-reports" not in text
    assert "sk-secret-never-in-reports" not in result.stdout.str() + result.stderr.str()
    cache_bytes = Path(pytester.path, ".llmops-cache", "responses.sqlite").read_bytes()
    assert b"sk-secret-never-in-reports" not in cache_bytes
    report = json.loads(text)
    assert report["run"]["models"][0]["api_key_env"] == "LLMOPS_TEST_KEY"
    assert report["run"]["engine"]["smollm2"]["generated"] == 2


def test_stream_has_finish_reason_and_matches_non_streaming(llama_server) -> None:
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{llama_server.base_url}"))
    request = GenerationRequest.prompt("What is 2+2?", params=GenerationParams(max_new_tokens=16))
    pieces = provider.stream(request)
    assert pieces and all(t2 >= t1 for (t1, _), (t2, _) in zip(pieces, pieces[1:]))
    (whole,) = provider.generate_batch([request])
    assert not isinstance(whole, InfraError)
    assert "".join(text for _, text in pieces) == whole.text


def test_endpoint_down_is_an_infra_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", demo=SUITE)
    spec = "openai:smollm2@http://127.0.0.1:9/v1?max_retries=1&timeout=2"
    result = pytester.runpytest_subprocess(f"--llm-model={spec}", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    report = json.loads(Path(pytester.path, "reports", "llmops-report.json").read_text())
    assert {c["outcome"] for c in report["cases"]} == {"error"}
    assert all("infra error" in c["error"] for c in report["cases"])
    suite = report["suites"]["demo"]
    assert suite["passed"] == 0 and suite["failed"] == 0 and suite["errors"] == 2


def test_cut_stream_is_an_infra_error_not_an_output(interrupting_server) -> None:
    """llama.cpp's default cuts a stream in flight when a new request arrives; the cut
    stream still ends with [DONE] but has no finish_reason, which must be an infra error."""
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{interrupting_server.base_url}"))
    long_request = GenerationRequest.prompt("Write a long story about a dragon.",
                                            params=GenerationParams(max_new_tokens=400))
    outcome: dict[str, object] = {}

    def consume() -> None:
        try:
            outcome["pieces"] = provider.stream(long_request)
        except InfraError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=consume)
    worker.start()
    time.sleep(1.0)  # let the long stream get under way
    short = GenerationRequest.prompt("Say hi.", params=GenerationParams(max_new_tokens=4))
    provider.generate_batch([short])
    worker.join(120)
    assert "error" in outcome, f"stream was not cut: {outcome}"
    assert "finish_reason" in str(outcome["error"])
