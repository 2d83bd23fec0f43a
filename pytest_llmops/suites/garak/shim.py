"""A loopback OpenAI-compatible endpoint that answers with the run's own subject.

garak runs in its own process (often its own interpreter), so it cannot call the model
object of this pytest run. Instead it talks to this small server through its
``openai.OpenAICompatible`` generator, and every chat completion is answered by
``generate(messages)``: the engine of this run, with the subject's provider, the suite's
generation settings and the response cache. So garak tests exactly the subject the rest
of the run tests, whatever its provider (the embedded SmolLM2 through transformers, an
``openai:`` endpoint, a plugin's provider), and no API key is handed to garak.

Requests are answered one at a time, on the thread that runs the test (garak's ``parallel_requests`` stays off). garak's own
sampling parameters (``temperature``, ``max_tokens``, ``stop``...) are ignored: the suite's
``generation:`` settings apply, as for every other suite. An infra error of the subject is
answered with HTTP 400, which garak records as a missing output (a "none") without
retrying; the caller reads ``infra_errors`` afterwards.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any

#: ``generate(messages) -> (text, finish_reason, cached)``; raises to signal an infra error
Generate = Callable[[list[dict[str, str]]], "tuple[str, str | None, bool]"]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


class SubjectShim:
    """``with SubjectShim(generate, model="smollm2") as shim:`` serves ``shim.base_url``.

    The HTTP server runs on a thread of its own, but ``generate`` is only ever called from
    :meth:`serve_pending`, on the caller's thread, while garak runs.
    """

    def __init__(self, generate: Generate, model: str) -> None:
        self.generate = generate
        self.model = model
        self.requests = 0
        self.cached = 0
        self.infra_errors: list[str] = []
        self._jobs: queue.Queue[dict[str, Any]] = queue.Queue()
        self._closing = False
        shim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # garak's own log has the requests; keep pytest's output clean

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                # garak checks that the base URL answers before it starts; /models for completeness
                self._send(200, {"object": "list", "data": [{"id": shim.model, "object": "model"}]})

            def do_POST(self) -> None:
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"only /chat/completions is served, not {self.path}"}})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}")
                    messages = [{"role": str(m.get("role", "user")), "content": _content_text(m.get("content"))}
                                for m in body.get("messages") or []]
                    if not messages:
                        raise ValueError("no messages")
                except (ValueError, AttributeError) as exc:
                    self._send(400, {"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}})
                    return
                self._send(*shim.answer(messages))

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, name="llmops-garak-shim", daemon=True)
        self._thread.start()

    def answer(self, messages: list[dict[str, str]]) -> tuple[int, dict[str, Any]]:
        """Called on the server thread: hand the request to the thread that owns the subject."""
        job: dict[str, Any] = {"messages": messages, "done": threading.Event()}
        self._jobs.put(job)
        while not job["done"].wait(0.5):
            if self._closing:  # garak was stopped while this request waited
                return 503, {"error": {"message": "the test run stopped serving", "type": "server_error"}}
        return job["reply"]

    def serve_pending(self, wait: float = 0.2) -> None:
        """Answer the queued requests, waiting up to ``wait`` seconds for one.

        Called on the thread that owns the engine (the test's): the subject's provider and
        the sqlite response cache are used only from the thread that created them.
        """
        try:
            job = self._jobs.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            job["reply"] = self._generate(job["messages"])
            job["done"].set()
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return

    def _generate(self, messages: list[dict[str, str]]) -> tuple[int, dict[str, Any]]:
        self.requests += 1
        try:
            text, finish_reason, cached = self.generate(messages)
        except Exception as exc:  # noqa: BLE001 - any failure of the subject is an infra error here
            self.infra_errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return 400, {"error": {"message": f"the subject could not answer: {exc}",
                                   "type": "invalid_request_error"}}
        self.cached += bool(cached)
        return 200, {
            "id": f"llmops-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason or "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def close(self) -> None:
        self._closing = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SubjectShim:  # noqa: PYI034 - a final class in practice
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
