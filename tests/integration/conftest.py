"""Fixtures for integration tests with real parts: the embedded SmolLM2 and a real
OpenAI-compatible server (``python -m llama_cpp.server``) on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmops.integrations.llama_server import LlamaServer as _LlamaServer
from pytest_llmops.integrations.llama_server import LlamaServerUnavailable


class LlamaServer(_LlamaServer):
    """The package's server, skipped (or failed under LLMOPS_REQUIRE_SERVER=1) when not installed."""

    def __init__(self, log_path: Path, interrupt_requests: bool = False) -> None:
        try:
            super().__init__(log_path, interrupt_requests=interrupt_requests)
        except LlamaServerUnavailable as exc:
            if os.environ.get("LLMOPS_REQUIRE_SERVER") == "1":
                pytest.fail(str(exc))
            pytest.skip(str(exc))


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
