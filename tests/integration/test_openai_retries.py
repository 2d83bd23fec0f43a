"""Retries against a real server: a loopback proxy in front of llama.cpp injects 429 and 503."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest, InfraError
from pytest_llmops.providers.openai_provider import OpenAIProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow


class FaultyProxy:
    """Forwards to ``upstream`` after answering the first requests with the given error statuses."""

    def __init__(self, upstream: str, failures: list[int]) -> None:
        self.failures = list(failures)
        self.seen: list[int] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.failures:
                    status = proxy.failures.pop(0)
                    proxy.seen.append(status)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "injected", "type": "server_error"}}')
                    return
                request = urllib.request.Request(upstream.rstrip("/") + self.path.removeprefix("/v1"), data=body,
                                                 headers={"Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(request, timeout=120) as response:
                    payload = response.read()
                    proxy.seen.append(response.status)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_proxy(llama_server) -> Iterator:
    proxies: list[FaultyProxy] = []

    def make(failures: list[int]) -> FaultyProxy:
        proxies.append(FaultyProxy(llama_server.base_url, failures))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


REQUEST = GenerationRequest.prompt("What is 2+2? Answer with a number only.", params=GenerationParams(max_new_tokens=8))


def test_429_and_503_are_retried_then_answered(make_proxy) -> None:
    proxy = make_proxy([429, 503])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=3"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert not isinstance(result, InfraError)
    assert "4" in result.text
    assert proxy.seen == [429, 503, 200]


def test_exhausted_retries_are_an_infra_error(make_proxy) -> None:
    proxy = make_proxy([503, 503, 503])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=2"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert isinstance(result, InfraError)
    assert "gave up after 3 attempts" in str(result) and "503" in str(result)


def test_client_errors_are_not_retried(make_proxy) -> None:
    proxy = make_proxy([400])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=3"))
    (result,) = provider.generate_batch([REQUEST])
    assert isinstance(result, InfraError) and "400" in str(result)
    assert proxy.seen == [400]
