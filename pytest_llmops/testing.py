"""A fast, deterministic in-process provider for testing pytest-llmops itself and for benchmarks.

Register it from a ``conftest.py``::

    from pytest_llmops.testing import register_echo_provider as llmops_register_providers

and use ``--llm-model=echo:NAME``. The answer is ``"echo: <last user message>"``; a user
message containing ``INFRA_FAIL`` gives an :class:`InfraError` instead, so infra handling
can be tested without a network. Calls are counted in ``EchoProvider.calls`` and, when the
``LLMOPS_ECHO_LOG`` environment variable names a file, appended there one line per request
(so tests can see what was generated versus served from the cache, across processes).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Callable, Sequence

from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.specs import ModelSpec


class EchoProvider:
    """Answers instantly and deterministically; no model, no network."""

    calls = 0

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.alias = spec.alias

    def fingerprint(self) -> str:
        return hashlib.sha256(f"echo|{self.spec.target}".encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"provider": "echo", "device": "cpu", "gpu": None}

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        EchoProvider.calls += len(requests)
        log = os.environ.get("LLMOPS_ECHO_LOG")
        out: list[Generation | InfraError] = []
        lines = []
        for request in requests:
            user = [content for role, content in request.messages if role == "user"][-1]
            lines.append(user.replace("\n", " "))
            if "INFRA_FAIL" in user:
                out.append(InfraError(f"{self.alias}: simulated endpoint failure"))
                continue
            text = f"echo: {user}"[: max(1, request.params.max_new_tokens * 8)]
            out.append(Generation(text=text, output_tokens=len(text.split()), finish_reason="stop",
                                  batch_size=len(requests)))
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.writelines(line + "\n" for line in lines)
        return out

    def close(self) -> None:
        pass


@hookimpl
def register_echo_provider(register: Callable[..., None]) -> None:
    """An ``llmops_register_providers`` implementation adding ``echo:NAME``."""
    register("echo", EchoProvider, form="echo:NAME")
