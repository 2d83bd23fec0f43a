"""Secrets stay secret under faults: an endpoint that echoes the request's key back in its error
bodies never gets the key into the terminal, the report, the HTML/Markdown (the PR comment's
source), the gate artifact or the cache."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from llmops_testutils import LlmProject
from pytest_llmops.providers.openai_provider import redact

SECRET = "sk-planted-7f3a9c1e5b2d4068SECRET"


class EchoingErrors:
    """An OpenAI-compatible endpoint that fails every request and reflects its headers in the error."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reflected = {"message": f"upstream rejected request with Authorization: "
                                        f"{self.headers.get('Authorization')} (api_key={SECRET})",
                             "type": "server_error", "headers": dict(self.headers)}
                body = json.dumps({"error": reflected}).encode()
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[EchoingErrors]:
    server = EchoingErrors()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_key_echoed_by_a_failing_endpoint_reaches_no_artifact(project: LlmProject, endpoint: EchoingErrors,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTED_KEY", SECRET)
    project.write("llmops.yaml", "environments:\n  dev:\n    checks:\n      - '*: errors == 0'\n")
    project.suite("qa", "cases:\n  - id: one\n    input: hello\n    checks: [contains: hello]\n"
                        "  - id: two\n    input: bye\n    checks: [contains: bye]\n")
    spec = f"openai:m@{endpoint.base_url}?api_key_env=PLANTED_KEY&max_retries=1"
    result = project.run_subprocess(f"--llm-model={spec}", "--llm-gate-env=dev", "-p", "no:cacheprovider")
    assert result.ret != 0
    outcomes = {case["id"]: case["outcome"] for case in project.report()["cases"]}
    assert outcomes == {"one": "error", "two": "error"}  # the outage is an error, never an answer
    shown = result.stdout.str() + result.stderr.str()
    assert "HTTP 500" in shown and "***" in shown  # the error is reported, the key is not
    leaks = [str(path) for path in project.path.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert SECRET not in shown and leaks == []
    for part in ("7f3a9c1e5b2d4068", "Bearer sk-"):
        assert part not in shown, part


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
    ('{"api_key": "k-123456"}', '{"api_key": "***"}'),
    ("api-key=zzz9999, next", "api-key=***, next"),
    (f"the key {SECRET} was wrong", "the key sk-*** was wrong"),
    ("no secret here", "no secret here"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_removes_the_configured_key_whatever_its_shape() -> None:
    assert redact("token=plainsecretvalue!", ["plainsecretvalue"]) == "token=***!"
    assert redact("short ab", ["ab"]) == "short ab"  # too short to be a key: left alone
