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

import dataclasses
import hashlib
import os
import time
from typing import Any, Callable, Sequence

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.core.specs import ModelSpec
from pytest_llmops.core.specs import parse_spec


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
        # LLMOPS_ECHO_DELAY: seconds per batch, so a test can kill a run in the middle of generating.
        time.sleep(float(os.environ.get("LLMOPS_ECHO_DELAY", "0") or 0))
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
            # Whitespace words are the echo model's tokens: deterministic counts for token and cost tests.
            prompt_words = sum(len(content.split()) for _, content in request.messages)
            out.append(Generation(text=text, output_tokens=len(text.split()), finish_reason="stop",
                                  batch_size=len(requests), input_tokens=prompt_words))
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


class DegradingProvider:
    """Wraps another provider and replaces a fixed share of its answers with nonsense.

    ``--llm-model='degrade:smollm2?rate=0.3'`` (the target is the wrapped model's spec) is a
    deliberately worse candidate: which answers are corrupted depends only on the request,
    so the same cases are corrupted on every run. Used to check that a regression gate
    catches a real drop.
    """

    def __init__(self, spec: ModelSpec, create: Callable[[ModelSpec], Any]) -> None:
        self.spec = spec
        self.alias = spec.alias
        try:
            self.rate = float(spec.options.get("rate", "0.3"))
        except ValueError:
            raise ValueError(f"degrade: rate must be a number in [0, 1], got {spec.options['rate']!r}") from None
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"degrade: rate must be in [0, 1], got {self.rate}")
        # A wrapper provider (registered with wrapper=True): the registry makes the inner model,
        # served through the run's cache, so the plain model's answers are generated once.
        self.inner: Any = create(parse_spec(spec.target))

    def load(self) -> None:
        if hasattr(self.inner, "load"):
            self.inner.load()

    @property
    def load_seconds(self) -> float:
        return float(getattr(self.inner, "load_seconds", 0.0))

    def fingerprint(self) -> str:
        return hashlib.sha256(f"degrade|{self.rate}|{self.inner.fingerprint()}".encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "provider": "degrade", "degrade_rate": self.rate}

    def corrupts(self, request: GenerationRequest) -> bool:
        digest = hashlib.sha256(request.content_key().encode()).hexdigest()
        return int(digest[:8], 16) / 0x100000000 < self.rate

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        out = self.inner.generate_batch(requests)
        for index, (request, result) in enumerate(zip(requests, out)):
            if isinstance(result, Generation) and self.corrupts(request):
                # The prompt was read all the same: its tokens are kept, the answer's are the nonsense's.
                out[index] = dataclasses.replace(result, text="zzz qqq", output_tokens=2, finish_reason="stop",
                                                 cached=False)
        return out

    def close(self) -> None:
        self.inner.close()


@hookimpl(specname="llmops_register_providers")
def register_test_providers(register: Callable[..., None]) -> None:
    """An ``llmops_register_providers`` implementation adding ``echo:NAME`` and ``degrade:SPEC?rate=R``."""
    register("echo", EchoProvider, form="echo:NAME")
    register("degrade", DegradingProvider, form="degrade:MODEL_SPEC?rate=0.3", wrapper=True)
