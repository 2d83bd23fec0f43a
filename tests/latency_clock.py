"""A provider with synthetic, deterministic timings for testing the latency kind (no model, no clock)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_llmops.hookspecs import hookimpl
from pytest_llmops.providers.base import GenerationRequest, InfraError
from pytest_llmops.suites.latency.timing import TimedGeneration
from pytest_llmops.testing import EchoProvider

CONFTEST = "from latency_clock import llmops_register_providers  # noqa: F401\n"


class ClockProvider(EchoProvider):
    """``clock:MS``: TTFT of MS milliseconds (times 1.0 .. 1.6 by request index), 2 ms per later token.

    A prompt containing ``INFRA_FAIL`` raises an infra error; ``NO_FINISH`` ends without a
    finish_reason (a stream cut short).
    """

    def stream_timed(self, request: GenerationRequest, max_new_tokens: int, fixed_output: bool) -> TimedGeneration:
        user = request.messages[-1][1]
        if "INFRA_FAIL" in user:
            raise InfraError(f"{self.alias}: simulated endpoint failure")
        ttft = float(self.spec.target) * (1 + (request.sample_index % 7) / 10) / 1000
        times = [ttft + 0.002 * k for k in range(max_new_tokens)]
        return TimedGeneration(token_times=times, end=times[-1] + 0.0005, text="tok " * max_new_tokens,
                               output_tokens=max_new_tokens,
                               finish_reason=None if "NO_FINISH" in user else "length")

    def describe(self) -> dict[str, Any]:
        return {"provider": "clock", "device": "cpu", "gpu": None, "dtype": "float32"}


@hookimpl
def llmops_register_providers(register: Callable[..., None]) -> None:
    register("echo", EchoProvider, form="echo:NAME")
    register("clock", ClockProvider, form="clock:MS")
