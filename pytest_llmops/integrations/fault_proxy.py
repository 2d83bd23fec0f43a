"""A fault-injecting HTTP proxy on loopback in front of an OpenAI-compatible server.

It answers some chat-completion requests with a fault instead of the server's answer, so a
test or a benchmark can check that every fault ends with the real answer (after retries) or
an infra error, never with a broken answer recorded and judged. Used by the endpoint-fault
integration tests and ``benchmarks/endpoint_faults.py``; it needs nothing beyond the
standard library.

Faults:

- an HTTP status (``429``, ``500``, ``503``, ``400``...), with a JSON error body;
- a broken HTTP 200 body (:data:`BROKEN_BODIES`: cut mid-JSON, ``{}``, no choices, an HTML page);
- ``reset`` (the connection closes without an answer), ``stall`` (no answer for
  ``stall_s`` seconds, past the client's timeout);
- ``wrong_model`` or ``no_finish``: the server's real answer, rewritten to name another model
  or to lack its ``finish_reason``; ``drip``: the real answer, a few bytes at a time;
- for streamed requests: ``stream_cut`` (the connection closes after a few events),
  ``stream_stall`` (the stream stops sending after a few events), ``stream_no_finish`` (every
  event's ``finish_reason`` removed).

Which request gets which fault is either a fixed list (the first requests, in arrival order)
or :func:`seeded_faults`, which draws from the request body and how often that body was seen,
so a run's faults do not depend on the order concurrent requests arrive in.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

Fault = Union[int, str]
#: Given a request's body and how many times that body was seen before, the fault to inject (None: forward).
FaultChooser = Callable[[bytes, int], Union[Fault, None]]

BROKEN_BODIES = {
    "malformed": ("application/json", b'{"id": "x", "choices": [{"message": {"content": "4"'),  # cut mid-JSON
    "empty": ("application/json", b"{}"),
    "no_choices": ("application/json", b'{"id": "x", "object": "chat.completion", "created": 0, '
                                      b'"model": "smollm2", "choices": []}'),
    "html": ("text/html", b"<html><body>502 Bad Gateway</body></html>"),
}
STREAM_FAULTS = ("stream_cut", "stream_stall", "stream_no_finish")
_EVENTS_BEFORE_A_STREAM_FAULT = 3


def seeded_faults(seed: int, rates: dict[Fault, float]) -> FaultChooser:
    """A chooser that injects each fault with its rate (the rates sum to at most 1), drawn from
    ``seed``, the request body and the attempt number: the same run sees the same faults."""
    if sum(rates.values()) > 1:
        raise ValueError(f"fault rates sum to more than 1: {rates}")

    def choose(body: bytes, attempt: int) -> Fault | None:
        digest = hashlib.sha256(f"{seed}|{attempt}|".encode() + body).digest()
        draw = random.Random(digest).random()
        for fault, rate in rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None

    return choose


class FaultyProxy:
    """Forwards ``POST /v1/...`` to ``upstream`` unless a fault is due; ``seen`` lists what each
    request got (the fault, or 200 for a plain forward) in arrival order."""

    def __init__(self, upstream: str, failures: Sequence[Fault] = (), chooser: FaultChooser | None = None,
                 stall_s: float = 16.0, remember_answers: bool = False) -> None:
        self.upstream = upstream.rstrip("/")
        # A benchmark repeating one run under many fault seeds asks the (deterministic) server once per request.
        self.answers: dict[bytes, bytes] | None = {} if remember_answers else None
        self.failures = list(failures)
        self.chooser = chooser
        self.stall_s = stall_s
        self.seen: list[Fault] = []
        self._bodies: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def restart(self, chooser: FaultChooser | None) -> None:
        """Start over with ``chooser``: attempt counts and ``seen`` cleared, remembered answers kept."""
        with self._lock:
            self.chooser, self.seen, self.failures = chooser, [], []
            self._bodies.clear()

    def next_fault(self, body: bytes) -> Fault | None:
        with self._lock:
            attempt = self._bodies[body]
            self._bodies[body] += 1
            if self.failures:
                return self.failures.pop(0)
            return self.chooser(body, attempt) if self.chooser is not None else None

    def note(self, what: Fault) -> None:
        with self._lock:
            self.seen.append(what)

    def forward(self, path: str, body: bytes) -> Any:
        """The upstream response (a file-like object) to ``body``."""
        request = urllib.request.Request(self.upstream + path.removeprefix("/v1"), data=body,
                                         headers={"Content-Type": "application/json"}, method="POST")
        return urllib.request.urlopen(request, timeout=300)

    def answer(self, path: str, body: bytes) -> bytes:
        """The upstream answer to a plain (not streamed) request, remembered when asked to."""
        if self.answers is not None and body in self.answers:
            return self.answers[body]
        with self.forward(path, body) as response:
            payload = response.read()
        if self.answers is not None:
            self.answers[body] = payload
        return payload

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_for(proxy: FaultyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fault = proxy.next_fault(body)
            streamed = _is_stream(body)
            if fault in STREAM_FAULTS and not streamed:
                fault = None  # a stream fault on a plain request: nothing to cut
            proxy.note(fault if fault is not None else 200)
            if isinstance(fault, int):
                self._send(fault, "application/json", b'{"error": {"message": "injected", "type": "server_error"}}')
            elif fault in BROKEN_BODIES:
                self._send(200, *BROKEN_BODIES[str(fault)])
            elif fault == "reset":
                self._reset()
            elif fault == "stall":
                time.sleep(proxy.stall_s)
            elif streamed:
                self._relay_stream(body, fault)
            else:
                payload = proxy.answer(self.path, body)
                if fault in ("wrong_model", "no_finish"):
                    payload = _rewritten(payload, str(fault))
                self._send(200, "application/json", payload, drip=fault == "drip")

        def _relay_stream(self, body: bytes, fault: Fault | None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            events = 0
            with proxy.forward(self.path, body) as response:
                for line in response:
                    if line.startswith(b"data:"):
                        events += 1
                        if events > _EVENTS_BEFORE_A_STREAM_FAULT and fault == "stream_cut":
                            self._reset()
                            return
                        if events > _EVENTS_BEFORE_A_STREAM_FAULT and fault == "stream_stall":
                            time.sleep(proxy.stall_s)
                            return
                        if fault == "stream_no_finish":
                            line = _event_without_finish(line)
                    self.wfile.write(line)
                    self.wfile.flush()

        def _reset(self) -> None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

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

    return Handler


def _is_stream(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("stream"))
    except (ValueError, AttributeError):
        return False


def _rewritten(payload: bytes, fault: str) -> bytes:
    data = json.loads(payload)
    if fault == "wrong_model":
        data["model"] = "another-model-7b"
    else:
        data["choices"][0]["finish_reason"] = None
    return json.dumps(data).encode()


def _event_without_finish(line: bytes) -> bytes:
    text = line[len(b"data:"):].strip()
    if text == b"[DONE]":
        return line
    data = json.loads(text)
    for choice in data.get("choices", []):
        choice["finish_reason"] = None
    return b"data: " + json.dumps(data).encode() + b"\n"
