"""Fixtures for integration tests with real parts: the embedded SmolLM2 and a real
OpenAI-compatible server (``python -m llama_cpp.server``) on a free loopback port."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from pytest_llmops.providers.model_store import smollm2_gguf_path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """A running llama.cpp server process serving the SmolLM2 GGUF as model ``smollm2``."""

    def __init__(self, log_path: Path, interrupt_requests: bool = False) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            message = "llama-cpp-python[server] is not installed (pip install -e '.[dev]')"
            if os.environ.get("LLMOPS_REQUIRE_SERVER") == "1":
                pytest.fail(message)
            pytest.skip(message)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf_path()),
                "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", "2048", "--n_threads", "2",
                "--interrupt_requests", "True" if interrupt_requests else "False"]
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}; "
                                   f"log: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if json.load(response).get("data"):
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A real OpenAI-compatible server on loopback that finishes every stream it starts."""
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def interrupting_server(tmp_path: Path) -> Iterator[LlamaServer]:
    """A server left at llama.cpp's default, where a new request cuts any stream in flight short."""
    server = LlamaServer(tmp_path / "server.log", interrupt_requests=True)
    yield server
    server.stop()
