"""Retries against a real server: a loopback proxy in front of llama.cpp injects 429 and 503."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from pytest_llmops.providers.base import GenerationParams, GenerationRequest, InfraError
from pytest_llmops.providers.openai_provider import OpenAIProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow


STALL_TIMEOUT_S = 8  # the client's timeout in the stall test; the proxy stalls twice as long

BROKEN_BODIES = {
    "malformed": ("application/json", b'{"id": "x", "choices": [{"message": {"content": "4"'),  # cut mid-JSON
    "empty": ("application/json", b"{}"),
    "no_choices": ("application/json", b'{"id": "x", "object": "chat.completion", "created": 0, '
                                      b'"model": "smollm2", "choices": []}'),
    "html": ("text/html", b"<html><body>502 Bad Gateway</body></html>"),
}


class FaultyProxy:
    """Forwards to ``upstream`` after answering the first requests with the given faults.

    A fault is an HTTP status (429, 503, 400...), a broken HTTP 200 body (``BROKEN_BODIES``),
    ``reset`` (the connection closes without an answer), ``stall`` (no answer before the
    client's timeout, ``STALL_TIMEOUT_S``), ``wrong_model`` or ``no_finish`` (the real answer, rewritten), or
    ``drip`` (the real answer, sent a few bytes at a time: slow, but whole).
    """

    def __init__(self, upstream: str, failures: list[int | str]) -> None:
        self.failures = list(failures)
        self.seen: list[int | str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = proxy.failures.pop(0) if proxy.failures else None
                if isinstance(fault, int):
                    proxy.seen.append(fault)
                    self._send(fault, "application/json", b'{"error": {"message": "injected", "type": "server_error"}}')
                    return
                if fault in BROKEN_BODIES:
                    proxy.seen.append(fault)
                    self._send(200, *BROKEN_BODIES[fault])
                    return
                if fault == "reset":
                    proxy.seen.append(fault)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "stall":
                    proxy.seen.append(fault)
                    time.sleep(STALL_TIMEOUT_S * 2)  # past the client's timeout
                    return
                request = urllib.request.Request(upstream.rstrip("/") + self.path.removeprefix("/v1"), data=body,
                                                 headers={"Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(request, timeout=120) as response:
                    payload = response.read()
                proxy.seen.append(fault or 200)
                if fault in ("wrong_model", "no_finish"):
                    data = json.loads(payload)
                    if fault == "wrong_model":
                        data["model"] = "another-model-7b"
                    else:
                        data["choices"][0]["finish_reason"] = None
                    payload = json.dumps(data).encode()
                self._send(200, "application/json", payload, drip=fault == "drip")

            def _send(self, status: int, content_type: str, payload: bytes, drip: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                step = 16 if drip else len(payload) or 1
                for start in range(0, len(payload), step):
                    self.wfile.write(payload[start:start + step])
                    self.wfile.flush()
                    if drip:
                        time.sleep(0.01)

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

    def make(failures: list[int | str]) -> FaultyProxy:
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


@pytest.mark.parametrize("fault", ["malformed", "empty", "no_choices", "html", "reset", "stall", "wrong_model",
                                   "no_finish", 500])
def test_every_endpoint_fault_ends_with_the_real_answer_after_a_retry(make_proxy, fault: int | str) -> None:
    proxy = make_proxy([fault])
    # A short timeout only where the fault is a stall: the real answer must still fit in it on a busy machine.
    timeout = STALL_TIMEOUT_S if fault == "stall" else 120
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=2&timeout={timeout}"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert not isinstance(result, InfraError), result
    assert "4" in result.text and result.finish_reason  # the model's own answer, never the broken body
    assert proxy.seen == [fault, 200]


@pytest.mark.parametrize("fault", ["malformed", "wrong_model", "no_finish"])
def test_a_fault_that_persists_is_an_infra_error_never_an_answer(make_proxy, fault: str) -> None:
    proxy = make_proxy([fault] * 3)
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=2"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert isinstance(result, InfraError) and "gave up after 3 attempts" in str(result)


def test_a_slow_drip_is_a_whole_answer(make_proxy) -> None:
    proxy = make_proxy(["drip"])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=0"))
    (result,) = provider.generate_batch([REQUEST])
    assert not isinstance(result, InfraError) and "4" in result.text
    assert proxy.seen == ["drip"]
