"""A real OpenAI-compatible server on loopback: ``python -m llama_cpp.server`` serving the
embedded SmolLM2 GGUF. Used by the integration tests, the quantization demo and benchmarks.

llama.cpp's server comes from the ``dev`` extra (``llama-cpp-python[server]``); it is never
needed by the plugin itself.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from pytest_llmops.providers.model_store import smollm2_gguf_path


class LlamaServerUnavailable(RuntimeError):
    """``llama-cpp-python[server]`` is not installed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """A running llama.cpp server process serving the SmolLM2 GGUF as model ``smollm2``.

    ``interrupt_requests=False`` matters: at llama.cpp's default a new request cuts any
    stream in flight short, which would turn concurrent requests into truncated answers.
    """

    def __init__(self, log_path: Path, interrupt_requests: bool = False, model_alias: str = "smollm2",
                 n_ctx: int = 2048, n_threads: int = 2, n_threads_batch: int | None = None) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LlamaServerUnavailable("llama-cpp-python[server] is not installed (pip install -e '.[dev]')")
        self.port = free_port()
        self.model_alias = model_alias
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf_path()),
                "--model_alias", model_alias, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(n_ctx), "--n_threads", str(n_threads),
                "--interrupt_requests", "True" if interrupt_requests else "False"]
        if n_threads_batch is not None:
            # Prompt evaluation uses its own thread count (llama.cpp's default: every CPU); on a
            # shared, oversubscribed machine its spinning threads can stall a prompt for seconds.
            args += ["--n_threads_batch", str(n_threads_batch)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def spec(self) -> str:
        """The ``--llm-model`` spec of this server (no API key: llama.cpp needs none)."""
        return f"openai:{self.model_alias}@{self.base_url}"

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

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
